#!/usr/bin/env bash
# The README's main job: a policy-checked, signed copy of the bundled example image,
# oci: → dir: (signed with the DEMO-ONLY example key) → back to oci: (signature verified).
# Everything happens under out/demo, but for a temporary private GnuPG keyring (removed at the
# end); the user's own keyring is never touched.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="out/demo"
rm -rf "$WORK"
mkdir -p "$WORK"
step() { printf '\n=== %s\n' "$*"; }

step "1/6 build the example image (deterministic, see examples/imagefactory.py) at oci:$WORK/layout:1.0"
python examples/imagefactory.py "oci:$WORK/layout:1.0"

step "2/6 import the DEMO-ONLY example key (keys-example/) into a private GNUPGHOME"
# A short path of its own, not under out/demo: gpg-agent's socket lives in GNUPGHOME, and a
# socket path may not exceed 107 bytes (a checkout a few directories deep did, and the agent
# would not start where /run/user does not exist, as in most containers).
# $TMPDIR only while its longest socket (.../trustcopy-demo-gpg.XXXXXX/S.gpg-agent.browser,
# 46 bytes below it) fits: a deep $TMPDIR failed exactly as the deep checkout did.
GPG_TMP="${TMPDIR:-/tmp}"
if (( $(printf %s "$GPG_TMP" | wc -c) > 60 )); then GPG_TMP=/tmp; fi  # bytes, not characters
GNUPGHOME="$(mktemp -d "$GPG_TMP/trustcopy-demo-gpg.XXXXXX")"
export GNUPGHOME
# gpg starts an agent for this keyring; the demo stops it and removes the keyring when it
# ends, however it ends.
trap 'gpgconf --homedir "$GNUPGHOME" --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$GNUPGHOME"' EXIT
gpg --batch --quiet --import keys-example/secret-key.asc
FINGERPRINT="$(tr -d '[:space:]' < keys-example/FINGERPRINT)"
echo "key $FINGERPRINT"

step "3/6 copy oci: → dir: through policies/demo-build.json, signing as example.com/demo/hello:1.0"
trustcopy --policy policies/demo-build.json copy \
    --sign-by "$FINGERPRINT" --sign-identity example.com/demo/hello:1.0 \
    "oci:$WORK/layout:1.0" "dir:$WORK/signed"

step "4/6 explain the signedBy policy's verdict on the signed image (policies/demo-signed.json)"
trustcopy policy explain --policy policies/demo-signed.json "dir:$ROOT/$WORK/signed"

step "5/6 copy dir: → oci: through policies/demo-signed.json (the signature is verified first)"
trustcopy --policy policies/demo-signed.json copy --remove-signatures \
    "dir:$WORK/signed" "oci:$WORK/layout:verified"
trustcopy inspect "oci:$WORK/layout:verified"

if command -v skopeo >/dev/null; then
    echo "(interop) skopeo verifies trustcopy's signature under the same policy:"
    skopeo --policy policies/demo-signed.json copy -q "dir:$WORK/signed" "dir:$WORK/skopeo-verified"
    echo "skopeo accepted it"
fi

step "6/6 the same policy rejects the unsigned original"
mkdir -p "$WORK/unsigned" && cp -r "$WORK/signed/." "$WORK/unsigned/" && rm -f "$WORK"/unsigned/signature-*
if trustcopy --policy policies/demo-signed.json copy "dir:$WORK/unsigned" "dir:$WORK/rejected"; then
    echo "ERROR: an unsigned image was accepted" >&2
    exit 1
fi
test ! -e "$WORK/rejected"
echo "rejected as expected; nothing was written to $WORK/rejected"
echo
echo "demo finished: see $WORK/"
