"""Options shared by every command, and the small helpers commands use.

Every command decorates itself with :func:`add_global_options` so that skopeo's global
flags work after the command name too; the values land in the one
:class:`GlobalOptions` object of the click context (a later value wins).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

import click

from trustcopy.errors import CommandTimedOut, UsageError
from trustcopy.lazy import dataclass, resolve_dataclass

if TYPE_CHECKING:
    from trustcopy.types import SystemContext

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    """skopeo's global flags (plus --require-signed), merged from before and after the command."""

    policy: str | None = None
    insecure_policy: bool = False
    registries_d: str | None = None
    registries_conf: str | None = None
    override_arch: str | None = None
    override_os: str | None = None
    override_variant: str | None = None
    command_timeout: float | None = None
    tmpdir: str | None = None
    debug: bool = False
    require_signed: bool = False
    user_agent_prefix: str | None = None
    #: skopeo's deprecated global ``--tls-verify`` (given before the command only): the
    #: default for every image's ``--[src-|dest-]tls-verify``, which win when given.
    global_tls_verify: bool | None = None

    def update(self, values: dict[str, Any]) -> None:
        """Take every value the user actually gave (None/False mean "not given")."""
        for key, value in values.items():
            if value is None or value is False:
                continue
            setattr(self, key, value)

    def system_context(self) -> SystemContext:
        """The transport settings these flags imply, carrying the command's registry session.

        Every context of one command carries the same RegistrySession, so the source and
        the destination of a copy (and the images of one command) share pings, TLS
        contexts, connection pools and mount candidates. The session is closed when the
        command ends (the root click context closes).
        """
        from trustcopy.types import SystemContext

        ctx = SystemContext(
            override_arch=self.override_arch,
            override_os=self.override_os,
            override_variant=self.override_variant,
            registries_d=self.registries_d,
            registries_conf=self.registries_conf,
            tmp_dir=self.tmpdir,
            command_timeout=self.command_timeout,
            registry_session=self._registry_session(),
        )
        if self.global_tls_verify is not None:
            ctx.docker_tls_verify = self.global_tls_verify
            ctx.docker_tls_verify_explicit = True
        return ctx

    def _registry_session(self) -> object:
        """The command's RegistrySession, made on first use (cheap: no pool opens until a request)."""
        session = self.__dict__.get("_session")
        if session is None:
            from trustcopy.transports.docker.session import RegistrySession

            session = self.__dict__["_session"] = RegistrySession(self.user_agent_prefix)
            ctx = click.get_current_context(silent=True)
            if ctx is not None:
                ctx.find_root().call_on_close(session.close)
        return session


GLOBAL_OPTION_NAMES = frozenset(f.name for f in fields(resolve_dataclass(GlobalOptions)))


#: Go's time.Duration is int64 nanoseconds: ParseDuration refuses anything longer (2562047h47m16.854775807s).
_MAX_DURATION_NS = (1 << 63) - 1
#: Go's unit table, both micro signs included (U+00B5 and U+03BC), as time.ParseDuration.
_DURATION_UNITS_NS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9,
                      "m": 60 * 10**9, "h": 3600 * 10**9}


def _go_fraction(digits: str) -> tuple[int, float]:
    """The digits after a duration's ``.`` as Go's time package keeps them: an integer and its
    scale (a float), digits past int64's range dropped rather than refused."""
    x, scale = 0, 1.0
    for c in digits:
        if x > _MAX_DURATION_NS // 10:
            break
        y = x * 10 + int(c)
        if y > 1 << 63:
            break
        x, scale = y, scale * 10
    return x, scale


def go_duration_ns(text: str) -> int | None:
    """Nanoseconds as Go's ``time.ParseDuration`` reads ``text``, or None where Go refuses it.

    Go's arithmetic exactly: a fraction is scaled in float64 and truncated to whole nanoseconds
    (``0.5ns`` is 0), ASCII digits only, ``+0`` and ``-0`` are zero, and the total must fit int64.
    """
    import re

    s, negative = text, False
    if s[:1] in ("+", "-"):
        s, negative = s[1:], s[0] == "-"
    if s == "0":
        return 0
    if not s:
        return None
    total, pos = 0, 0
    while pos < len(s):
        m = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)").match(s, pos)
        assert m is not None  # (every part is optional)
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        pos = m.end()
        if not whole and not frac:  # no digits (".s"), or no number at all ("s")
            return None
        significant = whole.lstrip("0")
        if len(significant) > 19 or int(significant or "0") > 1 << 63:
            return None
        if unit not in _DURATION_UNITS_NS:  # a missing or an unknown unit
            return None
        scale_ns = _DURATION_UNITS_NS[unit]
        value = int(significant or "0")
        if value > (1 << 63) // scale_ns:
            return None
        value *= scale_ns
        f, scale = _go_fraction(frac or "")
        if f > 0:
            value += int(float(f) * (float(scale_ns) / scale))
            if value > 1 << 63:
                return None
        total += value
        if total > 1 << 63:
            return None
    if negative:
        return -total
    return None if total > _MAX_DURATION_NS else total


