"""`store.write_snapshot` stores exactly what the ORM would (COPY and plain SQL are an
implementation detail), all or nothing in the caller's transaction, with the rollups of
`rollup_counts` and the day's totals."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Model

from adoption import store
from adoption.models import (
    AuthMethod,
    Cluster,
    DailyRollup,
    DailyTotal,
    DailyTribeTotal,
    NamespaceObservation,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
    Squad,
    Tribe,
    WorkloadObservation,
)
from adoption.store import COUNT_FIELDS, NamespaceRow, WorkloadRow, rollup_counts

pytestmark = pytest.mark.django_db

AT = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
AWKWARD = 'tab\there, new\nline, cr\r, back\\slash, "quotes", \\N, é ✓ 🚀, {"json": [1]}'


def _rows(seed: int = 1, n: int = 60) -> tuple[list[WorkloadRow], list[NamespaceRow]]:
    rng = random.Random(seed)
    namespaces = [
        NamespaceRow(
            namespace=f"ns-{i}",
            tribe=["t1", "t2", "", "t3"][i % 4],
            injection=rng.choice(["sidecar-default", "ambient", "not-enrolled", "system-ignored"]),
            revision=rng.choice(["", "default", "1-28-0"]),
            system=i == 5,
            pods_total=rng.randint(0, 9),
            pods_meshed=rng.randint(0, 9),
            workloads_total=rng.randint(0, 9),
            workloads_meshed=rng.randint(0, 9),
            conflicts=rng.choice([None, [], ["a", AWKWARD]]),
            labels=rng.choice([None, {}, {"tribe": "t1", "k\tey": AWKWARD}]),
        )
        for i in range(8)
    ]
    states = ["meshed", "partial", "missing-proxy", "opted-out", "ineligible", "not-enrolled"]
    workloads = []
    for j in range(n):
        ns = namespaces[j % len(namespaces)]
        state = rng.choice([*states, "ambient-pending", "idle"])
        pods = rng.randint(0, 4)
        workloads.append(
            WorkloadRow(
                namespace=ns.namespace,
                kind=rng.choice(["Deployment", "StatefulSet"]),
                name=f"w-{j}" if j % 7 else f"w-{j}-{AWKWARD}",
                tribe=ns.tribe,
                squad=rng.choice(["s1", "s2", ""]),
                system=ns.system,
                state=state,
                squad_label=rng.choice(["", "s1"]),
                reason=AWKWARD if j % 3 == 0 else f"rule W{j}",
                pods_total=pods,
                pods_meshed=rng.randint(0, pods),
                pods_missing=rng.randint(0, pods),
                mesh_mode=rng.choice(["none", "sidecar", "ambient"]),
                injection_expected=rng.random() < 0.5,
                revision_requested=rng.choice(["", "default"]),
                revision_used=rng.choice(["", "1-28-0"]),
                proxy_versions=rng.choice([None, [], ["1.27.1"], ["1.26.0", "1.27.1"]]),
                control_plane_version="1.27.1",
                behind=rng.random() < 0.3,
                proxy_cpu_request_m=rng.randint(0, 500),
                proxy_cpu_limit_m=rng.randint(0, 2000),
                proxy_memory_request_b=rng.randint(0, 2**40),
                proxy_memory_limit_b=rng.randint(0, 2**40),
                missing_since=rng.choice([None, AT - timedelta(days=3, microseconds=17)]),
                services=rng.choice([None, [], ["svc", AWKWARD]]),
                has_virtualservice=rng.random() < 0.5,
                has_destinationrule=rng.random() < 0.5,
                timeout=rng.random() < 0.5,
                retries=rng.random() < 0.5,
                fault=rng.random() < 0.5,
                circuit_breaking=rng.random() < 0.5,
                outlier_detection=rng.random() < 0.5,
                mtls_mode=rng.choice(["STRICT", "UNSET"]),
                diagnostics=rng.choice([None, [], ["MB0001", "IST0103"]]),
                waived=rng.random() < 0.2,
            )
        )
    return workloads, namespaces


def _stored(model: type[Model], snapshot: Snapshot, key: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = list(model.objects.filter(snapshot=snapshot).values())  # type: ignore[attr-defined]
    for row in rows:
        del row["id"], row["snapshot_id"]
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(name="c", auth_method=AuthMethod.KUBECONFIG, kubeconfig_path="/x")


def _snapshot(cluster: Cluster, at: datetime = AT) -> Snapshot:
    return Snapshot.objects.create(cluster=cluster, started_at=at, status=SnapshotStatus.OK)


def test_it_stores_what_the_orm_stores(cluster: Cluster) -> None:
    workloads, namespaces = _rows()
    ours, reference = _snapshot(cluster), _snapshot(cluster, AT - timedelta(hours=1))
    with transaction.atomic():
        store.write_snapshot(ours, workloads, namespaces)
    with transaction.atomic():
        store.write_observations_orm(reference, workloads, namespaces)

    wl_key = ("namespace", "kind", "name")
    for model, key in ((WorkloadObservation, wl_key), (NamespaceObservation, ("namespace",))):
        got, want = _stored(model, ours, key), _stored(model, reference, key)
        for row in want:
            row["observed_at"] = ours.started_at
        assert got == want
    assert len(got) == len(namespaces)
    one = WorkloadObservation.objects.get(snapshot=ours, name=f"w-0-{AWKWARD}")
    assert one.reason == AWKWARD and one.namespace == "ns-0"


def test_its_rollups_are_the_counts_and_the_days_totals_their_sums(cluster: Cluster) -> None:
    workloads, namespaces = _rows(seed=2, n=200)
    snap = _snapshot(cluster)
    with transaction.atomic():
        store.write_snapshot(snap, workloads, namespaces)

    counts = rollup_counts(workloads, namespaces)
    for model in (SnapshotRollup, DailyRollup):
        stored = {
            (r["tribe"], r["squad"]): {k: r[k] for k in COUNT_FIELDS}
            for r in model.objects.filter(snapshot=snap).values("tribe", "squad", *COUNT_FIELDS)
        }
        assert stored == counts
    assert set(DailyRollup.objects.values_list("day", "observed_at", "cluster_id")) == {
        (AT.date(), AT, cluster.pk)
    }
    total = DailyTotal.objects.get()
    assert (total.day, total.snapshot_id, total.tribe, total.squad) == (AT.date(), snap.pk, "", "")
    assert {k: getattr(total, k) for k in COUNT_FIELDS} == {
        k: sum(c[k] for c in counts.values()) for k in COUNT_FIELDS
    }
    tribes = {t.tribe: t for t in DailyTribeTotal.objects.all()}
    assert set(tribes) == {t for t, _ in counts}
    for tribe, row in tribes.items():
        assert row.squad == "" and row.snapshot_id == snap.pk
        want = {k: sum(c[k] for (t, _), c in counts.items() if t == tribe) for k in COUNT_FIELDS}
        assert {k: getattr(row, k) for k in COUNT_FIELDS} == want
    # the org chart grew by the names it saw, in name order
    assert list(Tribe.objects.order_by("pk").values_list("name", flat=True)) == ["t1", "t2", "t3"]
    pairs = {(w.tribe, w.squad) for w in workloads if w.tribe and w.squad}
    assert set(Squad.objects.values_list("tribe__name", "name")) == pairs
    assert [(s.tribe.name, s.name) for s in Squad.objects.order_by("pk")] == sorted(pairs)


def test_the_days_latest_snapshot_replaces_the_days_rows(cluster: Cluster) -> None:
    first, second = _rows(seed=3), _rows(seed=4)
    a, b = _snapshot(cluster), _snapshot(cluster, AT + timedelta(hours=2))
    with transaction.atomic():
        store.write_snapshot(a, *first)
    total_id = DailyTotal.objects.get().pk
    tribes, squads = Tribe.objects.count(), Squad.objects.count()
    with transaction.atomic():
        store.write_snapshot(b, *second)

    assert set(DailyRollup.objects.values_list("snapshot_id", flat=True)) == {b.pk}
    assert set(DailyTribeTotal.objects.values_list("snapshot_id", flat=True)) == {b.pk}
    total = DailyTotal.objects.get()
    assert (total.pk, total.snapshot_id, total.observed_at) == (total_id, b.pk, b.started_at)
    counts = rollup_counts(*second)
    assert total.workloads_total == sum(c["workloads_total"] for c in counts.values())
    # each snapshot keeps its own rollup; no org row twice
    assert SnapshotRollup.objects.filter(snapshot=a).count() == len(rollup_counts(*first))
    assert SnapshotRollup.objects.filter(snapshot=b).count() == len(counts)
    assert (Tribe.objects.count(), Squad.objects.count()) == (tribes, squads)

    # an earlier poll written late stores its observations and rollup, not the day's rows
    c = _snapshot(cluster, AT - timedelta(hours=2))
    with transaction.atomic():
        store.write_snapshot(c, *first)
    assert DailyTotal.objects.get().snapshot_id == b.pk
    assert set(DailyRollup.objects.values_list("snapshot_id", flat=True)) == {b.pk}
    assert SnapshotRollup.objects.filter(snapshot=c).exists()


def test_rewriting_a_snapshots_rollups_replaces_them(cluster: Cluster) -> None:
    workloads, namespaces = _rows(seed=5)
    snap = _snapshot(cluster)
    with transaction.atomic():
        store.write_snapshot(snap, workloads, namespaces)
        moved = [replace(w, tribe="t9") for w in workloads]
        store.write_rollups(snap, rollup_counts(moved, namespaces))

    groups = set(SnapshotRollup.objects.values_list("tribe", "squad"))
    assert groups == set(rollup_counts(moved, namespaces))
    assert {t for t, _ in groups} == {"t9"} | {ns.tribe for ns in namespaces if not ns.system}
    assert set(DailyRollup.objects.values_list("tribe", "squad")) == groups


def _state() -> list[object]:
    """Row counts of every table a snapshot writes, and which snapshot stands for the day."""
    tables = (WorkloadObservation, NamespaceObservation, SnapshotRollup, DailyRollup)
    counts: list[object] = [m.objects.count() for m in tables]
    return [*counts, DailyTribeTotal.objects.count(), DailyTotal.objects.get().snapshot_id]


@pytest.mark.parametrize("broken", ["workload", "namespace", "rollups"])
def test_a_failure_leaves_nothing_of_the_snapshot(
    cluster: Cluster, broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _snapshot(cluster, AT - timedelta(hours=1))
    with transaction.atomic():
        store.write_snapshot(good, *_rows(seed=6))
    before = _state()
    workloads, namespaces = _rows(seed=7)
    workloads = [replace(w, tribe="t-new") if w.tribe == "t1" else w for w in workloads]
    if broken == "workload":  # the same workload twice: the unique constraint stops the COPY
        workloads.append(workloads[-1])
    elif broken == "namespace":
        namespaces.append(namespaces[0])
    else:  # the org rows are in, then the rollups fail

        def fail(*args: object) -> None:
            assert Tribe.objects.filter(name="t-new").exists()
            raise IntegrityError("rollups failed")

        monkeypatch.setattr(store, "write_rollups", fail)
    snap = _snapshot(cluster)

    with pytest.raises(IntegrityError), transaction.atomic():
        store.write_snapshot(snap, workloads, namespaces)
    monkeypatch.undo()

    assert _state() == before
    assert not Tribe.objects.filter(name="t-new").exists()
    # and the connection is usable afterwards
    with transaction.atomic():
        store.write_snapshot(snap, workloads[:-1], _rows(seed=7)[1])
    assert DailyTotal.objects.get().snapshot_id == snap.pk
    assert Tribe.objects.filter(name="t-new").exists()


def test_an_empty_snapshot_writes_only_its_day_total(cluster: Cluster) -> None:
    snap = _snapshot(cluster)
    with transaction.atomic():
        store.write_snapshot(snap, [], [])

    assert not WorkloadObservation.objects.exists() and not SnapshotRollup.objects.exists()
    total = DailyTotal.objects.get()
    assert total.snapshot_id == snap.pk and all(getattr(total, k) == 0 for k in COUNT_FIELDS)
    assert not Tribe.objects.exists()
