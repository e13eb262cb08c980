"""fsutil.deferred_signals: an interruption inside the block is delivered when it ends, never lost."""

from __future__ import annotations

import os
import signal

import pytest

from trustcopy.fsutil import deferred_signals


def test_sigint_inside_the_block_is_raised_after_it() -> None:
    # Python's own handler, whatever the test process inherited: a process started in the
    # background by a non-interactive shell (``cmd &``, as CI runners may) ignores SIGINT.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        reached_end_of_block = False
        with pytest.raises(KeyboardInterrupt), deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            reached_end_of_block = True  # the handler did not run inside the block
        assert reached_end_of_block
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_an_ignored_sigint_stays_ignored() -> None:
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_previous_handler_runs_once_and_is_restored() -> None:
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: calls.append(signum))
    try:
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            assert calls == []
        assert calls == [signal.SIGTERM]
        os.kill(os.getpid(), signal.SIGTERM)
        assert calls == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_nothing_pending_changes_nothing() -> None:
    before = signal.getsignal(signal.SIGINT)
    with deferred_signals():
        pass
    assert signal.getsignal(signal.SIGINT) is before