def parse_duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """Go-style durations as skopeo takes them (time.ParseDuration): 90s, 1m30s, 1h, 500ms, .5s.

    Read as Go reads them (:func:`go_duration_ns`), with three deliberate differences: a bare
    number is seconds (Go accepts only "0"), a negative duration is refused (skopeo treats it
    as no timeout), and blanks around the value are ignored. A value Go refuses as too long
    (over 2562047h) is refused here too, as a usage error rather than an overflow later.
    """
    if value is None:
        return None
    import re

    text = value.strip()
    go_form = text + "s" if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) else text
    ns = go_duration_ns(go_form)
    if ns is None:
        if go_duration_ns(re.sub(r"[0-9]", "0", go_form)) is not None:  # well formed: only too long
            raise click.BadParameter(f"invalid duration {value!r}: longer than Go's maximum duration (2562047h)")
        raise click.BadParameter(f"invalid duration {value!r} (use e.g. 90s, 2m, 1h30m)")
    if ns < 0:
        raise click.BadParameter(f"invalid duration {value!r}: a negative duration (use 0 for none)")
    return ns / 10**9


_GLOBAL_OPTIONS: list[Callable[[F], F]] = [
    click.option("--policy", metavar="PATH", default=None, help="Path to a trust policy file."),
    click.option("--insecure-policy", is_flag=True, default=None, help="Run without any policy check."),
    click.option("--registries.d", "registries_d", metavar="DIR", default=None,
                 help="Use registry configuration files in DIR (e.g. for signature storage)."),
    click.option("--registries-conf", "registries_conf", metavar="FILE", default=None,
                 help="Use FILE instead of the registries.conf files (mirrors, insecure and blocked registries)."),
    click.option("--override-arch", metavar="ARCH", default=None,
                 help="Use ARCH instead of the machine's architecture for choosing images."),
    click.option("--override-os", metavar="OS", default=None,
                 help="Use OS instead of the running OS for choosing images."),
    click.option("--override-variant", metavar="VARIANT", default=None,
                 help="Use VARIANT instead of the running architecture variant for choosing images."),
    click.option("--command-timeout", metavar="DURATION", default=None, callback=parse_duration,
                 help="Timeout for the command execution (e.g. 90s, 5m)."),
    click.option("--tmpdir", metavar="DIR", default=None, help="Directory used to store temporary files."),
    click.option("--debug", is_flag=True, default=None, help="Enable debug output (tracebacks, HTTP log)."),
    click.option("--require-signed", is_flag=True, default=None,
                 help="Refuse images whose policy requirements verify no signature."),
    click.option("--user-agent-prefix", metavar="PREFIX", default=None,
                 help="Put PREFIX before trustcopy's User-Agent in registry requests."),
]


def add_global_options(func: F) -> F:
    """Attach the global flags to a command or the group."""
    for option in reversed(_GLOBAL_OPTIONS):
        func = option(func)
    return func


def global_options(
    ctx: click.Context, kwargs: dict[str, Any], *, accepts_registries_d: bool = True, reports_errors: bool = False
) -> GlobalOptions:
    """Merge the flags given after the command into the context's GlobalOptions.

    Removes them from ``kwargs`` so the command sees only its own options.
    ``accepts_registries_d`` is ignored: every command honours ``--registries.d`` and
    ``--registries-conf`` now (through the SystemContext); it stays so that callers
    written while some commands refused it keep working. ``reports_errors``: the command
    (``verify``) puts every failure in its report, so the conflicting-flags refusal is left
    to it (it raises the same error where it opens the policy).
    """
    opts = ctx.find_object(GlobalOptions)
    if opts is None:
        opts = ctx.ensure_object(GlobalOptions)
    given = {k: kwargs.pop(k) for k in list(kwargs) if k in GLOBAL_OPTION_NAMES}
    opts.update(given)
    if opts.insecure_policy and opts.require_signed and not reports_errors:
        # As skopeo's globalOptions.before: refused for every command, before it does anything
        # (skopeo integration TestInsecurePolicyAndRequireSignedConflict).
        raise UsageError("--insecure-policy and --require-signed are mutually exclusive")
    _configure_logging(opts)
    _apply_process_options(opts)
    return opts


