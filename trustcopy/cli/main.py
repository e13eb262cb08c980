"""The ``trustcopy`` command: entry point, error rendering, signals.

The CLI only parses arguments and calls the library. This module is the one place that
catches :class:`~trustcopy.errors.TrustcopyError`: it prints ``error[code]: message``
(plus a hint) on stderr as one line and exits with the error's status (1, or 2 for
usage). ``--debug`` re-raises so the traceback shows.

Start-up does what the command needs (issue 14): importing this module imports neither
click nor any command. ``trustcopy --version`` prints without them; everything else goes
through the click group in :mod:`trustcopy.cli.app`, which imports a command's module only
when that command runs, and heavy libraries (httpx, rich, gpg) are imported inside the
commands that use them. tests/unit/core/test_startup_imports.py holds this in place.

Global options are accepted before the command (``trustcopy --policy P copy …``, as
skopeo) and after it (``trustcopy copy --policy P …``); a value given after the command
wins.
"""

from __future__ import annotations

import sys

from trustcopy import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up, see above)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from trustcopy.errors import TrustcopyError

#: Arguments that only ask for the version: answered before click is imported.
_VERSION_ONLY = (["--version"], ["-v"])

#: Net allocations of tracked objects before a CLI process's first cyclic collection
#: (Python's default threshold is 700). A re-push allocates about 45 000 before it ends.
START_GEN0_THRESHOLD = 100_000


def _handle(exc: TrustcopyError, debug: bool) -> int:
    from trustcopy.cli.render import render_error

    render_error(exc)
    if debug:
        raise exc
    if exc.exit_status == 1 and is_not_found_image_error(exc):
        return 2
    return exc.exit_status


