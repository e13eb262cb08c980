"""``--retry-delay`` takes every Go duration, up to Go's maximum (292 years).

skopeo sleeps whatever it was given. ``time.sleep`` cannot take more than its clock can
represent: a delay of ``2562047h`` used to end the retry in an OverflowError (or EINVAL)
traceback instead of a wait. The wait is now bounded at about three years, which is a wait
all the same.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from trustcopy.types import DEFAULT_RETRY_DELAY, MAX_FIXED_RETRY_DELAY, SystemContext, retry_delay_of


@pytest.mark.parametrize(("asked", "slept"), [
    (None, DEFAULT_RETRY_DELAY), (0.0, 0.0), (-3.0, 0.0), (2.5, 2.5),
    (9223372036.854775807, MAX_FIXED_RETRY_DELAY), (1e300, MAX_FIXED_RETRY_DELAY),
])
def test_retry_delay_is_bounded_to_what_sleep_can_take(asked: float | None, slept: float) -> None:
    assert retry_delay_of(asked) == slept
    from trustcopy.copy.blobs import BlobRetry

    assert BlobRetry.for_destination(SystemContext(docker_retry_delay=asked)).delay == slept


def test_sleep_takes_the_bound() -> None:
    """The bound itself is a valid sleep: it starts (and a timer ends it), no OverflowError."""
    import signal

    def interrupt(*_: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(TimeoutError):
            time.sleep(MAX_FIXED_RETRY_DELAY)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("value", ["2562047h47m16.854775807s", "2562047h"])
def test_the_longest_go_retry_delay_waits_instead_of_crashing(run_cli: Any, tmp_path: Any,
                                                               monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """An unreachable registry, one retry: the wait is asked of ``time.sleep`` (recorded here, not
    slept), and the copy ends with the network error, not a traceback."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    policy = tmp_path / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    r = run_cli("--policy", str(policy), "copy", "--retry-times", "1", "--retry-delay", value,
                "--src-tls-verify=false", f"docker://127.0.0.1:{port}/app:1", f"dir:{tmp_path / 'out'}")
    assert r.exit_code == 1, r.stderr
    assert "Traceback" not in r.stderr and "Overflow" not in r.stderr
    assert "Connection refused" in r.stderr
    assert slept == [MAX_FIXED_RETRY_DELAY]
    assert not (tmp_path / "out").exists()
