"""Benchmark: storing one snapshot with its rollups, at two sizes.

    cd /work/main && export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    /work/venv/bin/python benchmarks/bench_store.py [--workloads N [--namespaces M]] [--runs 5]

Synthesizes classifier output (`store.WorkloadRow`/`NamespaceRow`, deterministic, in the
classifier's order: by namespace, kind, name) for one cluster, then times `store.write_snapshot`
inside ``transaction.atomic()`` on a fresh ok Snapshot — COPY of the workload and namespace
observations, org rows, SnapshotRollup, DailyRollup, DailyTotal, DailyTribeTotal — and the
commit (median of ``--runs``; each run is a new snapshot of the same day, so the day's rows are
replaced as in production). Without ``--workloads`` it runs two sizes: 5,000 workloads (200
namespaces) and the 52k-pod poll of ``bench_poll.py`` (18,707 workloads, 4,054 namespaces).
Baseline: the same workload rows through Django ``bulk_create`` of WorkloadObservation, plus the
same namespace rows (``bulk_create``) and rollups.

The observation tables are vacuumed first when autocommit allows it: with autovacuum off (as on
this machine) the dead rows of earlier runs would otherwise bloat the indexes every COPY inserts
into, and the figure would grow from run to run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import fmt_s, machine, print_table, setup_django, verdict  # noqa: E402

CLUSTER = "store-bench"
TARGET_S = {5000: 1.0, 18707: 0.5}  # issue #4: the 52k-pod poll's store under 0.5 s
SIZES = [(5000, None), (18707, 4054)]
STATES = [
    ("meshed", 60),
    ("not-enrolled", 15),
    ("missing-proxy", 6),
    ("partial", 4),
    ("opted-out", 5),
    ("ineligible", 4),
    ("idle", 4),
    ("ambient-pending", 2),
]


def synth_rows(
    workloads: int,
    seed: int = 1,
    tribes: int = 8,
    squads: int = 5,
    namespaces: int | None = None,
) -> tuple[Any, Any]:
    """Deterministic WorkloadRow/NamespaceRow lists like one poll of a realistic cluster
    (``namespaces`` defaults to one per 25 workloads)."""
    from adoption.store import NamespaceRow, WorkloadRow

    rng = random.Random(seed)  # noqa: S311 - synthetic data
    names = [s for s, _ in STATES]
    weights = [w for _, w in STATES]
    ns_count = max(1, namespaces if namespaces is not None else workloads // 25)
    ns_rows = []
    for i in range(ns_count):
        tribe = f"tribe-{i % tribes}"
        system = i < min(3, ns_count // 10)  # a few system namespaces
        ns_rows.append(
            NamespaceRow(
                namespace=f"ns-{i:04d}",
                tribe="" if system else tribe,
                injection="system-ignored"
                if system
                else rng.choice(["sidecar-default", "sidecar-revision", "ambient", "not-enrolled"]),
                revision=rng.choice(["", "default", "1-28-0"]),
                system=system,
                labels={"tribe": tribe, "istio-injection": "enabled"},
                conflicts=[],
            )
        )
    rows = []
    for j in range(workloads):
        ns = ns_rows[j % ns_count]
        state = rng.choices(names, weights)[0]
        pods = 0 if state == "idle" else rng.randint(1, 6)
        meshed = pods if state == "meshed" else (pods // 2 if state == "partial" else 0)
        services = [f"svc-{j}"] if rng.random() < 0.8 else []
        rows.append(
            WorkloadRow(
                namespace=ns.namespace,
                kind=rng.choice(["Deployment", "Deployment", "StatefulSet", "CronJob"]),
                name=f"workload-{j:05d}",
                tribe=ns.tribe,
                squad=f"squad-{rng.randrange(squads)}",
                squad_label="",
                system=ns.system,
                state=state,
                reason=f"rule W{rng.randint(1, 9)}: synthetic reason text for {state}",
                pods_total=pods,
                pods_meshed=meshed,
                pods_missing=pods - meshed if state == "missing-proxy" else 0,
                mesh_mode="sidecar" if meshed else "none",
                injection_expected=state in ("meshed", "missing-proxy", "partial"),
                revision_requested="default",
                revision_used="default" if meshed else "",
                proxy_versions=["1.27.1"] if meshed else [],
                control_plane_version="1.27.1",
                behind=meshed > 0 and rng.random() < 0.1,
                proxy_cpu_request_m=100 * meshed,
                proxy_cpu_limit_m=2000 * meshed,
                proxy_memory_request_b=128 * 2**20 * meshed,
                proxy_memory_limit_b=1024 * 2**20 * meshed,
                missing_since=None,
                services=services,
                has_virtualservice=bool(services) and rng.random() < 0.4,
                has_destinationrule=bool(services) and rng.random() < 0.3,
                timeout=rng.random() < 0.3,
                retries=rng.random() < 0.25,
                circuit_breaking=rng.random() < 0.1,
                outlier_detection=rng.random() < 0.1,
                mtls_mode=rng.choice(["STRICT", "PERMISSIVE", "UNSET"]),
                diagnostics=["MB0001"] if state == "missing-proxy" else [],
                waived=rng.random() < 0.02,
            )
        )
    by_ns: dict[str, list[Any]] = {}
    for w in rows:
        by_ns.setdefault(w.namespace, []).append(w)
    for ns in ns_rows:
        mine = by_ns.get(ns.namespace, [])
        ns.pods_total = sum(w.pods_total for w in mine)
        ns.pods_meshed = sum(w.pods_meshed for w in mine)
        ns.workloads_total = sum(1 for w in mine if w.state != "idle")
        ns.workloads_meshed = sum(1 for w in mine if w.state == "meshed")
    rows.sort(key=lambda w: (w.namespace, w.kind, w.name))  # as classify_cluster returns them
    return rows, ns_rows


def _baseline_write(snapshot: Any, workloads: list[Any], namespaces: list[Any]) -> None:
    """`write_snapshot` with the observations through Django's bulk_create instead of COPY."""
    from adoption import store

    store.write_observations_orm(snapshot, workloads, namespaces, batch_size=1000)
    store._ensure_org(workloads, namespaces)
    store.write_rollups(snapshot, store.rollup_counts(workloads, namespaces))


