#!/bin/sh
# Regenerate the DEMO/TEST ONLY GPG key pair in this directory.
#
# The key is made in a throw-away GNUPGHOME (removed on exit, with its gpg-agent), so
# the user's own keyring is never touched. Outputs, next to this script:
#   pubring.gpg     binary public keyring   (policy "keyPath", --public-key-file)
#   public-key.asc  the same key, ASCII-armored (readable; also works as keyPath)
#   secret-key.asc  the secret key, ASCII-armored, WITHOUT a passphrase
#   FINGERPRINT     the primary key's fingerprint, one line
# Tests and docs read FINGERPRINT, so they keep working after a regeneration.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
GNUPGHOME=$(mktemp -d "${TMPDIR:-/tmp}/trustcopy-keys.XXXXXX")
export GNUPGHOME
cleanup() {
    gpgconf --homedir "$GNUPGHOME" --kill all >/dev/null 2>&1 || true
    rm -rf "$GNUPGHOME"
}
trap cleanup EXIT INT TERM
chmod 700 "$GNUPGHOME"

uid='trustcopy example key (DEMO/TEST ONLY, NOT FOR REAL USE) <demo@trustcopy.invalid>'
# RSA 3072: verifiable by every OpenPGP implementation c/image may be built with.
gpg --batch --status-fd 3 --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "$uid" rsa3072 sign never 3>"$GNUPGHOME/status" 2>/dev/null
fpr=$(awk '$2 == "KEY_CREATED" { print $4 }' "$GNUPGHOME/status")
[ -n "$fpr" ] || { echo "key generation failed" >&2; exit 1; }

gpg --batch --export "$fpr" >"$here/pubring.gpg"
gpg --batch --armor --export "$fpr" >"$here/public-key.asc"
gpg --batch --pinentry-mode loopback --passphrase '' --armor --export-secret-keys "$fpr" >"$here/secret-key.asc"
echo "$fpr" >"$here/FINGERPRINT"
echo "new example key: $fpr"
