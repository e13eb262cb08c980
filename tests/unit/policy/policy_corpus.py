"""Test policies shared by the parser, schema and lint tests: valid ones and malformed ones.

Each malformed entry is (id, policy text, JSON path the error must name, message fragment).
``SCHEMA_BLIND`` lists the malformed ids a JSON Schema cannot detect (duplicate keys are
gone once JSON is parsed into a dict, trailing data is a syntax error, and reference,
scope and base64 validity need the parser); every other malformed policy must be refused
by the schema as well (the schema test checks this list is exact).
"""

from __future__ import annotations

import base64

KEY = base64.b64encode(b"not really a key, but valid base64").decode()
D = "sha256:" + "0123456789abcdef" * 4
R = '[{"type":"reject"}]'
SB = '{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg"}'


def wrap(docker_scopes: str) -> str:
    """A policy whose docker section is ``docker_scopes`` (an object body)."""
    return '{"default":' + R + ',"transports":{"docker":{' + docker_scopes + "}}}"


def req(body: str) -> str:
    """A policy whose docker "example.com/x" scope has ``[reject, body]``."""
    return wrap('"example.com/x":[{"type":"reject"},' + body + "]")


VALID: dict[str, str] = {
    "minimal-reject": '{"default":[{"type":"reject"}]}',
    "accept-anything": '{"default":[{"type":"insecureAcceptAnything"}]}',
    "empty-transports": '{"default":' + R + ',"transports":{}}',
    "empty-transport": '{"default":' + R + ',"transports":{"docker":{}}}',
    "signed-by-path": wrap('"quay.io/ns":[' + SB + "]"),
    "signed-by-paths": wrap('"quay.io":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/a.gpg","/b.gpg"]}]'),
    "signed-by-data": wrap(f'"quay.io":[{{"type":"signedBy","keyType":"GPGKeys","keyData":"{KEY}"}}]'),
    "identities": wrap(
        '"a.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"matchExact"}}],'
        '"b.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"matchRepository"}}],'
        '"c.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
        '"signedIdentity":{"type":"exactReference","dockerReference":"busybox:1"}}],'
        '"d.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
        '"signedIdentity":{"type":"exactRepository","dockerRepository":"quay.io/x/y"}}],'
        '"e.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
        '"signedIdentity":{"type":"remapIdentity","prefix":"e.io","signedPrefix":"vendor.example.com/x"}}],'
        '"f.io":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
        '"signedIdentity":{"type":"matchRepoDigestOrExact"}}]'
    ),
    "base-layer": wrap('"a.io":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchRepository"}}]'),
    "sigstore-key": wrap('"a.io":[{"type":"sigstoreSigned","keyPath":"/c.pub"}]'),
    "sigstore-keys": wrap(f'"a.io":[{{"type":"sigstoreSigned","keyDatas":["{KEY}","{KEY}"],'
                          '"signedIdentity":{"type":"matchRepository"}}]'),
    "sigstore-fulcio": wrap(
        '"a.io":[{"type":"sigstoreSigned","fulcio":{"caPath":"/f.pem","oidcIssuer":"https://i",'
        '"subjectEmail":"u@example.com"},"rekorPublicKeyPath":"/r.pub"}]'
    ),
    "sigstore-pki": wrap(
        f'"a.io":[{{"type":"sigstoreSigned","pki":{{"caRootsData":"{KEY}","caIntermediatesPath":"/i.pem",'
        '"subjectHostname":"h.example.com"}}]'
    ),
    "all-scope-kinds": wrap(
        f'"":{R},"docker.io":{R},"docker.io/library":{R},"docker.io/library/busybox":{R},'
        f'"docker.io/library/busybox:latest":{R},"docker.io/library/busybox@{D}":{R},"*.example.com":{R},'
        f'"localhost:5000":{R}'
    ),
    "path-transports": '{"default":' + R + ',"transports":{"dir":{"":' + R + ',"/srv/images":' + R + '},'
    '"oci":{"/srv/layouts":' + R + '},"atomic":{"hostname:5000/myns/official":' + R + '},'
    '"not-a-transport-here":{"anything goes":' + R + "}}}",
    "whitespace-and-unicode": '\n {\n "default" : [ { "type" : "reject" } ] ,\n'
    ' "transports" : { "dir" : { "/srv/\u00e9t\u00e9" : [ {"type":"insecureAcceptAnything"} ] } } }\n',
}

