"""Benchmark: the overview's series query (`progress.series` over the daily rollups) vs history.

    cd /work/main && export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    /work/venv/bin/python benchmarks/bench_series.py [--clusters 20 --workloads 5000] [--runs 15]

Seeds 30 days, then 365 days of 20 clusters × 5,000 workloads in 8 tribes × 5 squads with
`manage.py seed_history`, each into its own database (``<bench db>_30d``, ``<bench db>_365d``),
then times `progress.series` (median of ``--runs``, taken in ``--rounds`` alternating between
the two databases, each after a warm-up, so the shared machine's load changes weigh on both
sides of the ratio alike) for the last 30 days and for the whole history, at org scope (reads
DailyTotal), one tribe's (DailyTribeTotal) and one squad's (DailyRollup). ``--same-database``:
the old way, each history replacing the previous one in the bench database and timed right
after its seeding. The target: the year's history answers in < 100 ms and the same query costs
at most 1.5× what it costs over one month of history (cost follows the points shown, not the
history stored).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402
    ensure_bench_database,
    machine,
    median_time,
    print_table,
    setup_django,
    verdict,
)

TARGET_MS = 100.0
TARGET_GROWTH = 1.5
HISTORIES = (30, 365)


@dataclass
class SeriesFigures:
    clusters: int
    workloads: int
    rows: dict[int, int] = field(default_factory=dict)  # history days → DailyRollup rows
    seed_s: dict[int, float] = field(default_factory=dict)
    # (history days, range label, scope label) → median ms
    ms: dict[tuple[int, str, str], float] = field(default_factory=dict)
    points: dict[tuple[int, str, str], int] = field(default_factory=dict)


def _measure(
    history: int,
    end: date,
    runs: int,
    groups: tuple[str, str],
    f: SeriesFigures,
    samples: dict[tuple[int, str, str], list[float]],
) -> None:
    """Time each (range, scope) query ``runs`` times after a warm-up; add to ``samples``."""
    from adoption import progress

    tribe, squad = groups
    ranges = {
        "last 30 days": end - timedelta(days=29),
        "whole history": end - timedelta(days=history - 1),
    }
    scopes = {
        "org": progress.Scope(),
        f"tribe {tribe}": progress.Scope(tribe=tribe),
        f"squad {tribe}/{squad}": progress.Scope(tribe=tribe, squad=squad),
    }
    for rlabel, start in ranges.items():
        for slabel, scope in scopes.items():
            out: list[int] = []

            def query(
                scope: progress.Scope = scope, start: date = start, out: list[int] = out
            ) -> None:
                grain, pts = progress.series(scope, start, end)
                assert grain == "day"
                out[:] = [len(pts), sum(1 for p in pts if p.clusters)]

            _, times = median_time(query, runs, warmup=2)
            samples[(history, rlabel, slabel)].extend(times)
            f.points[(history, rlabel, slabel)] = out[1]  # points with data


def _use_database(name: str) -> None:
    """Point Django's default connection at database ``name`` (same server)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def run(
    clusters: int = 20,
    workloads: int = 5000,
    histories: tuple[int, ...] = HISTORIES,
    runs: int = 15,
    tribes: int = 8,
    squads_per_tribe: int = 5,
    seed: int = 1,
    *,
    separate_databases: bool = False,
    rounds: int = 1,
) -> SeriesFigures:
    """Seed each history size in turn and time the series queries (Django must be set up).

    With ``separate_databases`` each history is seeded into its own database
    (``<bench db>_<days>d``) and the ``runs`` timings of every query are taken in ``rounds``
    alternating between the histories, so a load change on a shared machine weighs on both
    sides of the ratio alike; otherwise each history replaces the previous one in the current
    database and is timed right after its seeding.
    """
    import time
    from collections import defaultdict

    from django.core.management import call_command
    from django.db import connection

    from adoption.management.commands.seed_history import group_names
    from adoption.models import DailyRollup

    f = SeriesFigures(clusters, workloads)
    end = datetime.now(UTC).date()
    groups = group_names(tribes, squads_per_tribe)[0]
    samples: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    original = connection.settings_dict["NAME"]
    databases: dict[int, str] = {}
    for history in histories:
        if separate_databases:
            databases[history] = f"{original}_{history}d"
            ensure_bench_database(os.environ["DATABASE_URL"], databases[history])
            _use_database(databases[history])
            call_command("migrate", verbosity=0, interactive=False)
        t0 = time.perf_counter()
        call_command(
            "seed_history",
            clusters=clusters,
            workloads=workloads,
            days=history,
            tribes=tribes,
            squads_per_tribe=squads_per_tribe,
            seed=seed,
            snapshot_days=2,
            verbosity=0,
        )
        f.seed_s[history] = time.perf_counter() - t0
        f.rows[history] = DailyRollup.objects.filter(cluster__name__startswith="bench-").count()
        if not separate_databases:
            _measure(history, end, runs, groups, f, samples)
    if separate_databases:
        per_round = max(1, -(-runs // rounds))
        try:
            for _ in range(rounds):
                for history in histories:
                    _use_database(databases[history])
                    _measure(history, end, per_round, groups, f, samples)
        finally:
            _use_database(original)
    f.ms = {key: statistics.median(times) * 1000 for key, times in samples.items()}
    return f


def report(f: SeriesFigures) -> None:
    hs = sorted(f.rows)
    rows = []
    for (history, rlabel, slabel), ms in sorted(f.ms.items()):
        rows.append(
            [
                f"{history} d history ({f.rows[history]:,} rows)",
                rlabel,
                slabel,
                f.points[(history, rlabel, slabel)],
                f"{ms:.1f}",
            ]
        )
    print_table(
        f"progress.series over the daily rollups: {f.clusters} clusters × {f.workloads:,} "
        f"workloads ({machine()}); median ms",
        ["history stored", "range", "scope", "points", "ms"],
        rows,
    )
    if len(hs) < 2:
        return
    small, big = hs[0], hs[-1]
    summary = []
    for rlabel in ("last 30 days", "whole history"):
        for slabel in sorted({s for _, r, s in f.ms if r == rlabel}):
            a, b = f.ms[(small, rlabel, slabel)], f.ms[(big, rlabel, slabel)]
            note = ""
            if rlabel == "last 30 days":
                note = (
                    f"same points; target ≤ {TARGET_GROWTH:g}×: {verdict(b / a <= TARGET_GROWTH)}"
                )
            else:
                note = f"{big}/{small} points (info)"
            summary.append([f"{rlabel}, {slabel}", f"{a:.1f}", f"{b:.1f}", f"{b / a:.2f}×", note])
    worst = max(f.ms[(big, r, s)] for (h, r, s) in f.ms if h == big)
    summary.append(
        [
            f"slowest query on {big} d history",
            "",
            f"{worst:.1f}",
            "",
            f"target < {TARGET_MS:g} ms: {verdict(worst < TARGET_MS)}",
        ]
    )
    print_table(
        f"Growth with history stored ({small} d → {big} d)",
        ["query", f"{small} d ms", f"{big} d ms", "ratio", "note"],
        summary,
    )
    print(
        "seeding: "
        + ", ".join(f"{h} d in {f.seed_s[h]:.1f} s ({f.rows[h]:,} daily rows)" for h in hs)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--workloads", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=15, help="timings per query")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternations between the history databases"
    )
    parser.add_argument(
        "--same-database",
        action="store_true",
        help="seed every history into the one bench database, timing each after its seeding",
    )
    args = parser.parse_args(argv)
    setup_django()
    report(
        run(
            args.clusters,
            args.workloads,
            runs=args.runs,
            separate_databases=not args.same_database,
            rounds=args.rounds,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
