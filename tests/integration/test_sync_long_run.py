"""What a long ``sync`` holds per image: nothing that outlives the image, one session for all.

The 200-image measurement (RSS, descriptors, threads, connections after 20 images and
after 200) is bench/bench_sync_rss.py; these tests check the structure that keeps it flat,
on 30 images: descriptors, sockets and threads do not grow from the 10th image to the 30th
and are back to where they were once ``sync()`` returns; each registry is pinged once and
served by one connection pool, whose connections are reused image after image (far fewer
TCP connections than images), in the three directions (registry → dir, registry →
registry, dir → registry). skopeo 1.9.3 opens new registry clients, pings and tokens for
every image (copy.Image per image); trustcopy keeps one RegistrySession for the run.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imagefactory import Layer, make_image, make_tar
from registry_fixtures import FaultProxy, RegistryServer, fast_sys, push_image, running

pytestmark = [pytest.mark.registry]

N = 30
PARALLEL = 4


def sockets() -> int:
    """Sockets open in this process."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def resources() -> dict[str, int]:
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(), "sockets": sockets()}


def settle(before: dict[str, int], timeout: float = 5.0) -> dict[str, int]:
    """Resources now, after waiting (briefly) for threads that are ending to end."""
    deadline = time.monotonic() + timeout
    while True:
        now = resources()
        if (now["threads"] <= before["threads"] and now["fds"] <= before["fds"]) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


@pytest.fixture
def source(plain_registry: RegistryServer) -> RegistryServer:
    """``bench/many:t00`` … ``t29``: one small image each."""
    from trustcopy.transports.docker.session import RegistrySession

    with RegistrySession() as session:
        ctx = fast_sys(registry_session=session)
        for i in range(N):
            img = make_image([Layer(make_tar([(f"f{i}.txt", f"image {i}\n".encode() * 30)]))])
            push_image(plain_registry.host, f"bench/many:t{i:02d}", img, ctx)
    return plain_registry


def run_sync(source: str, destination: str, kinds: tuple[str, str], session: Any = None,
             on_result: Callable[[int], None] | None = None) -> Any:
    from trustcopy.copy.options import CopyOptions
    from trustcopy.policy import PolicyContext, insecure_accept_anything_policy
    from trustcopy.sync import SyncOptions, sync

    done = 0

    def counted(_result: Any) -> None:
        nonlocal done
        done += 1
        if on_result is not None:
            on_result(done)

    ctx = fast_sys(registry_session=session)
    options = SyncOptions(source_kind=kinds[0], destination_kind=kinds[1], parallel_images=PARALLEL,
                          copy=CopyOptions(source_ctx=ctx, dest_ctx=ctx), on_result=counted)
    with PolicyContext(insecure_accept_anything_policy()) as policy:
        report = sync(policy, source, destination, options)
    assert report.ok and len(report.results) == N, report.summary()
    return report


def test_descriptors_sockets_and_threads_do_not_grow_with_images_and_are_released(
        tmp_path: Path, source: RegistryServer, second_plain_registry: RegistryServer) -> None:
    runs = [
        ("reg->dir", f"{source.host}/bench/many", str(tmp_path / "out"), ("docker", "dir")),
        ("reg->reg", f"{source.host}/bench/many", f"{second_plain_registry.host}/mirror", ("docker", "docker")),
        ("dir->reg", str(tmp_path / "out"), f"{second_plain_registry.host}/fromdir", ("dir", "docker")),
    ]
    for name, src, dest, kinds in runs:
        before = resources()
        marks: dict[int, dict[str, int]] = {}

        def sample(done: int, marks: dict[int, dict[str, int]] = marks) -> None:
            if done in (10, N):
                marks[done] = resources()

        run_sync(src, dest, kinds, on_result=sample)
        at10, at_end = marks[10], marks[N]
        # Bounded by the pools and the image workers, not by the images done: no growth from 10 to 30.
        # The slack is what the pools may still open after image 10 on a loaded machine (4 more
        # sockets in a CI run with the workers slowed down); a socket kept per image would be 20.
        assert at_end["sockets"] <= at10["sockets"] + 8, (name, at10, at_end)
        assert at_end["fds"] <= at10["fds"] + 10, (name, at10, at_end)
        assert at_end["threads"] <= at10["threads"] + 2, (name, at10, at_end)
        assert at_end["threads"] <= before["threads"] + PARALLEL * 7, (name, at_end)
        after = settle(before)
        assert after["threads"] <= before["threads"] and after["fds"] <= before["fds"], (name, before, after)
        assert after["sockets"] <= before["sockets"], (name, before, after)


@pytest.fixture
def proxies(source: RegistryServer, second_plain_registry: RegistryServer) -> Iterator[tuple[FaultProxy, FaultProxy]]:
    with running(FaultProxy(source.port)) as src, running(FaultProxy(second_plain_registry.port)) as dest:
        yield src, dest


def test_one_session_one_ping_and_reused_connections_for_every_image(
        tmp_path: Path, proxies: tuple[FaultProxy, FaultProxy]) -> None:
    """Passed its own session, a sync uses it for every image and leaves it open (one pool per registry)."""
    from trustcopy.transports.docker.session import RegistrySession

    src, dest = proxies
    with RegistrySession() as session:
        run_sync(f"{src.host}/bench/many", f"{dest.host}/mirror", ("docker", "docker"), session)
        run_sync(f"{src.host}/bench/many", str(tmp_path / "out"), ("docker", "dir"), session)
        assert not session.closed  # the caller's: sync does not close it
        assert len(session._clients) == 2  # one pool per registry host, whatever the number of images
        for proxy in (src, dest):
            assert proxy.count("GET", "/v2/") - proxy.count("GET", "/v2/bench") - proxy.count("GET", "/v2/mirror") == 1
        # Connections are reused image after image: at most one per image worker and blob stream
        # at once, far fewer than the 2 x 30 images (skopeo opens new ones for every image).
        assert src.connections <= PARALLEL * 6 < 2 * N, src.connections
        assert dest.connections <= PARALLEL * 6, dest.connections
    assert session.closed


def test_the_session_a_sync_makes_is_closed_when_it_ends(
        tmp_path: Path, source: RegistryServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a session of the caller's, sync makes one for the run and closes it (pools and sockets)."""
    from trustcopy.transports.docker import session as session_module

    made: list[Any] = []
    real = session_module.RegistrySession

    class Recorded(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(session_module, "RegistrySession", Recorded)
    run_sync(f"{source.host}/bench/many", str(tmp_path / "out"), ("docker", "dir"))
    assert len(made) == 1 and made[0].closed
