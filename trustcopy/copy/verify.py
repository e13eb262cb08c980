"""``verify``: judge images exactly as ``copy`` would, without copying them, and report the verdicts.

The report has three machine forms besides the text the CLI prints: the JSON document
(``trustcopy/data/verify.schema.json``, docs/commands/verify.md), JUnit XML (one test
case per image) and the digest file (``NAME@sha256:…`` of each accepted image).

Invariants:
- Every image goes through :func:`trustcopy.copy.evaluate.evaluate_image`, the one
  evaluation step of ``copy``: the same planned instances, the same verdicts. It reads
  manifests and signatures only, never a layer or config blob.
- An image is *accepted* only when its evaluation is allowed. An error is never an
  acceptance, and one image's error never stops the evaluation of the others (except
  an expired ``--command-timeout``, which stops the run: the rest are reported as errors).
- Exit status (:attr:`VerifyReport.exit_status`): 2 when anything could not be
  evaluated (usage, policy, configuration, an unreachable or missing image, the digest
  file), else 1 when any image was rejected, else 0.
- The digest file lists exactly the accepted images, one per line, in command-line order,
  and is replaced atomically on every run (even by an empty file), so a stale list from
  an earlier run never survives a failed one.

Digest-file names: for ``docker://`` images, ``REPOSITORY@DIGEST`` with the repository
fully qualified (``docker.io/library/busybox@sha256:…``): what ``docker pull``,
``podman``, Kubernetes and ``trustcopy copy docker://…`` accept, and immune to tags
moving after the check. Other transports cannot address an image by digest, so their
line is the image name as given plus ``@DIGEST`` (``oci:/srv/layout:1.0@sha256:…``): a
record to compare against, not a reference to pull. For a manifest list the digest is
the list's, which pins every instance; the instances that were verified are those a
copy with the same ``--all``/``--multi-arch`` and platform flags would take.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from trustcopy.copy.evaluate import Evaluation, evaluate_image
from trustcopy.copy.junit import JUnitCase, Outcome, junit_xml
from trustcopy.copy.options import CopyOptions
from trustcopy.copy.trace import evaluation_trace, trace_text
from trustcopy.errors import CommandTimedOut, TransportError, TrustcopyError, UsageError
from trustcopy.lazy import dataclass
from trustcopy.reasons import Reason

if TYPE_CHECKING:
    from trustcopy.digest import Digest
    from trustcopy.transports.base import ImageReference

#: Bumped when a field of the JSON form changes meaning or disappears (additions keep it).
VERIFY_SCHEMA_VERSION = 1
#: The error code that ends a run: nothing after it can be evaluated in time.
_FATAL_CODES = frozenset({"command-timeout"})


class Status(StrEnum):
    """The outcome for one image."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"


def evaluation_outcome(evaluation: Evaluation) -> tuple[Reason, str]:
    """The reason code and message of a whole evaluation (a list: its first refused instance).

    These are the top-level ``reason`` and ``message`` of the verdict JSON.
    """
    if not evaluation.is_list:
        verdict = evaluation.verdicts[0].verdict
        return verdict.reason, verdict.message
    refused = evaluation.first_rejected
    if refused is None:
        return Reason.ALLOWED, "every planned instance is allowed"
    platform = f" ({refused.platform})" if refused.platform else ""
    return refused.verdict.reason, f"instance {refused.instance_digest}{platform}: {refused.verdict.message}"


def verified_reference(ref: ImageReference, digest: Digest) -> str:
    """The digest-file line for an accepted image (see the module docstring for why this form)."""
    docker = ref.docker_reference() if ref.transport.name == "docker" else None
    if docker is not None:
        return f"{docker.name}@{digest}"
    # A local path may hold a newline: written raw it would split one accepted image into two
    # lines, the first naming no digest (a line a later step could take as verified). Control
    # characters (C0 and C1) are written as \xNN, the Unicode line and paragraph separators as
    # \uNNNN, and a byte that is not UTF-8 (a surrogate escape of argv) as \xNN of that byte, so
    # each accepted image stays exactly one line, and the file can be written as UTF-8.
    return "".join(map(_escaped, str(ref))) + f"@{digest}"


def _escaped(c: str) -> str:
    """One character of a verified reference as the digest file holds it (see verified_reference)."""
    code = ord(c)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape of the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    if c in "\u2028\u2029" or 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return c


def error_json(error: TrustcopyError) -> dict[str, Any]:
    """An error as the JSON forms carry it (code, message, hint; never a credential: see errors.py)."""
    return {"code": error.code, "message": error.message, "hint": error.hint}


