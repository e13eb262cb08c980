"""RegistrySession: pings, TLS contexts, pools and mount candidates in one object passed down.

A real registry behind the project's FaultProxy, which counts what reaches it: pings
(``GET /v2/``), TCP connections, mounts. One session shared by two copies pings once and
reuses its connections; two sessions share nothing; closing a session closes its pools.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from imagefactory import example_image, make_image, random_layer, write_oci
from registry_fixtures import Fault, FaultProxy, RegistryServer, docker_ref, fast_sys, push_image, running

from trustcopy.copy.options import CopyOptions
from trustcopy.copy.pipeline import copy_image
from trustcopy.digest import Digest
from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
from trustcopy.transports.alltransports import parse_image_name
from trustcopy.transports.docker.session import RegistrySession

pytestmark = pytest.mark.registry


def copy(src: str, dest: str, session: RegistrySession | None) -> None:
    """One library copy; both sides carry ``session`` (None: each side makes its own)."""
    options = CopyOptions(source_ctx=fast_sys(registry_session=session), dest_ctx=fast_sys(registry_session=session))
    with PolicyContext(insecure_accept_anything_policy()) as policy:
        copy_image(policy, parse_image_name(dest), parse_image_name(src), options)


@pytest.fixture
def proxy(plain_registry: RegistryServer) -> Any:
    """A counting FaultProxy in front of the registry."""
    with running(FaultProxy(plain_registry.port)) as p:
        yield p


@pytest.fixture
def layout(tmp_path: Path) -> str:
    """An OCI layout holding ``app`` (a small image)."""
    write_oci({"app": example_image()}, str(tmp_path / "layout"))
    return f"oci:{tmp_path / 'layout'}:app"


def _ping_count(proxy: FaultProxy) -> int:
    return sum(1 for m, p, _ in proxy.seen if m == "GET" and p == "/v2/")


def test_two_copies_through_one_session_ping_once_and_reuse_connections(proxy: FaultProxy, layout: str) -> None:
    with RegistrySession() as session:
        copy(layout, f"docker://{proxy.host}/app:1", session)
        assert _ping_count(proxy) == 1
        connections = proxy.connections
        copy(layout, f"docker://{proxy.host}/app:2", session)
        copy(f"docker://{proxy.host}/app:1", f"docker://{proxy.host}/other:1", session)
        assert _ping_count(proxy) == 1  # the source and the destination of every copy share it
        assert proxy.connections == connections  # the pool's connections carried over
        assert len(proxy.seen) > 8


def test_two_sessions_share_nothing(proxy: FaultProxy, layout: str) -> None:
    with RegistrySession() as one, RegistrySession() as two:
        copy(layout, f"docker://{proxy.host}/app:1", one)
        copy(layout, f"docker://{proxy.host}/app:2", two)
        assert _ping_count(proxy) == 2
        assert one.tls(None, False)[1] is not two.tls(None, False)[1]
        key, context = one.tls(None, False)
        assert one.http_client(key, context) is not two.http_client(*two.tls(None, False))


def test_mount_candidates_stay_in_their_session(proxy: FaultProxy, plain_registry: RegistryServer) -> None:
    image = make_image([random_layer(1 << 20, 31)])
    push_image(plain_registry.host, "source/app:1", image, fast_sys())
    with RegistrySession() as reader, RegistrySession() as other:
        with docker_ref(proxy.host, "source/app:1").new_image_source(fast_sys(registry_session=reader)) as src:
            src.get_manifest()  # records where the blobs are, in ``reader`` only
        assert len(reader.locations) == len(image.blobs) and len(other.locations) == 0
        push_image(proxy.host, "elsewhere/app:1", image, fast_sys(registry_session=other))
        assert not [p for m, p, _ in proxy.seen if m == "POST" and "mount=" in p]
        push_image(proxy.host, "mounted/app:1", image, fast_sys(registry_session=reader))
        assert sum(1 for m, p, _ in proxy.seen if m == "POST" and "mount=" in p) == len(image.blobs)


def test_closing_the_session_closes_its_pools(proxy: FaultProxy, layout: str) -> None:
    session = RegistrySession()
    copy(layout, f"docker://{proxy.host}/app:1", session)
    pool = session.http_client(*session.tls(None, False))
    assert not pool.is_closed
    session.close()
    assert pool.is_closed and session.closed
    with pytest.raises(RuntimeError, match="closed"):
        docker_ref(proxy.host, "app:1").new_image_source(fast_sys(registry_session=session))


def test_without_a_session_each_side_keeps_and_closes_its_own(proxy: FaultProxy, layout: str) -> None:
    """As containers/image, which makes one client per image: two pings, nothing left open."""
    copy(layout, f"docker://{proxy.host}/app:1", None)
    copy(f"docker://{proxy.host}/app:1", f"docker://{proxy.host}/b:1", None)
    assert _ping_count(proxy) == 1 + 2


def test_each_cli_command_has_its_own_session(run_cli: Any, proxy: FaultProxy, layout: str,
                                              insecure_policy: Path) -> None:
    """One session per command: a registry-to-registry copy pings once, the next command again."""
    for tag in ("1", "2"):
        r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--dest-tls-verify=false", layout,
                    f"docker://{proxy.host}/app:{tag}")
        assert r.exit_code == 0, r.stderr
    r = run_cli("--policy", str(insecure_policy), "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                f"docker://{proxy.host}/app:1", f"docker://{proxy.host}/b:1")
    assert r.exit_code == 0, r.stderr
    assert _ping_count(proxy) == 3


def test_cookies_are_neither_kept_nor_sent(proxy: FaultProxy, layout: str) -> None:
    """A shared pool must not carry one registry's state into another copy (c/i has no cookie jar)."""
    proxy.rule = lambda m, p, h: Fault(headers={"Set-Cookie": "sticky=secret-node-7; Path=/"}) if p == "/v2/" \
        else None
    with RegistrySession() as session:
        copy(layout, f"docker://{proxy.host}/app:1", session)
        copy(layout, f"docker://{proxy.host}/app:2", session)
    assert len(proxy.seen) > 4
    assert not [h for _m, _p, h in proxy.seen if any(k.lower() == "cookie" for k in h)]


def test_concurrent_copies_of_a_shared_layer_upload_it_once(proxy: FaultProxy, tmp_path: Path) -> None:
    """Two images sharing a layer, pushed at once into one repository: one upload, both complete."""
    import threading

    from imagefactory import Layer, make_tar

    shared = random_layer(3 << 20, 77)
    layouts = []
    for name in ("a", "b"):
        image = make_image([shared, Layer(make_tar([(name, name.encode())]))])
        write_oci({"1": image}, str(tmp_path / name))
        layouts.append(f"oci:{tmp_path / name}:1")
    shared_digest = Digest.from_bytes(shared.blob)
    errors: list[BaseException] = []
    with RegistrySession() as session:
        def push(layout: str, tag: str) -> None:
            try:
                copy(layout, f"docker://{proxy.host}/app:{tag}", session)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=push, args=(layout, tag)) for layout, tag in zip(layouts, "xy", strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert errors == []
    uploads = [p for m, p, _ in proxy.seen if m == "PUT" and f"digest={shared_digest}" in p.replace("%3A", ":")]
    assert len(uploads) == 1, uploads