def is_not_found_image_error(exc: TrustcopyError) -> bool:
    """Whether newer skopeo (1.14+, ``isNotFoundImageError``) exits 2 for this error instead of 1.

    Those are: a registry answering ``MANIFEST_UNKNOWN`` for the image's manifest, and an
    ``oci:``/``oci-archive:`` image name absent from the layout's index. A missing layout
    directory, a ``docker-archive:`` tag not in the archive, a missing ``dir:`` image and a
    repository without tags stay 1, as in skopeo. (``delete`` of a registry image that does
    not exist is 1 too: :func:`trustcopy.cli.registry.delete_cmd` makes it a plain
    TransportError, as containers/image's ``deleteImage`` returns a plain error.)
    """
    from trustcopy.errors import ImageNotFoundError

    if not isinstance(exc, ImageNotFoundError):
        return False
    if "MANIFEST_UNKNOWN" in exc.context.get("registry_codes", ()):
        return True
    # trustcopy.transports.oci_layout.choose_descriptor: the named image is not in index.json
    # (oci-archive: reads its layout through the same function).
    return bool(exc.context.get("absent_from_index"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (tests call this in-process).

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when None.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args in _VERSION_ONLY:  # what click's eager --version option prints, without click
        sys.stdout.write(f"trustcopy version {__version__}\n")
        sys.stdout.flush()
        return 0
    debug = "--debug" in args
    redact = sys.modules.get("trustcopy.redact")  # (not imported for it: a local copy never loads it)
    if redact is not None:
        redact.forget_secrets()  # secrets of an earlier in-process command are not this one's
    # Always: without --debug an unexpected exception (a bug) still prints Python's traceback,
    # and its message may quote a secret (a library's exception chained under it, a URL).
    _install_scrubbing_excepthook()
    previous = _install_sigterm_handler()
    try:
        return _run(args, debug)
    finally:
        import signal

        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            signal.setitimer(signal.ITIMER_REAL, 0)  # cancel a --command-timeout alarm


def _run(args: list[str], debug: bool) -> int:
    import click

    from trustcopy.cli.app import cli
    from trustcopy.errors import CommandTimedOut, TrustcopyError

    try:
        rv = cli.main(args=args, prog_name="trustcopy", standalone_mode=False)
    except TrustcopyError as exc:
        return _handle(exc, debug)
    except CommandTimedOut as exc:
        return _handle(exc.as_error(), debug)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        import io

        from trustcopy.redact import mask_userinfo

        shown = io.StringIO()
        exc.show(file=shown)  # click quotes arguments back ("Got unexpected extra argument (…)")
        sys.stderr.write(mask_userinfo(shown.getvalue()))
        sys.stderr.flush()
        return exc.exit_code
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            # click turns Ctrl-C into Abort (its own "Aborted!", status 1): it is an interruption, 130.
            click.echo("interrupted", err=True)
            return 130
        click.echo("Aborted!", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except _Terminated:
        click.echo("terminated", err=True)
        return 143
    except BrokenPipeError:
        return 1
    return rv if isinstance(rv, int) else 0


def _install_scrubbing_excepthook(*, ours: bool = False) -> None:
    """Print a traceback that reaches the top (``--debug``'s, or a bug's) with every known secret masked.

    The traceback shows the exceptions chained under ours (httpx's, a proxy's 407 reason,
    a library's message) verbatim; Python's own hooks (``sys.excepthook``, and
    ``threading.excepthook`` for a thread's uncaught exception) would print them as they are.
    """
    import contextlib
    import threading

    # Only over Python's own hooks when main() runs in a host program: it keeps its hooks
    # (error reporting, pytest's thread-exception capture). The console script's process is
    # ours (``ours``): there the hooks are replaced whatever a sitecustomize installed
    # (Ubuntu's apport hook prints tracebacks too).
    replace_sys = sys.excepthook is sys.__excepthook__ or (
        ours and not getattr(sys.excepthook, "_trustcopy_scrubbing", False))
    replace_threading = threading.excepthook is threading.__excepthook__ or (
        ours and not getattr(threading.excepthook, "_trustcopy_scrubbing", False))
    if not (replace_sys or replace_threading):
        return

    def scrubbing_hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        import traceback

        from trustcopy.redact import scrub

        with contextlib.suppress(Exception):  # a broken stderr: nothing left to print to
            text = "".join(traceback.format_exception(kind, value, tb))
            sys.stderr.write(scrub(text, headers=True))
            sys.stderr.flush()

    def scrubbing_thread_hook(args: Any) -> None:
        # A thread's uncaught exception goes to threading.excepthook, which prints it unmasked.
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        with contextlib.suppress(Exception):
            sys.stderr.write(f"Exception in thread {name}:\n")
        scrubbing_hook(args.exc_type, args.exc_value, args.exc_traceback)

    scrubbing_hook._trustcopy_scrubbing = True  # type: ignore[attr-defined]
    scrubbing_thread_hook._trustcopy_scrubbing = True  # type: ignore[attr-defined]
    if replace_sys:
        sys.excepthook = scrubbing_hook
    if replace_threading:
        threading.excepthook = scrubbing_thread_hook


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so that destinations clean up their staging."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def _install_sigterm_handler() -> Any:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def defer_first_collection() -> None:
    """Keep the cyclic garbage collector out of start-up; after its first run, restore its thresholds.

    Why: start-up creates tens of thousands of objects that live until the process ends
    (modules, classes, functions, click's parameters). With the default threshold the
    collector walks them some 65 times in a re-push and frees nothing: 8.5 ms of that
    command's 130 ms after interpreter start (in-process timing, median of 30 interleaved
    runs, issue 14). So the first collection waits for :data:`START_GEN0_THRESHOLD`
    allocations; when it has run (for whatever reason, ``gc.collect()`` included), the
    thresholds go back to what they were, and long commands (sync, big pulls) collect as
    before. The console script calls this; in-process callers of :func:`main` (tests,
    library users) keep their own settings.
    """
    import gc

    saved = gc.get_threshold()
    done = False

    def restore(phase: str, _info: dict[str, int]) -> None:
        # Not removed from gc.callbacks here: removing during the collector's loop over
        # that list would make it skip the next callback.
        nonlocal done
        if phase == "stop" and not done:
            done = True
            gc.set_threshold(*saved)

    gc.set_threshold(START_GEN0_THRESHOLD, *saved[1:])
    gc.callbacks.append(restore)


def skip_teardown_at_exit() -> Callable[[int], None]:
    """End the process without tearing the interpreter down; returns the function that records the exit status.

    Why: after a command, Python frees its objects one by one and runs the collector over
    all of them (about 49 000 after a re-push) before the process ends: 25-30 ms of a
    160 ms re-push (interleaved runs, issue 14), for memory the kernel takes back at once.

    The atexit handler registered here runs last (handlers run in reverse order), so before
    it Python has joined the non-daemon threads and run every handler registered after it
    (logging's flush, ``weakref.finalize`` clean-ups such as a temporary GNUPGHOME). It then
    flushes stdout and stderr and ends the process with the recorded status. Destinations
    commit or clean up inside :func:`main`, and files are closed by their ``with`` blocks, so
    nothing trustcopy writes depends on what is skipped: module teardown, the last
    collections, ``__del__`` of objects still alive (which Python does not promise to call),
    and atexit handlers registered before the CLI started (a site hook such as coverage's).
    With no status recorded (:func:`main` raised) or a flush that fails (a closed pipe),
    Python's own exit runs, with its own messages and status.
    """
    import atexit

    recorded: list[int] = []

    def leave() -> None:
        if not recorded:
            return
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # (None when the process started without that descriptor)
                    stream.flush()
        except (OSError, ValueError):
            return
        import os

        os._exit(recorded[0])

    atexit.register(leave)
    return recorded.append


def entrypoint() -> None:
    """Console-script entry point: the process ends here (code that goes on afterwards calls :func:`main`).

    It keeps the collector out of start-up and skips interpreter teardown at the end
    (:func:`defer_first_collection`, :func:`skip_teardown_at_exit`).

    After a failure (an interruption, 130 or 143, an expired ``--command-timeout``, any
    error) the destination has already been cleaned up; a blob worker may still sit in a
    stalled network read or a retry's wait, which interpreter shutdown would wait for (up to
    the read timeout, or a minute of ``Retry-After``). The process ends at once instead.
    """
    defer_first_collection()
    record_status = skip_teardown_at_exit()
    _install_scrubbing_excepthook(ours=True)
    status = main()
    if status != 0:
        import os
        import threading

        if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
            # The exit handlers still run (a temporary GNUPGHOME's removal, logging's flush);
            # only the join of the straggling threads, which interpreter shutdown does first, is skipped.
            import atexit

            run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
            if run_exit_handlers is not None:
                run_exit_handlers()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    record_status(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entrypoint()