@dataclass(frozen=True)
class ImageResult:
    """The outcome for one image named on the command line."""

    name: str
    status: Status
    evaluation: Evaluation | None = None
    error: TrustcopyError | None = None
    verified_reference: str | None = None
    seconds: float = 0.0

    @property
    def digest(self) -> Digest | None:
        """The digest of the manifest that was judged (the list's, for a list), if it was read."""
        return self.evaluation.digest if self.evaluation is not None else None

    def outcome(self) -> tuple[str | None, str]:
        """``(reason code, message)``: the verdict's, or the error's code and message."""
        if self.evaluation is not None:
            return evaluation_outcome(self.evaluation)
        assert self.error is not None
        return None, self.error.message

    def line(self) -> str:
        """The text after the status word in the one line per image."""
        if self.status is Status.ERROR:
            assert self.error is not None
            return f"{self.name} error[{self.error.code}]: {self.error.message}"
        assert self.evaluation is not None
        text = f"{self.name} {self.evaluation.digest}"
        if self.evaluation.is_list:
            count = len(self.evaluation.verdicts)
            text += f" (manifest list; {count} instance{'s' if count != 1 else ''} judged)"
        if self.status is Status.REJECTED:
            reason, message = self.outcome()
            text += f" {reason}: {message}"
        return text

    def trace(self) -> str:
        """The full human trace (an error: its diagnostics)."""
        if self.evaluation is not None:
            return trace_text(evaluation_trace(self.evaluation))
        assert self.error is not None
        return self.error.diagnostics() + "\n"

    def to_json(self) -> dict[str, Any]:
        """The machine form of one image (see verify.schema.json, ``$defs/image``)."""
        reason, message = self.outcome()
        return {
            "image": self.name,
            "status": str(self.status),
            "allowed": self.status is Status.ACCEPTED,
            "digest": str(self.digest) if self.digest is not None else None,
            "verifiedReference": self.verified_reference,
            "reason": reason,
            "message": message,
            "verdict": self.evaluation.to_json() if self.evaluation is not None else None,
            "error": error_json(self.error) if self.error is not None else None,
        }

    def junit_case(self) -> JUnitCase:
        """This image as a JUnit test case: rejected is a failure, an error is an error."""
        if self.status is Status.ACCEPTED:
            return JUnitCase(self.name, "trustcopy.verify", Outcome.PASSED, self.seconds,
                             system_out=f"ACCEPTED {self.line()}\n{self.trace()}")
        if self.status is Status.REJECTED:
            reason, message = self.outcome()
            return JUnitCase(self.name, "trustcopy.verify", Outcome.FAILURE, self.seconds,
                             message=f"{reason}: {message}", type=str(reason), text=self.trace())
        assert self.error is not None
        return JUnitCase(self.name, "trustcopy.verify", Outcome.ERROR, self.seconds,
                         message=f"error[{self.error.code}]: {self.error.message}", type=self.error.code,
                         text=self.trace())


@dataclass(frozen=True)
class VerifyReport:
    """Everything one ``verify`` run found, and its machine forms."""

    images: tuple[ImageResult, ...]
    policy: str | None
    insecure_policy: bool = False
    require_signed: bool = False
    #: A failure of the run itself (usage, policy, digest file), beside the images' own.
    error: TrustcopyError | None = None
    digestfile: str | None = None
    started: str = ""

    def count(self, status: Status) -> int:
        """How many images ended with ``status``."""
        return sum(1 for image in self.images if image.status is status)

    @property
    def exit_status(self) -> int:
        """2 if anything could not be evaluated, else 1 if anything was rejected, else 0."""
        if self.error is not None or self.count(Status.ERROR):
            return 2
        return 1 if self.count(Status.REJECTED) else 0

    @property
    def allowed(self) -> bool:
        """Whether every image was accepted and nothing failed (exit status 0)."""
        return self.exit_status == 0 and bool(self.images)

    def summary(self) -> str:
        """``3 images: 1 accepted, 1 rejected, 1 error``."""
        n = len(self.images)
        return (f"{n} image{'s' if n != 1 else ''}: {self.count(Status.ACCEPTED)} accepted, "
                f"{self.count(Status.REJECTED)} rejected, {self.count(Status.ERROR)} error"
                f"{'s' if self.count(Status.ERROR) != 1 else ''}")

    def digestfile_text(self) -> str:
        """The digest file's content: one ``NAME@DIGEST`` line per accepted image."""
        return "".join(f"{i.verified_reference}\n" for i in self.images if i.status is Status.ACCEPTED)

    def with_digestfile(self, path: str) -> VerifyReport:
        """Write the digest file atomically; a failure becomes the report's error (exit 2).

        Returns:
            This report, recording ``path`` (and the error, if the file could not be written).
        """
        from trustcopy.fsutil import write_user_file

        try:
            write_user_file(path, self.digestfile_text().encode("utf-8"))
        except OSError as exc:
            error = TransportError(f"cannot write digest file {path}: {exc.strerror or exc}", code="file-unwritable",
                                   context={"path": path})
            return replace(self, digestfile=path, error=self.error or error)
        return replace(self, digestfile=path)

    def to_json(self) -> dict[str, Any]:
        """The documented machine form (verify.schema.json)."""
        return {
            "schemaVersion": VERIFY_SCHEMA_VERSION,
            "policy": self.policy,
            "insecurePolicy": self.insecure_policy,
            "requireSigned": self.require_signed,
            "allowed": self.allowed,
            "exitStatus": self.exit_status,
            "summary": {"images": len(self.images), "accepted": self.count(Status.ACCEPTED),
                        "rejected": self.count(Status.REJECTED), "errors": self.count(Status.ERROR)},
            "digestfile": self.digestfile,
            "error": error_json(self.error) if self.error is not None else None,
            "images": [image.to_json() for image in self.images],
        }

    def to_junit(self) -> bytes:
        """JUnit XML: one test case per image, plus one for a failure of the run itself."""
        cases = [image.junit_case() for image in self.images]
        if self.error is not None and not any(image.error is self.error for image in self.images):
            cases.append(JUnitCase("trustcopy verify", "trustcopy.verify", Outcome.ERROR,
                                   message=f"error[{self.error.code}]: {self.error.message}",
                                   type=self.error.code, text=self.error.diagnostics() + "\n"))
        properties = {"policy": self.policy or ("insecureAcceptAnything" if self.insecure_policy else "")}
        return junit_xml("trustcopy verify", cases, properties=properties, timestamp=self.started or None)


