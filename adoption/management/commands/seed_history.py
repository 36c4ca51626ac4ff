"""``manage.py seed_history``: synthetic daily rollup history for benchmarks and demos.

    manage.py seed_history --clusters 20 --workloads 5000 --days 365 \
        [--tribes 8 --squads-per-tribe 5] [--snapshot-days 2] [--seed 1]

Writes Cluster rows ``bench-01..NN`` and, per cluster and day, one DailyRollup row per
(tribe, squad) group plus one namespace row per tribe (squad ""), and their sums per tribe
(DailyTribeTotal) and per cluster (DailyTotal), like `store.write_rollups` does — directly with
COPY, no observations. With ``--snapshot-days N`` (default 2) the last N
days also get per-snapshot SnapshotRollup rows (one ok Snapshot per cluster every 6 hours).
Adoption rises over time along a per-group logistic curve; everything is a pure function of
``--seed``. Idempotent: it first deletes the bench-* clusters (and, by cascade, their rows).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from adoption.models import (
    Cluster,
    DailyRollup,
    DailyTotal,
    DailyTribeTotal,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
)
from adoption.store import COUNT_FIELDS

PREFIX = "bench-"
TRIBE_NAMES = [
    "payments",
    "commerce",
    "logistics",
    "identity",
    "data",
    "platform",
    "media",
    "growth",
    "risk",
    "support",
    "mobile",
    "search",
]
SQUAD_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
]


def group_names(tribes: int, squads_per_tribe: int) -> list[tuple[str, str]]:
    """(tribe, squad) pairs: ``tribes`` × ``squads_per_tribe`` named groups."""
    out = []
    for t in range(tribes):
        tribe = TRIBE_NAMES[t % len(TRIBE_NAMES)] + (f"-{t // len(TRIBE_NAMES)}" if t >= 12 else "")
        for s in range(squads_per_tribe):
            word = SQUAD_WORDS[s % len(SQUAD_WORDS)]
            out.append((tribe, f"{word}-{s // len(SQUAD_WORDS)}" if s >= 10 else word))
    return out


class _Group:
    """One (cluster, tribe, squad) group's static shape and adoption curve."""

    def __init__(self, rng: random.Random, tribe: str, squad: str, workloads: int, days: int):
        self.tribe, self.squad, self.workloads = tribe, squad, workloads
        self.pods_per_workload = rng.uniform(1.5, 4.0)
        self.start = rng.uniform(0.05, 0.3)  # meshed share on day 0
        self.end = rng.uniform(0.6, 0.98)  # meshed share the curve tends to
        self.mid = rng.uniform(0.2, 0.8) * days  # day of fastest adoption
        self.steep = rng.uniform(4.0, 12.0) / max(days, 1)
        self.idle = rng.uniform(0.0, 0.05)
        self.ineligible = rng.uniform(0.0, 0.04)
        self.opted_out = rng.uniform(0.0, 0.03)
        self.service_share = rng.uniform(0.5, 0.95)
        self.resilience = rng.uniform(0.05, 0.6)

    def counts(self, rng: random.Random, day_index: int) -> dict[str, int]:
        share = self.start + (self.end - self.start) / (
            1 + math.exp(-self.steep * (day_index - self.mid))
        )
        wl = max(1, round(self.workloads * rng.uniform(0.98, 1.02)))
        idle = round(wl * self.idle)
        total = wl - idle
        ineligible, opted = round(total * self.ineligible), round(total * self.opted_out)
        eligible = max(total - ineligible - opted, 0)
        meshed = min(eligible, round(eligible * share))
        rest = eligible - meshed
        partial, missing = round(rest * 0.05), round(rest * 0.1)
        pending = round(rest * 0.02)
        waived = round(rest * 0.03)
        not_enrolled = max(rest - partial - missing - pending, 0)
        with_service = round(meshed * self.service_share)
        res = self.resilience * min(1.0, share + 0.2)
        pods_total = round(total * self.pods_per_workload)
        pods_meshed = min(pods_total, round(meshed * self.pods_per_workload))
        c = dict.fromkeys(COUNT_FIELDS, 0)
        c.update(
            workloads_total=total,
            workloads_meshed=meshed,
            workloads_partial=partial,
            workloads_missing=missing,
            workloads_opted_out=opted,
            workloads_ineligible=ineligible,
            workloads_not_enrolled=not_enrolled,
            workloads_ambient_pending=pending,
            workloads_idle=idle,
            workloads_waived=waived,
            workloads_behind=round(meshed * rng.uniform(0.0, 0.15)),
            meshed_with_service=with_service,
            resilience_timeouts=round(with_service * res),
            resilience_retries=round(with_service * res * 0.8),
            resilience_circuit_breaking=round(with_service * res * 0.4),
            resilience_outlier_detection=round(with_service * res * 0.3),
            pods_total=pods_total,
            pods_meshed=pods_meshed,
            proxy_cpu_request_m=pods_meshed * 100,
            proxy_memory_request_b=pods_meshed * 128 * 1024 * 1024,
        )
        return c