@dataclass
class StoreFigures:
    workloads: int
    namespaces: int = 0
    groups: int = 0
    copy_s: list[float] = field(default_factory=list)
    commit_s: list[float] = field(default_factory=list)
    bulk_s: list[float] = field(default_factory=list)
    rollup_s: float = 0.0
    load: list[float] = field(default_factory=list)

    @property
    def copy_median(self) -> float:
        return statistics.median(self.copy_s)

    @property
    def commit_median(self) -> float:
        return statistics.median(self.commit_s)

    @property
    def bulk_median(self) -> float:
        return statistics.median(self.bulk_s)


def _vacuum() -> None:
    """VACUUM the tables a snapshot writes to (not possible inside a transaction: skipped)."""
    from django.db import connection

    from adoption import models

    if connection.in_atomic_block:
        return
    tables = [
        m._meta.db_table
        for m in (
            models.Snapshot,
            models.WorkloadObservation,
            models.NamespaceObservation,
            models.SnapshotRollup,
            models.DailyRollup,
            models.DailyTotal,
            models.DailyTribeTotal,
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(tables)}")


def run(
    workloads: int = 5000, runs: int = 5, seed: int = 1, namespaces: int | None = None
) -> StoreFigures:
    """Time write_snapshot vs the bulk_create baseline (Django must be set up)."""
    import os

    from django.db import transaction

    from adoption import store
    from adoption.models import Cluster, Snapshot, SnapshotStatus

    rows, ns_rows = synth_rows(workloads, seed, namespaces=namespaces)
    f = StoreFigures(workloads, len(ns_rows))
    cluster, _ = Cluster.objects.get_or_create(
        name=CLUSTER, defaults={"kubeconfig_path": "/dev/null", "enabled": False}
    )
    cluster.snapshots.all().delete()
    _vacuum()
    t0 = time.perf_counter()
    f.groups = len(store.rollup_counts(rows, ns_rows))
    f.rollup_s = time.perf_counter() - t0
    f.load.append(os.getloadavg()[0])
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(runs + 1):  # the first run of each warms caches and the org tables
        for label, write in (("copy", store.write_snapshot), ("bulk", _baseline_write)):
            at = base + timedelta(minutes=2 * i + (label == "bulk"))
            t0 = time.perf_counter()
            with transaction.atomic():
                snap = Snapshot.objects.create(
                    cluster=cluster, started_at=at, status=SnapshotStatus.OK
                )
                write(snap, rows, ns_rows)
                t1 = time.perf_counter()
            took = time.perf_counter() - t0
            if i:
                (f.copy_s if label == "copy" else f.bulk_s).append(took)
                if label == "copy":
                    f.commit_s.append(time.perf_counter() - t1)
    f.load.append(os.getloadavg()[0])
    cluster.snapshots.all().delete()
    _vacuum()
    return f


def report(f: StoreFigures) -> None:
    ratio = f.bulk_median / f.copy_median
    target = TARGET_S.get(f.workloads, 1.0)
    print_table(
        f"Store one snapshot: {f.workloads:,} workloads, {f.namespaces:,} namespaces, "
        f"{f.groups} rollup groups ({machine()}); median of {len(f.copy_s)}; "
        f"load average {min(f.load):.2f}–{max(f.load):.2f}",
        ["figure", "time", "note"],
        [
            [
                "store.write_snapshot (COPY + rollups) + commit",
                fmt_s(f.copy_median),
                f"target < {target:g} s: {verdict(f.copy_median < target)}",
            ],
            ["  of which the commit (deferred foreign-key checks)", fmt_s(f.commit_median), ""],
            ["  rollup_counts (Python, overlaps the COPY)", fmt_s(f.rollup_s), ""],
            ["BASELINE bulk_create(WorkloadObservation) + same rest", fmt_s(f.bulk_median), ""],
            ["ratio baseline / write_snapshot", f"{ratio:.1f}×", ""],
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", type=int, help="one size only (default: both sizes)")
    parser.add_argument("--namespaces", type=int, help="default: one per 25 workloads")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    setup_django()
    sizes = [(args.workloads, args.namespaces)] if args.workloads else SIZES
    for workloads, namespaces in sizes:
        report(run(workloads, args.runs, namespaces=namespaces))
    return 0


if __name__ == "__main__":
    sys.exit(main())
