"""The quick start's back-fill and the README contract."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adoption.models import AuthMethod, Cluster, DailyRollup, Snapshot
from meshboard.quickstart import backfill, seed_demo

ROOT = Path(__file__).resolve().parent.parent


class _Clock:
    """The in-process simulator behind the same `clock()` the quick start's child process has."""

    def __init__(self, sim) -> None:  # type: ignore[no-untyped-def]
        self.sim = sim

    def clock(self, at: datetime | None = None, speed: float | None = None) -> None:
        if at is not None:
            self.sim.set_time(at)


@pytest.mark.django_db(transaction=True)
def test_it_backfills_one_snapshot_per_cluster_and_day_idempotently(sim) -> None:  # type: ignore[no-untyped-def]
    for name in sim.cluster_names:
        Cluster.objects.create(
            name=name,
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path=str(sim.kubeconfig_path),
            context=name,
        )
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    days = 6

    backfill(_Clock(sim), days, today)

    clusters = len(sim.cluster_names)
    assert Snapshot.objects.filter(status="ok").count() == days * clusters
    assert DailyRollup.objects.values("day").distinct().count() == days
    first = today - timedelta(days=days)
    assert set(Snapshot.objects.values_list("started_at", flat=True)) == {
        first + timedelta(days=d) for d in range(days)
    }

    requests_before = len(sim.request_log)
    backfill(_Clock(sim), days, today)  # a second run reuses what is stored
    assert Snapshot.objects.count() == days * clusters
    assert len(sim.request_log) == requests_before

    seed_demo(today)
    seed_demo(today)  # once only
    from adoption.models import Target

    assert Target.objects.filter(scope="org").count() == 3


def test_it_runs_the_readmes_test_command_in_ci() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    run_cmd, test_cmd = commands[0].strip(), commands[1].strip()
    assert "meshboard quickstart" in run_cmd and "[embedded]" in run_cmd
    # CI creates the same venv, installs the same extras and runs the same pytest.
    for part in test_cmd.split(" && "):
        assert part.replace("'", "") in ci.replace("'", "").replace(" -q", ""), part