def _namespace_counts(namespaces: int, enabled_share: float) -> dict[str, int]:
    c = dict.fromkeys(COUNT_FIELDS, 0)
    c["namespaces_total"] = namespaces
    c["namespaces_enabled"] = min(namespaces, round(namespaces * enabled_share))
    return c


def seed_history(
    *,
    clusters: int = 20,
    workloads: int = 5000,
    days: int = 365,
    tribes: int = 8,
    squads_per_tribe: int = 5,
    snapshot_days: int = 2,
    seed: int = 1,
    end: date | None = None,
    progress: Any = None,
) -> dict[str, int]:
    """Replace the bench-* clusters' history; returns row counts. ``progress(advance)`` is
    called once per cluster-day written (for a progress bar)."""
    end = end or datetime.now(UTC).date()
    first = end - timedelta(days=days - 1)
    pairs = group_names(tribes, squads_per_tribe)
    counts = {"clusters": 0, "daily_rows": 0, "snapshots": 0, "snapshot_rows": 0}
    daily_cols = ["day", "cluster_id", "snapshot_id", "observed_at", "tribe", "squad"]
    daily_cols += COUNT_FIELDS
    snap_cols = ["snapshot_id", "cluster_id", "observed_at", "tribe", "squad", *COUNT_FIELDS]
    daily_sql = f"COPY {DailyRollup._meta.db_table} ({', '.join(daily_cols)}) FROM STDIN"  # noqa: S608
    snap_sql = f"COPY {SnapshotRollup._meta.db_table} ({', '.join(snap_cols)}) FROM STDIN"  # noqa: S608
    with transaction.atomic():
        Cluster.objects.filter(name__startswith=PREFIX).delete()
    for ci in range(clusters):
        rng = random.Random(f"{seed}:{ci}")  # noqa: S311 - synthetic data, not crypto
        name = f"{PREFIX}{ci + 1:02d}"
        cluster = Cluster.objects.create(
            name=name,
            environment="staging" if ci % 5 == 4 else "production",
            kubeconfig_path="/dev/null",
            context=name,
            enabled=True,
        )
        counts["clusters"] += 1
        # spread the cluster's workloads unevenly over the groups (some squads are big)
        weights = [rng.paretovariate(1.5) for _ in pairs]
        total_w = sum(weights)
        groups = [
            _Group(rng, t, s, max(1, round(workloads * w / total_w)), days)
            for (t, s), w in zip(pairs, weights, strict=True)
        ]
        tribe_names = sorted({t for t, _ in pairs})
        tribe_ns = {t: rng.randint(3, 12) for t in tribe_names}
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(daily_sql) as copy:
                for di in range(days):
                    day = first + timedelta(days=di)
                    observed = datetime.combine(day, time(23, 55), tzinfo=UTC)
                    for g in groups:
                        c = g.counts(rng, di)
                        copy.write_row(
                            [
                                day,
                                cluster.pk,
                                None,
                                observed,
                                g.tribe,
                                g.squad,
                                *(c[f] for f in COUNT_FIELDS),
                            ]
                        )
                    share = min(1.0, 0.2 + 0.7 * di / max(days, 1))
                    for t in tribe_names:
                        c = _namespace_counts(tribe_ns[t], share)
                        copy.write_row(
                            [day, cluster.pk, None, observed, t, "", *(c[f] for f in COUNT_FIELDS)]
                        )
                    counts["daily_rows"] += len(groups) + len(tribe_names)
                    if progress:
                        progress(1)
            # The org-wide per-cluster and per-tribe totals, as store.write_rollups keeps them.
            cols = ", ".join(COUNT_FIELDS)
            sums = ", ".join(f"SUM({f})" for f in COUNT_FIELDS)
            cursor.execute(
                f"INSERT INTO {DailyTotal._meta.db_table} "  # noqa: S608
                f"(day, cluster_id, snapshot_id, observed_at, tribe, squad, {cols}) "
                f"SELECT day, cluster_id, NULL, max(observed_at), '', '', {sums} "
                f"FROM {DailyRollup._meta.db_table} WHERE cluster_id = %s GROUP BY day, cluster_id",
                [cluster.pk],
            )
            cursor.execute(
                f"INSERT INTO {DailyTribeTotal._meta.db_table} "  # noqa: S608
                f"(day, cluster_id, snapshot_id, observed_at, tribe, squad, {cols}) "
                f"SELECT day, cluster_id, NULL, max(observed_at), tribe, '', {sums} "
                f"FROM {DailyRollup._meta.db_table} WHERE cluster_id = %s "
                "GROUP BY day, cluster_id, tribe",
                [cluster.pk],
            )
            if snapshot_days > 0:
                _seed_snapshots(
                    cursor,
                    cluster,
                    groups,
                    tribe_ns,
                    rng,
                    days,
                    end,
                    min(snapshot_days, days),
                    snap_sql,
                    counts,
                )
    with connection.cursor() as cursor:
        # VACUUM (the steady state autovacuum reaches: index-only scans without heap fetches)
        # cannot run inside a transaction, e.g. a test's; ANALYZE then.
        verb = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
        for model in (DailyRollup, DailyTotal, DailyTribeTotal, SnapshotRollup):
            cursor.execute(f"{verb} {model._meta.db_table}")  # noqa: S608
    return counts