def _apply_process_options(opts: GlobalOptions) -> None:
    """Make the process-wide flags take effect."""
    import os
    import signal
    import threading

    if opts.tmpdir is not None:
        if not os.path.isdir(opts.tmpdir):
            raise UsageError(f"--tmpdir {opts.tmpdir}: not a directory")
        import tempfile

        tempfile.tempdir = opts.tmpdir
    # 0 means no timeout, as skopeo's commandTimeoutContext (it arms one only when > 0).
    if opts.command_timeout and threading.current_thread() is threading.main_thread():
        timeout = opts.command_timeout

        def _expired(_signum: int, _frame: object) -> None:
            raise CommandTimedOut(f"the command did not finish within --command-timeout ({timeout:g}s)")

        signal.signal(signal.SIGALRM, _expired)
        # Python keeps the interval as int64 nanoseconds too: Go's very maximum rounds past it
        signal.setitimer(signal.ITIMER_REAL, min(max(timeout, 0.001), 9e9))


class _ScrubbingFilter:
    """A logging filter masking every known secret in a record (trustcopy.redact.scrub).

    Log lines quote servers (a registry's Warning header, a retried failure's reason) and
    libraries (python-gnupg); whatever they echo, a secret of this command is not printed.
    """

    def filter(self, record: Any) -> bool:
        redact = sys.modules.get("trustcopy.redact")  # not loaded: no secret registered
        secrets = redact.known_secrets() if redact is not None else ()
        if not secrets:
            return True

        def scrub(text: str) -> str:
            out = text
            for secret in secrets:
                out = out.replace(secret, "***")
            return out

        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (a malformed record: logging reports it itself)
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_text is None:
            import logging

            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


def _configure_logging(opts: GlobalOptions) -> None:
    import logging

    # Without --debug, warnings reach stderr through logging's last-resort handler.
    last_resort = logging.lastResort
    if last_resort is not None and not any(isinstance(f, _ScrubbingFilter) for f in last_resort.filters):
        last_resort.addFilter(_ScrubbingFilter())
    # trustcopy's own loggers have a NullHandler (trustcopy/liblog.py: a library prints
    # nothing on its own), so the last-resort handler never sees their records: the CLI
    # prints their warnings itself, as that handler did (the message alone, to the current
    # stderr). One per process: an in-process caller's next command replaces it.
    import trustcopy.liblog

    library = logging.getLogger(trustcopy.liblog.ROOT_LOGGER)
    for handler in [h for h in library.handlers if getattr(h, "trustcopy_cli", False)]:
        library.removeHandler(handler)
    if not opts.debug:  # with --debug the root handler prints them (propagation)
        library.addHandler(_warnings_to_stderr())
    if opts.debug:
        logging.basicConfig(level=logging.DEBUG, format="DEBU %(name)s: %(message)s")
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, _ScrubbingFilter) for f in handler.filters):
                handler.addFilter(_ScrubbingFilter())
        # httpx and httpcore log whole URLs and response headers: pre-signed blob-store URLs
        # (X-Amz-Signature …) and cookies are credentials. trustcopy.docker logs every
        # request and answer itself, with secrets masked.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _warnings_to_stderr() -> Any:
    """A handler printing WARNING and above to whatever ``sys.stderr`` is when a record comes."""
    import logging

    class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
        trustcopy_cli = True

        def __init__(self) -> None:
            logging.Handler.__init__(self, logging.WARNING)

        @property  # type: ignore[override]
        def stream(self) -> Any:
            return sys.stderr

        def handle(self, record: logging.LogRecord) -> bool:
            # As the last-resort handler it stands in for: not when another handler prints the
            # record on this stderr already (a sitecustomize's logging.basicConfig(), an
            # in-process caller's earlier --debug command), which printed it twice.
            if _printed_on_stderr(record):
                return False
            return bool(super().handle(record))

    handler = _Stderr()
    handler.addFilter(_ScrubbingFilter())
    return handler


