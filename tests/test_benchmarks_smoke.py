"""The benchmark scripts still run: each benchmark's core at toy scale (figures, not timings)."""

from __future__ import annotations

import pytest

from adoption.models import Cluster, DailyRollup, SnapshotRollup
from benchmarks import bench_poll, bench_series, bench_store

pytestmark = pytest.mark.django_db


def test_the_poll_benchmark_produces_its_figures(capsys):  # type: ignore[no-untyped-def]
    f = bench_poll.run(pods=200, sample=50, inprocess=True, runs=1)

    assert f.pods > 100 and f.workloads > 0 and f.pages >= 1
    assert f.e2e_s > 0 and f.read_s > 0 and f.classify_s > 0 and f.store_s > 0
    assert f.client_sample_pods >= 50 and f.client_extrapolated_s > 0 and f.ratio > 0
    assert f.rss_peak_mb > 0
    bench_poll.report(f)
    assert "ratio client / (decode + classify)" in capsys.readouterr().out


def test_the_store_benchmark_produces_its_figures(capsys):  # type: ignore[no-untyped-def]
    f = bench_store.run(workloads=50, runs=1)

    assert len(f.copy_s) == len(f.bulk_s) == 1 and f.groups > 0
    bench_store.report(f)
    assert "ratio baseline / write_snapshot" in capsys.readouterr().out


def test_the_series_benchmark_seeds_and_times_the_series(capsys):  # type: ignore[no-untyped-def]
    f = bench_series.run(clusters=2, workloads=50, histories=(4, 5), runs=1, tribes=2)

    assert f.rows[5] > f.rows[4] > 0
    assert all(ms > 0 for ms in f.ms.values())
    assert f.points[(5, "whole history", "org")] == 5
    assert Cluster.objects.filter(name__startswith="bench-").count() == 2
    assert SnapshotRollup.objects.exists() and DailyRollup.objects.exists()
    bench_series.report(f)
    assert "Growth with history stored" in capsys.readouterr().out


def test_seed_history_is_deterministic_and_idempotent():  # type: ignore[no-untyped-def]
    from adoption.management.commands.seed_history import seed_history

    def snapshot() -> list[tuple[object, ...]]:
        return list(
            DailyRollup.objects.order_by("cluster__name", "day", "tribe", "squad").values_list(
                "cluster__name", "day", "tribe", "squad", "workloads_total", "workloads_meshed"
            )
        )

    seed_history(clusters=2, workloads=40, days=3, tribes=2, squads_per_tribe=2, seed=7)
    first = snapshot()
    seed_history(clusters=2, workloads=40, days=3, tribes=2, squads_per_tribe=2, seed=7)

    assert snapshot() == first
    assert Cluster.objects.filter(name__startswith="bench-").count() == 2