def _seed_snapshots(
    cursor: Any,
    cluster: Cluster,
    groups: list[_Group],
    tribe_ns: dict[str, int],
    rng: random.Random,
    days: int,
    end: date,
    snapshot_days: int,
    sql: str,
    counts: dict[str, int],
) -> None:
    """Four ok snapshots a day (every 6 h) with their SnapshotRollup rows for the last days."""
    snaps = []
    for d in range(snapshot_days):
        day = end - timedelta(days=snapshot_days - 1 - d)
        for hour in (0, 6, 12, 18):
            at = datetime.combine(day, time(hour), tzinfo=UTC)
            snaps.append(
                Snapshot(
                    cluster=cluster,
                    started_at=at,
                    finished_at=at + timedelta(seconds=30),
                    status=SnapshotStatus.OK,
                    duration_ms=30_000,
                )
            )
    Snapshot.objects.bulk_create(snaps)
    with cursor.cursor.copy(sql) as copy:
        for snap in snaps:
            di = days - 1 - (end - snap.started_at.date()).days
            for g in groups:
                c = g.counts(rng, di)
                copy.write_row(
                    [
                        snap.pk,
                        cluster.pk,
                        snap.started_at,
                        g.tribe,
                        g.squad,
                        *(c[f] for f in COUNT_FIELDS),
                    ]
                )
            for t, n in tribe_ns.items():
                c = _namespace_counts(n, min(1.0, 0.2 + 0.7 * di / max(days, 1)))
                copy.write_row(
                    [snap.pk, cluster.pk, snap.started_at, t, "", *(c[f] for f in COUNT_FIELDS)]
                )
            counts["snapshot_rows"] += len(groups) + len(tribe_ns)
    counts["snapshots"] += len(snaps)


class Command(BaseCommand):
    help = "Seed synthetic DailyRollup history for clusters bench-NN (benchmarks, demos)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clusters", type=int, default=20)
        parser.add_argument("--workloads", type=int, default=5000, help="per cluster")
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--tribes", type=int, default=8)
        parser.add_argument("--squads-per-tribe", type=int, default=5)
        parser.add_argument(
            "--snapshot-days", type=int, default=2, help="days with SnapshotRollup rows (0: none)"
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        for key in ("clusters", "workloads", "days", "tribes", "squads_per_tribe"):
            if opts[key] < 1:
                self.stderr.write(f"--{key.replace('_', '-')} must be ≥ 1")
                raise SystemExit(2)
        kwargs = {
            k: opts[k]
            for k in (
                "clusters",
                "workloads",
                "days",
                "tribes",
                "squads_per_tribe",
                "snapshot_days",
                "seed",
            )
        }
        if opts["no_progress"] or opts["verbosity"] == 0:
            counts = seed_history(**kwargs)
        else:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            with Progress(
                TextColumn("seeding cluster-days"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            ) as bar:
                task = bar.add_task("seed", total=opts["clusters"] * opts["days"])
                counts = seed_history(
                    **kwargs, progress=lambda n: bar.update(task, advance=n, refresh=False)
                )
        if opts["verbosity"] > 0:
            self.stdout.write(
                f"seeded {counts['clusters']} clusters: {counts['daily_rows']:,} daily rollup "
                f"rows, {counts['snapshots']} snapshots with {counts['snapshot_rows']:,} "
                "snapshot rollup rows"
            )