def _printed_on_stderr(record: Any) -> bool:
    """Whether a handler other than the CLI's, on ``record``'s way to the root, writes it to ``sys.stderr``."""
    import logging

    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        for handler in logger.handlers:
            if (isinstance(handler, logging.StreamHandler) and not getattr(handler, "trustcopy_cli", False)
                    and record.levelno >= handler.level and handler.stream is sys.stderr):
                return True
        logger = logger.parent if logger.propagate else None
    return False


def refuse_unsupported(**features: bool) -> None:
    """Refuse a flag whose feature has not landed instead of silently ignoring it.

    Args:
        features: flag name → whether it was given and is not yet supported.
    """
    for flag, given in features.items():
        if given:
            raise UsageError(f"{flag} is not supported yet by this version of trustcopy", code="unsupported-option")


def open_policy_context(opts: GlobalOptions) -> Any:
    """The PolicyContext the global flags select (caller uses it as a context manager).

    ``--insecure-policy`` wins over ``--policy`` (as in skopeo); without either, the
    default policy file is used, and its absence is an error, never acceptance.
    """
    from trustcopy.policy import (
        PolicyContext,
        default_policy_path,
        insecure_accept_anything_policy,
        load_policy,
    )

    if opts.insecure_policy and opts.require_signed:
        raise UsageError("--insecure-policy and --require-signed are mutually exclusive")
    if opts.insecure_policy:
        policy = insecure_accept_anything_policy()
    else:
        policy = load_policy(opts.policy or default_policy_path())
    return PolicyContext(policy, require_signed=opts.require_signed)


def echo_json(value: Any) -> None:
    """Print JSON as skopeo does (Go MarshalIndent, 4 spaces, trailing newline; Go's escapes of
    ``<``, ``>``, ``&``, U+2028 and U+2029, and ``\\u0008``/``\\u000c`` where Python writes ``\\b``/``\\f``)."""
    import json
    import re

    text = json.dumps(value, indent=4, ensure_ascii=False)
    # Whole escape sequences are matched, so an escaped backslash followed by "b" stays as it is.
    text = re.sub(r'\\(["\\/bfnrt]|u[0-9a-fA-F]{4})',
                  lambda m: {"b": "\\u0008", "f": "\\u000c"}.get(m.group(1), m.group(0)), text)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                     ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    click.echo(text)


def signing_passphrase(kwargs: dict[str, Any]) -> str | None:
    """The passphrase for ``--sign-by`` / ``--sign-by-sigstore-private-key``, as skopeo gets it.

    From ``--sign-passphrase-file`` when given; for a sigstore key without one, asked on the
    terminal (an empty passphrase is valid); for GPG, None (gpg-agent asks itself).

    Raises:
        UsageError: the passphrase file without a key to use it for, or with both kinds of key.
    """
    from trustcopy.errors import UsageError

    if kwargs["sign_passphrase_file"]:
        if not (kwargs["sign_by"] or kwargs["sign_by_sigstore_private_key"]):
            raise UsageError("--sign-passphrase-file requires --sign-by or --sign-by-sigstore-private-key")
        if kwargs["sign_by"] and kwargs["sign_by_sigstore_private_key"]:
            raise UsageError("Only one of --sign-by and --sign-by-sigstore-private-key can be used with "
                             "--sign-passphrase-file")
        from trustcopy.copy.sign import read_passphrase_file

        return read_passphrase_file(kwargs["sign_passphrase_file"])
    if kwargs["sign_by_sigstore_private_key"]:
        from trustcopy.cli.signing import prompt_passphrase

        return prompt_passphrase(kwargs["sign_by_sigstore_private_key"], confirm=False)
    return None


def sigstore_param_signer(kwargs: dict[str, Any]) -> Any:
    """``--sign-by-sigstore PARAM-FILE``, set up before the copy writes anything (None without it).

    The key's passphrase comes from the file's ``privateKeyPassphraseFile``, else from the
    terminal, as skopeo asks; a Fulcio certificate is requested now, so a refused token
    fails the command before anything is written.
    """
    path = kwargs.get("sign_by_sigstore")
    if not path:
        return None
    from trustcopy.cli.signing import prompt_passphrase
    from trustcopy.copy.sigstore_params import load_signing_params, prepare_signer

    return prepare_signer(load_signing_params(path), lambda key_file: prompt_passphrase(key_file, confirm=False))