MALFORMED: list[tuple[str, str, str, str]] = [
    ("not-an-object", '[{"type":"reject"}]', "(top level)", "expected a JSON object"),
    ("null-document", "null", "(top level)", "expected a JSON object"),
    ("missing-default", '{"transports":{}}', "default", "missing"),
    ("empty-default", '{"default":[]}', "default", "must not be empty"),
    ("default-null", '{"default":null}', "default", "expected a JSON array"),
    ("default-object", '{"default":{"type":"reject"}}', "default", "expected a JSON array"),
    ("unknown-top-level", '{"default":' + R + ',"defaults":' + R + "}", "defaults", "unknown field"),
    ("duplicate-default", '{"default":' + R + ',"default":' + R + "}", "default", "duplicate key"),
    ("transports-array", '{"default":' + R + ',"transports":[]}', "transports", "expected a JSON object"),
    ("transports-null", '{"default":' + R + ',"transports":null}', "transports", "expected a JSON object"),
    ("duplicate-transport", '{"default":' + R + ',"transports":{"dir":{},"dir":{}}}', "transports.dir",
     "duplicate key"),
    ("transport-not-object", '{"default":' + R + ',"transports":{"dir":[]}}', "transports.dir",
     "expected a JSON object"),
    ("duplicate-scope", wrap(f'"quay.io":{R},"quay.io":{R}'), 'transports.docker["quay.io"]', "duplicate key"),
    ("scope-not-array", wrap('"quay.io":{"type":"reject"}'), 'transports.docker["quay.io"]', "expected a JSON array"),
    ("empty-scope-list", wrap('"quay.io":[]'), 'transports.docker["quay.io"]', "must not be empty"),
    ("relative-dir-scope", '{"default":' + R + ',"transports":{"dir":{"srv/images":' + R + "}}}",
     'transports.dir["srv/images"]', "absolute"),
    ("root-dir-scope", '{"default":' + R + ',"transports":{"dir":{"/":' + R + "}}}", 'transports.dir["/"]', '""'),
    ("non-canonical-oci-scope", '{"default":' + R + ',"transports":{"oci":{"/srv/../x":' + R + "}}}",
     'transports.oci["/srv/../x"]', "canonical"),
    ("requirement-not-object", wrap('"quay.io":["reject"]'), 'transports.docker["quay.io"][0]',
     "expected a JSON object"),
    ("missing-type", req('{"keyType":"GPGKeys"}'), 'transports.docker["example.com/x"][1].type', "missing"),
    ("type-not-string", req('{"type":1}'), 'transports.docker["example.com/x"][1].type', "expected a string"),
    ("unknown-type", req('{"type":"signedByAnyone"}'), 'transports.docker["example.com/x"][1].type',
     "unknown policy requirement type"),
    ("reject-extra-field", req('{"type":"reject","reason":"x"}'), 'transports.docker["example.com/x"][1].reason',
     "unknown field"),
    ("duplicate-type", req('{"type":"reject","type":"reject"}'), 'transports.docker["example.com/x"][1].type',
     "duplicate key"),
    ("signed-by-no-key", req('{"type":"signedBy","keyType":"GPGKeys"}'), 'transports.docker["example.com/x"][1]',
     "none of them present"),
    ("signed-by-two-keys", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","keyPaths":["/b"]}'),
     'transports.docker["example.com/x"][1]', "more than one present"),
    ("signed-by-three-keys", req(f'{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/a","keyPaths":["/b"],'
                                 f'"keyData":"{KEY}"}}'),
     'transports.docker["example.com/x"][1]', "more than one present"),
    ("key-path-number", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":1}'),
     'transports.docker["example.com/x"][1].keyPath', "expected a string"),
    ("key-path-empty", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":""}'),
     'transports.docker["example.com/x"][1].keyPath', "must not be empty"),
    ("key-path-null", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":null}'),
     'transports.docker["example.com/x"][1].keyPath', "expected a string, got null"),
    ("key-paths-empty", req('{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}'),
     'transports.docker["example.com/x"][1].keyPaths', "empty"),
    ("key-paths-string", req('{"type":"signedBy","keyType":"GPGKeys","keyPaths":"/a"}'),
     'transports.docker["example.com/x"][1].keyPaths', "expected a JSON array"),
    ("key-paths-number-item", req('{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/a",2]}'),
     'transports.docker["example.com/x"][1].keyPaths[1]', "expected a string"),
    ("key-data-not-base64", req('{"type":"signedBy","keyType":"GPGKeys","keyData":"not base64!"}'),
     'transports.docker["example.com/x"][1].keyData', "base64"),
    ("key-data-empty", req('{"type":"signedBy","keyType":"GPGKeys","keyData":""}'),
     'transports.docker["example.com/x"][1].keyData', "must not be empty"),
    ("missing-key-type", req('{"type":"signedBy","keyPath":"/k"}'),
     'transports.docker["example.com/x"][1].keyType', "missing"),
    ("unknown-key-type", req('{"type":"signedBy","keyType":"PGP","keyPath":"/k"}'),
     'transports.docker["example.com/x"][1].keyType', "unrecognized keyType"),
    ("signed-by-extra-field", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","keyFile":"/k"}'),
     'transports.docker["example.com/x"][1].keyFile', "unknown field"),
    ("identity-null", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":null}'),
     'transports.docker["example.com/x"][1].signedIdentity', "expected a JSON object"),
    ("identity-string", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":"matchExact"}'),
     'transports.docker["example.com/x"][1].signedIdentity', "expected a JSON object"),
    ("identity-unknown-type", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
                                  '"signedIdentity":{"type":"matchAnything"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.type', "unknown policy reference match type"),
    ("identity-extra-field", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
                                 '"signedIdentity":{"type":"matchExact","strict":true}}'),
     'transports.docker["example.com/x"][1].signedIdentity.strict', "unknown field"),
    ("exact-reference-name-only", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
                                      '"signedIdentity":{"type":"exactReference","dockerReference":"busybox"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.dockerReference', "neither a tag nor a digest"),
    ("exact-reference-missing", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
                                    '"signedIdentity":{"type":"exactReference"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.dockerReference', "missing"),
    ("exact-repository-invalid", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k",'
                                     '"signedIdentity":{"type":"exactRepository","dockerRepository":"UP/x"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.dockerRepository', "invalid format"),
    ("remap-short-prefix", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":'
                               '{"type":"remapIdentity","prefix":"library","signedPrefix":"vendor.example.com"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.prefix', "fully expanded"),
    ("remap-tagged-signed-prefix", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":'
                                       '{"type":"remapIdentity","prefix":"example.com",'
                                       '"signedPrefix":"vendor.example.com/x:1"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.signedPrefix', "not valid"),
    ("remap-missing-signed-prefix", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":'
                                        '{"type":"remapIdentity","prefix":"example.com"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.signedPrefix', "missing"),
    ("base-layer-missing-identity", req('{"type":"signedBaseLayer"}'),
     'transports.docker["example.com/x"][1].baseLayerIdentity', "missing"),
    ("sigstore-no-key", req('{"type":"sigstoreSigned"}'), 'transports.docker["example.com/x"][1]', "exactly one of"),
    ("sigstore-key-and-fulcio", req('{"type":"sigstoreSigned","keyPath":"/k","fulcio":{"caPath":"/c",'
                                    '"oidcIssuer":"https://i","subjectEmail":"a@b"},"rekorPublicKeyPath":"/r"}'),
     'transports.docker["example.com/x"][1]', "exactly one of"),
    ("sigstore-fulcio-without-rekor", req('{"type":"sigstoreSigned","fulcio":{"caPath":"/c","oidcIssuer":"https://i",'
                                          '"subjectEmail":"a@b"}}'),
     'transports.docker["example.com/x"][1]', "must be specified if fulcio is used"),
    ("sigstore-fulcio-missing-email", req('{"type":"sigstoreSigned","fulcio":{"caPath":"/c","oidcIssuer":"https://i"},'
                                          '"rekorPublicKeyPath":"/r"}'),
     'transports.docker["example.com/x"][1].fulcio.subjectEmail', "not specified"),
    ("sigstore-fulcio-unknown-field", req('{"type":"sigstoreSigned","fulcio":{"caPath":"/c","oidcIssuer":"https://i",'
                                          '"subjectEmail":"a@b","subject":"x"},"rekorPublicKeyPath":"/r"}'),
     'transports.docker["example.com/x"][1].fulcio.subject', "unknown field"),
    ("sigstore-pki-with-rekor", req('{"type":"sigstoreSigned","pki":{"caRootsPath":"/c","subjectEmail":"a@b"},'
                                    '"rekorPublicKeyPath":"/r"}'),
     'transports.docker["example.com/x"][1]', "not supported for pki"),
    ("sigstore-pki-no-subject", req('{"type":"sigstoreSigned","pki":{"caRootsPath":"/c"}}'),
     'transports.docker["example.com/x"][1].pki', "subjectEmail, subjectHostname"),
    ("sigstore-two-rekor", req('{"type":"sigstoreSigned","keyPath":"/k","rekorPublicKeyPath":"/r",'
                               '"rekorPublicKeyPaths":["/r2"]}'),
     'transports.docker["example.com/x"][1]', "at most one of"),
    ("sigstore-empty-key-datas", req('{"type":"sigstoreSigned","keyDatas":[]}'),
     'transports.docker["example.com/x"][1].keyDatas', "no entries"),
    ("trailing-garbage", '{"default":' + R + "} {}", "(top level)", "unexpected data after the JSON value"),
    ("syntax-error", '{"default":[{"type":"reject"},]}', "(top level)", "line 1"),
    ("nan", '{"default":' + R + ',"transports":{"dir":{"/x":NaN}}}', "(top level)", "NaN"),
    ("duplicate-deep", req('{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":'
                           '{"type":"matchExact","type":"matchExact"}}'),
     'transports.docker["example.com/x"][1].signedIdentity.type', "duplicate key"),
]

