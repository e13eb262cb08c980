"""cli.main.skip_teardown_at_exit: the process ends without interpreter teardown, and nothing else changes.

Each case is a fresh interpreter (exit handlers are process-wide). An object whose
``__del__`` prints "teardown" shows whether Python's teardown ran; an exit handler
registered later, a non-daemon thread and two megabytes of buffered stdout show that
what comes before the skipped part still happens.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SCRIPT = r"""
import atexit, sys, threading, time
from trustcopy.cli.main import skip_teardown_at_exit

class Witness:
    def __del__(self):
        sys.stderr.write("teardown\n")

witness = Witness()
witness.cycle = witness  # only the collector or teardown frees it
mode = sys.argv[1]
record = skip_teardown_at_exit()
atexit.register(lambda: sys.stderr.write("later handler ran\n"))

def late_writer():
    time.sleep(0.3)
    sys.stderr.write("thread finished\n")

threading.Thread(target=late_writer).start()
if mode == "closed":
    time.sleep(0.5)  # the reader has gone: what stays in stdout's buffer cannot be flushed
    sys.stdout.write("y")
elif sys.stdout is not None:  # (None: started without a stdout)
    sys.stdout.write("y" * 2_000_000)
if mode == "raise":
    raise RuntimeError("boom")
record(3)
sys.exit(3)
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    """The script in a fresh interpreter, its output captured."""
    return subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_recorded_status_ends_the_process_after_threads_handlers_and_output() -> None:
    r = run("status")
    assert r.returncode == 3
    assert r.stdout == "y" * 2_000_000
    lines = r.stderr.splitlines()
    # The thread was joined and the later handler ran (both before the skipped teardown) ...
    assert lines[:2] == ["thread finished", "later handler ran"]
    # ... and teardown, which would have freed the witness, did not run.
    assert "teardown" not in lines


def test_without_a_recorded_status_python_exits_as_always() -> None:
    r = run("raise")
    assert r.returncode == 1
    assert "RuntimeError: boom" in r.stderr
    assert r.stderr.splitlines()[-1] == "teardown"


@pytest.mark.parametrize("command", [["--version"], ["no-such-command"], ["--policy", "/nonexistent/policy.json",
                                                                          "policy", "lint"]])
def test_the_cli_exits_with_the_status_and_output_it_had_before(command: list[str]) -> None:
    """``python -m trustcopy`` goes through entrypoint; compared with main() run without it."""
    fast = subprocess.run([sys.executable, "-m", "trustcopy", *command], capture_output=True, text=True,
                          timeout=60, check=False)
    plain = subprocess.run([sys.executable, "-c", "import sys; from trustcopy.cli.main import main; "
                            "sys.argv[0] = 'trustcopy'; sys.exit(main(sys.argv[1:]))", *command],
                           capture_output=True, text=True, timeout=60, check=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert fast.returncode == (0 if command == ["--version"] else 2 if command == ["no-such-command"] else 1)


def test_a_closed_pipe_gets_pythons_own_exit() -> None:
    """The flush fails: the handler steps aside and Python reports the broken pipe as it always does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout keeps its buffer
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, "closed"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 120  # Python's status when flushing stdout fails at exit
    assert "BrokenPipeError" in err


def test_a_process_started_without_stdout_ends_with_its_status_and_no_complaint() -> None:
    r = subprocess.run(["sh", "-c", 'exec "$0" -c "$1" status >&-', sys.executable, _SCRIPT], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 3
    assert r.stderr.splitlines() == ["thread finished", "later handler ran"]
