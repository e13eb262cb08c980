"""Review of session 26's later commits, the unit-level findings (see tests/integration/test_review2_s26.py).

- fsutil.deferred_signals with a SIGTERM handler installed outside Python (an embedding
  program's: ``signal.getsignal`` answers None, and ``signal.signal`` cannot put it back);
- errors.py masks ``user:password@`` in the context values callers give (str, list, tuple,
  a str enum), leaving other values as they are.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from trustcopy import fsutil
from trustcopy.errors import TrustcopyError
from trustcopy.reasons import Reason


def _c_handler_for_sigterm(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Make SIGTERM look as it does when a C handler was installed before Python started.

    Python's ``signal`` module then answers None for it (getsignal, and the old handler that
    signal.signal returns), and setting None raises TypeError, as for real.
    """
    real_signal, real_getsignal = signal.signal, signal.getsignal
    outside = {"installed": True}

    def fake_signal(sig: int, handler: Any) -> Any:
        old = real_signal(sig, handler)
        if sig == signal.SIGTERM and outside["installed"]:
            outside["installed"] = False
            return None
        return old

    def fake_getsignal(sig: int) -> Any:
        return None if sig == signal.SIGTERM and outside["installed"] else real_getsignal(sig)

    monkeypatch.setattr(signal, "signal", fake_signal)
    monkeypatch.setattr(signal, "getsignal", fake_getsignal)
    return outside


def test_deferred_signals_leaves_a_handler_installed_outside_python_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """input: ``with deferred_signals():`` while SIGTERM's handler was installed from C (getsignal: None).
    old: the block's end restored ``signal.signal(SIGTERM, None)``: TypeError out of the ``finally``
    (hiding the block's own outcome), and the recording handler stayed, swallowing every later SIGTERM.
    new: SIGTERM is left to its handler (not deferred); SIGINT is deferred and restored as before."""
    real_signal = signal.signal
    saved_term, saved_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    outside = _c_handler_for_sigterm(monkeypatch)
    try:
        with fsutil.deferred_signals():
            assert signal.getsignal(signal.SIGINT) is not saved_int  # deferred
        assert outside["installed"], "the C handler was replaced"
        assert signal.getsignal(signal.SIGINT) is saved_int
    finally:
        real_signal(signal.SIGTERM, saved_term if saved_term is not None else signal.SIG_DFL)
        real_signal(signal.SIGINT, saved_int if saved_int is not None else signal.default_int_handler)


def test_deferred_signals_still_defers_a_python_handlers_signal() -> None:
    """A SIGINT arriving inside the block reaches Python's handler (KeyboardInterrupt) after it, not before."""
    import os

    reached: list[str] = []
    with pytest.raises(KeyboardInterrupt), fsutil.deferred_signals():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("block ran on")
    assert reached == ["block ran on"]


@pytest.mark.parametrize(("value", "expected"), [
    ("docker://user:s3cret@host/app", "docker://***@host/app"),
    (["docker://user:s3cret@host/app", 3], ["docker://***@host/app", 3]),
    (("docker://user:s3cret@host/app",), ("docker://***@host/app",)),
    (Reason.NOT_SIGNED, Reason.NOT_SIGNED),
    (7, 7), (None, None), (True, True),
])
def test_error_context_values_are_masked_by_kind(value: Any, expected: Any) -> None:
    """The kinds of context value the code base passes (str, int, bool, None, list of str, a Reason)."""
    err = TrustcopyError("x", context={"v": value})
    assert err.context["v"] == expected
    assert type(err.context["v"]) is type(expected)
    assert err.rewrapped("y").context == err.context