def failed_report(names: Sequence[str], error: TrustcopyError, *, policy: str | None = None,
                  insecure_policy: bool = False, require_signed: bool = False) -> VerifyReport:
    """A report for a run that could not start (usage, policy): every image is an error.

    Fail closed in every form: the JSON says ``allowed: false`` for each image, and the
    JUnit report has an error per image rather than zero test cases (which CI shows as green).
    """
    return VerifyReport(tuple(ImageResult(shown_name(name), Status.ERROR, error=error) for name in names), policy,
                        insecure_policy, require_signed, error=error, started=_now())


def verify_images(names: Sequence[str], *, policy_path: str | None = None, insecure_policy: bool = False,
                  require_signed: bool = False, options: CopyOptions | None = None) -> VerifyReport:
    """Evaluate the policy for each image as ``copy`` would, and collect the outcomes.

    Args:
        names: ``transport:reference`` image names, as given on the command line.
        policy_path: the policy file; None means the default policy (paths.default_policy_path).
        insecure_policy: use ``insecureAcceptAnything`` instead of a policy file.
        require_signed: refuse an image unless a requirement verified a signature.
        options: instance selection for lists and ``source_ctx`` (registry settings);
            nothing else of a CopyOptions is used.

    Returns:
        The report; it never raises a TrustcopyError: failures are recorded in it.
    """
    from trustcopy.paths import default_policy_path
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy, load_policy

    options = options or CopyOptions()
    started = _now()
    path = None if insecure_policy else policy_path
    try:
        if insecure_policy and require_signed:
            raise UsageError("--insecure-policy and --require-signed are mutually exclusive")
        if insecure_policy:
            policy = insecure_accept_anything_policy()
        else:
            path = policy_path or default_policy_path()
            policy = load_policy(path)
    except TrustcopyError as exc:
        return failed_report(names, exc, policy=path, insecure_policy=insecure_policy, require_signed=require_signed)
    results: list[ImageResult] = []
    with PolicyContext(policy, require_signed=require_signed) as pc:
        for name in names:
            if results and results[-1].error is not None and results[-1].error.code in _FATAL_CODES:
                results.append(replace(results[-1], name=shown_name(name), seconds=0.0))
                continue
            results.append(_verify_one(pc, name, options))
    return VerifyReport(tuple(results), path, insecure_policy, require_signed, started=started)


def shown_name(name: str) -> str:
    """An image name as the report carries it: ``user:password@`` masked (redact.mask_userinfo).

    Users paste ``docker://user:token@registry/app`` into image names; the name is refused,
    and every form of the report (lines, JSON, JUnit test case names) says so without the token.
    """
    from trustcopy.redact import mask_userinfo

    return mask_userinfo(name)


def _verify_one(pc: Any, name: str, options: CopyOptions) -> ImageResult:
    from trustcopy.transports.alltransports import parse_image_name

    t0 = time.monotonic()
    ref_name, name = name, shown_name(name)
    try:
        ref = parse_image_name(ref_name)
        evaluation = evaluate_image(pc, ref, options)
    except TrustcopyError as exc:
        return ImageResult(name, Status.ERROR, error=exc, seconds=time.monotonic() - t0)
    except CommandTimedOut as exc:  # the run stops here; this image and the rest are reported (_FATAL_CODES)
        return ImageResult(name, Status.ERROR, error=exc.as_error(), seconds=time.monotonic() - t0)
    seconds = time.monotonic() - t0
    if not evaluation.allowed:
        return ImageResult(name, Status.REJECTED, evaluation, seconds=seconds)
    return ImageResult(name, Status.ACCEPTED, evaluation, verified_reference=verified_reference(ref, evaluation.digest),
                       seconds=seconds)


def load_verify_schema() -> dict[str, Any]:
    """The JSON Schema of ``verify --output json`` (package data, draft 2020-12)."""
    import json
    from importlib.resources import files

    schema: dict[str, Any] = json.loads(files("trustcopy").joinpath("data/verify.schema.json")
                                        .read_text(encoding="utf-8"))
    return schema


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
