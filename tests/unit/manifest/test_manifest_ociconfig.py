"""The OCI config written by a schema2 → OCI conversion (Go's json round trip of imgspecv1.Image).

Expected bytes were produced by Go 1.19 ``json.Unmarshal`` into image-spec 1.1.0-rc2's
``v1.Image`` and ``json.Marshal`` back, which is what containers/image 5.23 does; None
means Go's Unmarshal fails, so skopeo refuses the conversion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trustcopy.digest import Digest
from trustcopy.errors import ManifestError
from trustcopy.manifest.ociconfig import oci_config_from_docker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifest" / "go-image"
EMPTY = b',"os":"","config":{},"rootfs":{"type":"","diff_ids":null}}'


def test_go_fixture_config_converts_to_the_digest_go_expects() -> None:
    out = oci_config_from_docker((FIXTURES / "schema2-config.json").read_bytes())
    assert str(Digest.from_bytes(out)) == "sha256:f15ba60ec257ee2cf4fddfb9451bb86ba2668450e88d402f5ecc7ea6ce1b661a"
    assert len(out) == 4670


GO_VECTORS: list[tuple[str, bytes, bytes | None]] = [
    ("created-offset-kept", b'{"created":"2016-09-23T23:20:45.78976459+02:00"}',
     b'{"created":"2016-09-23T23:20:45.78976459+02:00","architecture":""' + EMPTY),
    ("one-digit-hour", b'{"created":"2016-09-23T3:20:45Z"}',
     b'{"created":"2016-09-23T03:20:45Z","architecture":""' + EMPTY),
    ("comma-fraction", b'{"created":"2016-09-23T23:20:45,5Z"}',
     b'{"created":"2016-09-23T23:20:45.5Z","architecture":""' + EMPTY),
    ("fraction-truncated-to-ns", b'{"created":"2016-09-23T23:20:45.1234567891234Z"}',
     b'{"created":"2016-09-23T23:20:45.123456789Z","architecture":""' + EMPTY),
    ("trailing-zeros-dropped", b'{"created":"2000-02-29T00:00:00.000000000Z"}',
     b'{"created":"2000-02-29T00:00:00Z","architecture":""' + EMPTY),
    ("zero-offset-is-Z", b'{"created":"2016-09-23T23:20:45-00:00"}',
     b'{"created":"2016-09-23T23:20:45Z","architecture":""' + EMPTY),
    ("feb-30", b'{"created":"2016-02-30T23:20:45Z"}', None),
    ("1900-not-leap", b'{"created":"1900-02-29T00:00:00Z"}', None),
    ("hour-24", b'{"created":"2016-09-23T24:20:45Z"}', None),
    ("lowercase-t", b'{"created":"2016-09-23t23:20:45Z"}', None),
    ("offset-without-colon", b'{"created":"2016-09-23T23:20:45+0100"}', None),
    ("created-number", b'{"created":5}', None),
    ("created-null", b'{"created":null}', b'{"architecture":""' + EMPTY),
    ("later-null-created-clears", b'{"created":"2016-09-23T23:20:45Z","created":null}', b'{"architecture":""' + EMPTY),
    ("year-zero", b'{"created":"0000-01-01T00:00:00Z"}',
     b'{"created":"0000-01-01T00:00:00Z","architecture":""' + EMPTY),
    ("labels-sorted-and-escaped-like-go",
     b'{"config":{"Labels":{"b":"1","a":null,"<&>":"\\u0008\\f\\u2028"}},"Config":{"Env":["x"]}}',
     b'{"architecture":"","os":"","config":{"Env":["x"],"Labels":{"\\u003c\\u0026\\u003e":"\\u0008\\u000c\\u2028",'
     b'"a":"","b":"1"}},"rootfs":{"type":"","diff_ids":null}}'),
    ("repeated-config-merges", b'{"config":{"Labels":{"a":"1"}},"config":{"Labels":{"b":"2"}}}',
     b'{"architecture":"","os":"","config":{"Labels":{"a":"1","b":"2"}},"rootfs":{"type":"","diff_ids":null}}'),
    ("null-labels-clear", b'{"config":{"Labels":{"a":"1"}},"config":{"Labels":null}}', b'{"architecture":""' + EMPTY),
    ("cmd-string-is-a-type-error", b'{"config":{"Cmd":"x"}}', None),
    ("exposed-port-values", b'{"config":{"ExposedPorts":{"80/tcp":null,"1":{"x":1}}}}',
     b'{"architecture":"","os":"","config":{"ExposedPorts":{"1":{},"80/tcp":{}}},"rootfs":{"type":"","diff_ids":null}}'),
    ("exposed-port-number", b'{"config":{"ExposedPorts":{"80/tcp":1}}}', None),
    ("diff-ids-null-entry", b'{"rootfs":{"diff_ids":[null,"x"]}}',
     b'{"architecture":"","os":"","config":{},"rootfs":{"type":"","diff_ids":["","x"]}}'),
    ("history-entries", b'{"rootfs":null,"history":[null,{"empty_layer":true,"created":"2020-01-01T00:00:00.100Z"}]}',
     b'{"architecture":"","os":"","config":{},"rootfs":{"type":"","diff_ids":null},'
     b'"history":[{},{"created":"2020-01-01T00:00:00.1Z","empty_layer":true}]}'),
    ("case-insensitive-last-wins", b'{"ARCHITECTURE":"a","architecture":"b","Architecture":"c"}',
     b'{"architecture":"c"' + EMPTY),
    ("os-fields", b'{"os.version":"1","OS.Features":["a"],"variant":"v8"}',
     b'{"architecture":"","variant":"v8","os":"","os.version":"1","os.features":["a"],"config":{},'
     b'"rootfs":{"type":"","diff_ids":null}}'),
    ("args-escaped-number", b'{"config":{"ArgsEscaped":1}}', None),
    ("empty", b"{}", b'{"architecture":""' + EMPTY),
    ("null", b"null", b'{"architecture":""' + EMPTY),
    ("array", b"[]", None),
    ("not-json", b"{", None),
    ("invalid-utf8-becomes-replacement", b'{"architecture":"\xff\xfe"}',
     b'{"architecture":"\xef\xbf\xbd\xef\xbf\xbd"' + EMPTY),
    ("lone-surrogate-becomes-replacement", b'{"architecture":"\\ud800"}', b'{"architecture":"\xef\xbf\xbd"' + EMPTY),
]


@pytest.mark.parametrize(("config", "expected"), [(c, e) for _, c, e in GO_VECTORS],
                         ids=[i for i, _, _ in GO_VECTORS])
def test_go_round_trip_vectors(config: bytes, expected: bytes | None) -> None:
    if expected is None:
        with pytest.raises(ManifestError) as info:
            oci_config_from_docker(config)
        assert info.value.code == "image-config-invalid"
    else:
        assert oci_config_from_docker(config) == expected
