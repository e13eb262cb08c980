"""stores/where.py: mirrors read their own stores, pushes use the logical reference, shared paths are named."""

from __future__ import annotations

from pathlib import Path

from trustcopy.reference import parse_named
from trustcopy.stores.registries_d import RegistriesD, load_registries_d
from trustcopy.stores.where import sharing_warnings, where
from trustcopy.sysregistries import RegistriesConf, load_registries_conf

A64 = "a" * 64


def configs(tmp_path: Path, yaml: str, toml: str) -> tuple[RegistriesD, RegistriesConf]:
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text(yaml)
    conf = tmp_path / "registries.conf"
    conf.write_text(toml)
    return (load_registries_d(str(regd), home=str(tmp_path), euid=1000, report_warnings=False),
            load_registries_conf(str(conf), home=str(tmp_path), system_dir=str(tmp_path / "none"),
                                 report_warnings=False))


MIRRORED = ('[[registry]]\nprefix = "example.com/ns"\nlocation = "primary.example/ns"\n'
            '[[registry.mirror]]\nlocation = "mirror.example:5000/cache"\n')
STORES = ('docker:\n  mirror.example:5000:\n    lookaside: file:///mirror\n'
          '  example.com/ns:\n    lookaside: file:///logical\n    lookaside-staging: file:///logical-w\n'
          '  primary.example:\n    lookaside: file:///primary\n')


def test_each_pull_source_reads_the_store_of_its_physical_reference(tmp_path: Path) -> None:
    regd, conf = configs(tmp_path, STORES, MIRRORED)
    w = where(parse_named(f"example.com/ns/app@sha256:{A64}"), regd, conf)
    assert [(str(p.source.reference), p.lookaside.location.base_url) for p in w.reads] == [
        (f"mirror.example:5000/cache/app@sha256:{A64}", "file:///mirror"),
        (f"primary.example/ns/app@sha256:{A64}", "file:///primary"),
    ]
    assert w.signature_url(w.reads[0].lookaside, w.reads[0].source.reference) == (
        f"file:///mirror/cache/app@sha256={A64}/signature-1")
    # a push is never rewritten: the logical reference, and its own section's staging store
    assert str(w.push.reference) == f"example.com/ns/app@sha256:{A64}"
    assert w.write.location.base_url == "file:///logical-w" and w.write.key == "lookaside-staging"
    assert w.sharing == ()


def test_wildcard_section_is_named_as_shared_across_registries(tmp_path: Path) -> None:
    regd, _ = configs(tmp_path, "docker:\n  '*.example.com':\n    lookaside: file:///all-example\n", "")
    image = parse_named("a.example.com/team/app:1")
    [message] = sharing_warnings(regd, regd.lookaside_choice(image, write=False), image)
    assert "every registry under example.com: team/app on any of them uses the same files" in message
    assert "file:///all-example/team/app" in message


def test_pull_plan_is_blocked_only_when_every_source_is(tmp_path: Path) -> None:
    _, conf = configs(tmp_path, "{}", '[[registry]]\nlocation = "b.example"\nblocked = true\n'
                                      '[[registry.mirror]]\nlocation = "m.example"\n'
                                      '[[registry]]\nlocation = "c.example"\nblocked = true\n')
    assert conf.pull_plan(parse_named("b.example/x:1")).blocked_by is None
    rule = conf.pull_plan(parse_named("c.example/x:1")).blocked_by
    assert rule is not None and rule.prefix == "c.example"
