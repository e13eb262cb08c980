"""judge_status: the decision from gpg's --status-fd lines, on lines recorded from gpg 2.2.40.

The point of these vectors: gpg's exit status and python-gnupg's ``valid`` are not the
decision. gpg exits 0 for expired-key, revoked-key and unsigned literal messages.
"""

from __future__ import annotations

import pytest

from trustcopy.errors import SignatureVerificationError
from trustcopy.signature.gpg import judge_status

FPR = "08CD26E446E2E95249B7A405E932F44B23E8DD43"
SUB = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF"
TWO = "68503AF2D95DF79E217798FC69CED60AD8D059EB"
PRIMARY = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36"


def lines(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.strip().splitlines():
        key, _, value = line.strip().removeprefix("[GNUPG:] ").partition(" ")
        out.append((key, value))
    return out


GOOD = lines(f"""
[GNUPG:] PLAINTEXT 62 1750706529
[GNUPG:] PLAINTEXT_LENGTH 266
[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED {FPR} 0
[GNUPG:] SIG_ID +Xo4gxGW+K385MYeud7pHvEmmpg 2025-06-23 1750706529
[GNUPG:] KEY_CONSIDERED {FPR} 0
[GNUPG:] GOODSIG E932F44B23E8DD43 skopeo testing key
[GNUPG:] VALIDSIG {FPR} 2025-06-23 1750706529 0 4 0 1 8 00 {FPR}
[GNUPG:] KEY_CONSIDERED {FPR} 0
""")

SUBKEY = lines(f"""
[GNUPG:] PLAINTEXT 62 1753303215
[GNUPG:] PLAINTEXT_LENGTH 231
[GNUPG:] NEWSIG
[GNUPG:] SIG_ID SvC50rt1nQ9BrCzvvOeob0kCvsc 2025-07-23 1753303215
[GNUPG:] GOODSIG D75B3109B3BAAEAF c/image test key with subkey
[GNUPG:] VALIDSIG {SUB} 2025-07-23 1753303215 0 4 0 1 8 00 {PRIMARY}
""")


def test_good_signature_accepted() -> None:
    assert judge_status(GOOD, 0, 266) == (FPR, FPR)


def test_subkey_signature_reports_signing_and_primary_key() -> None:
    assert judge_status(SUBKEY, 0, 231) == (SUB, PRIMARY)


REJECTED = {
    # gpg exits 0 for this one: python-gnupg's valid is False, but the exit status says "fine".
    "expired-key-exit-0": (lines(f"""
        PLAINTEXT 62 1735776000 p.txt
        NEWSIG
        KEY_CONSIDERED {FPR} 0
        KEYEXPIRED 1748779200
        SIG_ID gbw0EiIZ 2025-01-02 1735776000
        EXPKEYSIG E932F44B23E8DD43 Expiring
        VALIDSIG {FPR} 2025-01-02 1735776000 0 4 0 22 8 00 {FPR}
        """), 0, "EXPIRED"),
    "revoked-key-exit-0": (lines(f"""
        PLAINTEXT 62 1795884042 p.txt
        NEWSIG
        REVKEYSIG E932F44B23E8DD43 Two
        VALIDSIG {FPR} 2026-11-28 1795884042 0 4 0 22 8 00 {FPR}
        """), 0, "INVALID_SIGNATURE"),
    "literal-only-exit-0": (lines("""
        PLAINTEXT 62 1458237591
        PLAINTEXT_LENGTH 36
        """), 0, "NOT_SIGNED"),
    "expired-signature": (lines(f"""
        PLAINTEXT 62 1750712458
        NEWSIG
        EXPSIG E932F44B23E8DD43 skopeo testing key
        VALIDSIG {FPR} 2025-06-23 1750712458 1750759200 4 0 1 8 00 {FPR}
        FAILURE gpg-exit 33554433
        """), 1, "EXPIRED"),
    "bad-signature": (lines("""
        PLAINTEXT 62 1458239713
        NEWSIG
        BADSIG E932F44B23E8DD43 skopeo testing key
        FAILURE gpg-exit 33554433
        """), 1, "INVALID_SIGNATURE"),
    "unknown-key": (lines("""
        PLAINTEXT 62 1750785414
        NEWSIG
        ERRSIG 5F9470E3BC6C3B55 1 8 00 1750785414 9 -
        NO_PUBKEY 5F9470E3BC6C3B55
        """), 2, "UNKNOWN_KEY"),
    "unsupported-algorithm": (lines("""
        PLAINTEXT 62 1750785414
        NEWSIG
        ERRSIG 5F9470E3BC6C3B55 1 1 00 1750785414 4 -
        """), 2, "INVALID_SIGNATURE"),
    "encrypted-no-secret-key": (lines("""
        ENC_TO 9823CCA2EFCB559B 1 0
        NO_SECKEY 9823CCA2EFCB559B
        BEGIN_DECRYPTION
        DECRYPTION_FAILED
        END_DECRYPTION
        """), 2, "NOT_SIGNED"),
    "symmetric-encrypted": (lines("""
        NEED_PASSPHRASE_SYM 9 3 2
        ERROR get_passphrase 77
        BEGIN_DECRYPTION
        DECRYPTION_FAILED
        """), 2, "NOT_SIGNED"),
    "two-signatures-one-message": (lines(f"""
        PLAINTEXT 62 1795884017 p.txt
        NEWSIG one@example.com
        GOODSIG E932F44B23E8DD43 Test One
        VALIDSIG {FPR} 2026-11-28 1795884017 0 4 0 22 8 00 {FPR}
        NEWSIG
        GOODSIG 69CED60AD8D059EB Two
        VALIDSIG {TWO} 2026-11-28 1795884017 0 4 0 22 8 00 {TWO}
        """), 0, "MULTIPLE_SIGNATURES"),
    "second-signature-unknown": (lines(f"""
        PLAINTEXT 62 1795884016 p.txt
        NEWSIG one@example.com
        GOODSIG E932F44B23E8DD43 Test One
        VALIDSIG {FPR} 2026-11-28 1795884016 0 4 0 22 8 00 {FPR}
        NEWSIG
        ERRSIG 69CED60AD8D059EB 22 8 00 1795884016 9 -
        NO_PUBKEY 69CED60AD8D059EB
        """), 2, "MULTIPLE_SIGNATURES"),
    "two-messages-concatenated": (GOOD + GOOD, 0, "MULTIPLE_SIGNATURES"),
    "second-newsig-without-result": ([*GOOD, ("NEWSIG", "")], 0, "MULTIPLE_SIGNATURES"),
    "literal-then-signed": (lines("PLAINTEXT 62 1 e.txt") + GOOD, 0, "INVALID_SIGNATURE"),
    "garbage": (lines("NODATA 1\nNODATA 2\nFAILURE decrypt 4294967295"), 2, "INVALID_SIGNATURE"),
    "good-but-nonzero-exit": (GOOD, 2, "INVALID_SIGNATURE"),
    "good-with-nodata": ([*GOOD, ("NODATA", "3")], 2, "INVALID_SIGNATURE"),
    "good-with-error-status": ([("ERROR", "proc_pkt.plaintext 89_BAD_DATA"), *GOOD], 0, "INVALID_SIGNATURE"),
    "good-with-unknown-status": ([*GOOD, ("SOMETHING_NEW", "x")], 0, "INVALID_SIGNATURE"),
    "good-with-trust-never": ([*GOOD, ("TRUST_NEVER", "0 pgp")], 0, "INVALID_SIGNATURE"),
    "good-with-keyrevoked": ([*GOOD, ("KEYREVOKED", "")], 0, "INVALID_SIGNATURE"),
    "good-with-keyexpired": ([*GOOD, ("KEYEXPIRED", "1")], 0, "EXPIRED"),
    "good-without-validsig": ([s for s in GOOD if s[0] != "VALIDSIG"], 0, "INVALID_SIGNATURE"),
    "good-with-two-validsig": ([*GOOD, next(s for s in GOOD if s[0] == "VALIDSIG")], 0, "INVALID_SIGNATURE"),
    "goodsig-validsig-different-keys": ([("PLAINTEXT", "62 1"), ("NEWSIG", ""),
                                         ("GOODSIG", "DEADBEEFDEADBEEF x"),
                                         ("VALIDSIG", f"{FPR} d 1 0 4 0 1 8 00 {FPR}")], 0, "INVALID_SIGNATURE"),
    "truncated-validsig": ([("PLAINTEXT", "62 1"), ("NEWSIG", ""), ("GOODSIG", "E932F44B23E8DD43 x"),
                            ("VALIDSIG", f"{FPR} d 1")], 0, "INVALID_SIGNATURE"),
    "lower-case-fingerprint": ([("PLAINTEXT", "62 1"), ("NEWSIG", ""), ("GOODSIG", "e932f44b23e8dd43 x"),
                                ("VALIDSIG", f"{FPR.lower()} d 1 0 4 0 1 8 00 {FPR.lower()}")], 0,
                               "INVALID_SIGNATURE"),
    "key-signature-class": ([("PLAINTEXT", "62 1"), ("NEWSIG", ""), ("GOODSIG", "E932F44B23E8DD43 x"),
                             ("VALIDSIG", f"{FPR} d 1 0 4 0 1 8 13 {FPR}")], 0, "INVALID_SIGNATURE"),
    "no-literal-data": ([s for s in GOOD if not s[0].startswith("PLAINTEXT")], 0, "INVALID_SIGNATURE"),
    "empty": ([], 2, "INVALID_SIGNATURE"),
}


@pytest.mark.parametrize("name", list(REJECTED), ids=list(REJECTED))
def test_status_vector_rejected(name: str) -> None:
    statuses, returncode, reason = REJECTED[name]
    with pytest.raises(SignatureVerificationError) as info:
        judge_status(statuses, returncode, 266)
    assert info.value.reason == reason


def test_output_length_must_match_signed_literal_length() -> None:
    with pytest.raises(SignatureVerificationError, match="length"):
        judge_status(GOOD, 0, 265)


def test_rejection_names_the_key_id_for_the_trace() -> None:
    with pytest.raises(SignatureVerificationError) as info:
        judge_status(REJECTED["unknown-key"][0], 2, 0)
    assert info.value.context["key_id"] == "5F9470E3BC6C3B55"


RECORDED_FAILURES = ["expired-key-exit-0", "revoked-key-exit-0", "literal-only-exit-0", "expired-signature",
                     "bad-signature", "unknown-key", "unsupported-algorithm", "encrypted-no-secret-key",
                     "symmetric-encrypted", "two-signatures-one-message", "second-signature-unknown", "garbage"]


@pytest.mark.parametrize("name", RECORDED_FAILURES)
def test_an_injected_status_line_cannot_hide_a_gpg_failure(name: str) -> None:
    # Whatever one extra line says, a failure gpg reported stays a rejection.
    extra = [("GOODSIG", "E932F44B23E8DD43 x"), ("VALIDSIG", f"{FPR} d 1 0 4 0 1 8 00 {FPR}"),
             ("NEWSIG", ""), ("PLAINTEXT", "62 1"), ("TRUST_ULTIMATE", "")]
    statuses, returncode, _reason = REJECTED[name]
    for position in (0, len(statuses)):
        for line in extra:
            with pytest.raises(SignatureVerificationError):
                judge_status([*statuses[:position], line, *statuses[position:]], returncode, 266)