#: Malformed ids a JSON Schema cannot see (see module docstring); the parser refuses them.
SCHEMA_BLIND = {
    "duplicate-default", "duplicate-transport", "duplicate-scope", "duplicate-type", "duplicate-deep",
    "trailing-garbage", "syntax-error", "exact-reference-name-only", "exact-repository-invalid",
}


#: Policies containers/image loads although part of them can never work: they load here too
#: (its sample policy.json has both kinds), with a warning. (id, text, lint code, path, message
#: fragment of the warning; the parser logs the scope ones when loading.)
VALID_WITH_WARNINGS: list[tuple[str, str, str, str, str]] = [
    ("short-name-scope", wrap(f'"busybox":{R}'), "scope-never-matches", 'transports.docker["busybox"]',
     "fully expanded"),
    ("short-repo-scope", wrap(f'"library/busybox":{R}'), "scope-never-matches",
     'transports.docker["library/busybox"]', "docker.io/library/busybox"),
    ("tagged-short-scope", wrap(f'"busybox:latest":{R}'), "scope-never-matches",
     'transports.docker["busybox:latest"]', "docker.io/library/busybox:latest"),
    ("bad-wildcard-scope", wrap(f'"example*.*.com":{R}'), "scope-never-matches",
     'transports.docker["example*.*.com"]', "leading"),
    ("atomic-short-scope", '{"default":' + R + ',"transports":{"atomic":{"busybox":' + R + "}}}",
     "scope-never-matches", 'transports.atomic["busybox"]', "fully expanded"),
    ("unimplemented-key-type", req('{"type":"signedBy","keyType":"X509Certificates","keyPath":"/k"}'),
     "key-type-unimplemented", 'transports.docker["example.com/x"][1].keyType', "not implemented"),
]
