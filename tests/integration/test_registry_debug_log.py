"""``--debug`` output of a real trustcopy process: every request is logged, no secret is.

Registries redirect blob downloads to pre-signed blob-store URLs; the signature in such
a URL is a credential for that blob, so it must not reach a terminal or a CI log.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagefactory import example_image
from registry_fixtures import AnswerHandler, free_port, serve_in_thread, stop_server

SIGNATURE = "S3cr3t-S1gnature-0f-the-blob-store"
CREDENTIAL = "AKIA-credential-of-the-blob-store"


@pytest.fixture
def redirecting_registry() -> Iterator[str]:
    """A registry that serves the example image, its blobs through a pre-signed redirect."""
    image = example_image()
    port = free_port()

    class Handler(AnswerHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/v2/":
                self.send_answer(200, b"{}")
            elif path == "/v2/app/manifests/1":
                self.send_answer(200, image.manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            elif path.startswith("/v2/app/blobs/"):
                digest = path.rsplit("/", 1)[1]
                self.send_answer(307, headers={"Location": f"http://127.0.0.1:{port}/store/{digest}?X-Amz-Credential="
                                                     f"{CREDENTIAL}&X-Amz-Signature={SIGNATURE}&X-Amz-Expires=60"})
            elif path.startswith("/store/") and SIGNATURE in self.path:
                self.send_answer(200, image.blobs[path.rsplit("/", 1)[1]])
            else:
                self.send_answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"no"}]}')

        do_HEAD = do_GET


    server = serve_in_thread(port, Handler)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_server(server)


def test_debug_logs_requests_but_not_presigned_urls(redirecting_registry: str, tmp_path: Path,
                                                    insecure_policy: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "trustcopy", "--debug", "--policy", str(insecure_policy), "copy",
         "--src-tls-verify=false", f"docker://{redirecting_registry}/app:1", f"dir:{tmp_path}/out"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "manifest.json").read_bytes() == example_image().manifest
    # Each blob's redirect target is in the log, with its secrets masked …
    assert f"redirected to http://{redirecting_registry}/store/" in r.stderr
    assert "X-Amz-Signature=***" in r.stderr
    assert f"GET http://{redirecting_registry}/v2/app/manifests/1: 200" in r.stderr
    # … and nowhere in the clear, from trustcopy or from the HTTP libraries.
    assert SIGNATURE not in r.stderr + r.stdout
    assert CREDENTIAL not in r.stderr + r.stdout
