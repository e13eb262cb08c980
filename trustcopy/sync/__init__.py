"""``sync``: mirror the images a source names to a destination, each only if the trust policy allows it.

skopeo sync's sources, destinations, YAML and naming, plus what a mirror needs: images
copied concurrently in one registry session, identical images skipped at one ``HEAD`` per
side, deterministic shards for CI matrices and Kubernetes Indexed Jobs, and a report
that tells copied, skipped, rejected and failed images apart.

Modules: config.py (the YAML), semver.py (Masterminds/semver constraints), plan.py
(entries, destination names, shards), probe.py (what each side holds), run.py (the run),
report.py (outcomes, summary, digest file). docs/commands/sync.md is the user's page.

Usage::

    from trustcopy.policy import PolicyContext, load_policy
    from trustcopy.sync import SyncOptions, sync

    with PolicyContext(load_policy("policy.json")) as policy:
        report = sync(policy, "mirror.yaml", "mirror.example.com/base",
                      SyncOptions(source_kind="yaml", destination_kind="docker", keep_going=True))
    print(report.summary())
"""

from trustcopy.sync.plan import DestinationKind, Shard, SourceKind
from trustcopy.sync.report import ImageResult, Outcome, SyncReport
from trustcopy.sync.run import SyncOptions, sync

__all__ = ["DestinationKind", "ImageResult", "Outcome", "Shard", "SourceKind", "SyncOptions", "SyncReport", "sync"]
