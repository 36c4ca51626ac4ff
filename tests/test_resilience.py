"""Polling that survives real clusters: every fault kubesim can inject, over real HTTP, with the
stored result checked (status, error text, no partial rows, the previous figures intact)."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connections

from adoption import collect, tasks
from adoption.models import (
    AuthMethod,
    Cluster,
    DailyRollup,
    NamespaceObservation,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
    WorkloadObservation,
)
from tests.conftest import SIM_TIME

ISTIO_PLURALS = {p for plurals in collect.ISTIO_PLURALS.values() for p in plurals}


# --- helpers ------------------------------------------------------------------------------------


def _opts(delays: list[float] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    """The poll's options, with backoff sleeps recorded instead of slept when ``delays`` given."""
    opts = collect.list_options()
    if delays is not None:
        opts = dataclasses.replace(opts, sleep=delays.append)
    return dataclasses.replace(opts, **kw)


def _good_poll(cluster: Cluster) -> Snapshot:
    """A good poll an hour before the poll under test: the figures that must stay current."""
    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME - timedelta(hours=1))
    assert snap.status == SnapshotStatus.OK, snap.error
    return snap


def _rows(snap: Snapshot) -> tuple[int, int, int, int]:
    return (
        NamespaceObservation.objects.filter(snapshot=snap).count(),
        WorkloadObservation.objects.filter(snapshot=snap).count(),
        SnapshotRollup.objects.filter(snapshot=snap).count(),
        DailyRollup.objects.filter(snapshot=snap).count(),
    )


def _assert_failed(sim, cluster, snap, previous, *fragments):  # type: ignore[no-untyped-def]
    """A failed poll: clear one-line error naming host and resource, no rows, no token, and the
    previous good snapshot still the latest with all its rows."""
    assert snap.status == SnapshotStatus.FAILED, snap.error
    error = snap.error
    print("stored error:", error)
    for fragment in fragments:
        assert fragment in error, (fragment, error)
    assert sim.cluster_url(cluster.name) in error, error  # names the cluster's API host
    assert "Traceback" not in error and "\n" not in error and 'File "' not in error
    assert sim.token(cluster.name) not in error
    assert "Bearer" not in error
    assert snap.finished_at is not None
    assert _rows(snap) == (0, 0, 0, 0), "a failed poll wrote observations or rollups"
    latest_ok = Snapshot.objects.ok().filter(cluster=cluster).order_by("-started_at").first()
    assert latest_ok == previous
    assert _rows(previous)[0] > 0 and _rows(previous)[1] > 0


def _requests(sim, cluster: Cluster, resource: str) -> list:  # type: ignore[type-arg]
    """Requests for a resource of the core/apps/... groups (not metrics.k8s.io's "pods")."""
    return [
        r
        for r in sim.request_log
        if r.cluster == cluster.name and r.resource == resource and "metrics.k8s.io" not in r.path
    ]


def _truth_pods(sim, cluster: Cluster) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    rows = [
        r
        for r in sim.fleet.truth(cluster.name, sim.now())
        if r.is_namespace and not r.namespace_system
    ]
    return sum(r.namespace_pods_total for r in rows), sum(r.namespace_pods_meshed for r in rows)


# --- 1. 5xx / 429 --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_retries_500_and_503_then_stores_an_ok_snapshot(sim, cluster):  # type: ignore[no-untyped-def]
    sim.add_fault("500", cluster=cluster.name, resource="pods", count=1)
    sim.add_fault("503", cluster=cluster.name, resource="pods", count=1)
    delays: list[float] = []

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts(delays))

    assert snap.status == SnapshotStatus.OK, snap.error
    assert [r.status for r in _requests(sim, cluster, "pods")][:3] == [500, 503, 200]
    assert delays == [0.5, 1.0]  # exponential backoff
    assert (snap.pods_total, snap.pods_meshed) == _truth_pods(sim, cluster)


@pytest.mark.django_db
def test_it_records_a_persistent_503_as_a_failed_snapshot(sim, cluster):  # type: ignore[no-untyped-def]
    previous = _good_poll(cluster)
    sim.add_fault("503", cluster=cluster.name, resource="pods", count=-1)
    delays: list[float] = []

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts(delays))

    _assert_failed(sim, cluster, snap, previous, "HTTP 503", "pods", "gave up after 5 attempts")
    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert [r.status for r in _requests(sim, cluster, "pods")][-6:] == [200] + [503] * 5


@pytest.mark.django_db
def test_it_honours_retry_after_on_429(sim, cluster):  # type: ignore[no-untyped-def]
    sim.add_fault("429", cluster=cluster.name, resource="deployments", count=2, retry_after=3)
    delays: list[float] = []

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts(delays))

    assert snap.status == SnapshotStatus.OK, snap.error
    assert delays == [3.0, 3.0]  # Retry-After wins over the 0.5 s / 1 s backoff
    assert [r.status for r in _requests(sim, cluster, "deployments")] == [429, 429, 200]


def test_it_sleeps_for_real_between_retries(sim, cluster, db):  # type: ignore[no-untyped-def]
    sim.add_fault("503", cluster=cluster.name, resource="pods", count=2)
    t0 = time.monotonic()
    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts(backoff=0.2))
    assert snap.status == SnapshotStatus.OK, snap.error
    assert time.monotonic() - t0 >= 0.6  # 0.2 + 0.4


# --- 2. 410 Expired ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_restarts_a_list_from_the_beginning_on_410(sim, cluster, settings):  # type: ignore[no-untyped-def]
    settings.MESHBOARD_KUBE_PAGE_SIZE = 20
    sim.add_fault("410", cluster=cluster.name, resource="pods", count=1, after_pages=2)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    assert snap.status == SnapshotStatus.OK, snap.error
    pods = _requests(sim, cluster, "pods")
    statuses = [(r.status, "continue" in r.query) for r in pods]
    assert statuses[:4] == [(200, False), (200, True), (410, True), (200, False)]
    assert all(status == 200 for status, _ in statuses[3:])
    # the stored figures are the fleet's truth: nothing counted twice, nothing lost
    assert (snap.pods_total, snap.pods_meshed) == _truth_pods(sim, cluster)
    truth = {
        (r.namespace, r.kind, r.name): (r.pods_total, r.pods_meshed)
        for r in sim.fleet.truth(cluster.name, sim.now())
        if not r.is_namespace
    }
    stored = {
        (w.namespace, w.kind, w.name): (w.pods_total, w.pods_meshed)
        for w in WorkloadObservation.objects.filter(snapshot=snap)
    }
    assert stored == truth


@pytest.mark.django_db
def test_it_gives_up_after_bounded_restarts_on_repeated_410(sim, cluster, settings):  # type: ignore[no-untyped-def]
    previous = _good_poll(cluster)
    settings.MESHBOARD_KUBE_PAGE_SIZE = 20
    sim.request_log.clear()
    sim.add_fault("410", cluster=cluster.name, resource="pods", count=-1, after_pages=2)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    _assert_failed(sim, cluster, snap, previous, "410 Expired listing pods", "4 times in a row")
    pods = _requests(sim, cluster, "pods")
    assert [r.status for r in pods] == [200, 200, 410] * 4  # 1 list + 3 restarts, then stop


# --- 3. timeouts --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_fails_a_poll_on_a_hung_server_in_bounded_time(sim, cluster, settings):  # type: ignore[no-untyped-def]
    previous = _good_poll(cluster)
    settings.MESHBOARD_KUBE_READ_TIMEOUT = 0.5
    sim.add_fault("slow", cluster=cluster.name, resource="pods", count=-1, delay=3)

    t0 = time.monotonic()
    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)
    elapsed = time.monotonic() - t0

    _assert_failed(
        sim, cluster, snap, previous, "timeout listing pods", "after 0.5 s", "READ_TIMEOUT"
    )
    assert "gave up after 2 attempts" in snap.error
    assert elapsed < 3, f"a hung server held the poll {elapsed:.1f} s"


@pytest.mark.django_db
def test_it_stops_a_poll_at_its_time_budget(sim, cluster, settings):  # type: ignore[no-untyped-def]
    """Slow but within the read timeout on every page: the poll's budget (below the soft time
    limit) ends it with a recorded failure instead of Celery killing it."""
    previous = _good_poll(cluster)
    settings.MESHBOARD_POLL_SOFT_TIME_LIMIT = 4  # budget: 2 s
    settings.MESHBOARD_KUBE_PAGE_SIZE = 20
    sim.add_fault("slow", cluster=cluster.name, resource="pods", count=-1, delay=0.7)

    t0 = time.monotonic()
    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)
    elapsed = time.monotonic() - t0

    _assert_failed(sim, cluster, snap, previous, "timeout listing pods", "time budget")
    assert elapsed < 4


# --- 4. broken bodies and connections -----------------------------------------------------------

BROKEN = [
    ("truncated", "the response body was truncated"),
    ("malformed", "malformed response listing pods"),
    ("reset", "connection to"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "text"), BROKEN)
def test_it_records_a_broken_response_clearly(sim, cluster, fault, text):  # type: ignore[no-untyped-def]
    previous = _good_poll(cluster)
    sim.add_fault(fault, cluster=cluster.name, resource="pods", count=-1)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts([]))

    _assert_failed(sim, cluster, snap, previous, text, "pods")
    assert "internal error" not in snap.error


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [f for f, _ in BROKEN])
def test_it_retries_a_broken_response_once(sim, cluster, fault):  # type: ignore[no-untyped-def]
    sim.add_fault(fault, cluster=cluster.name, resource="pods", count=1)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts([]))

    assert snap.status == SnapshotStatus.OK, snap.error
    assert (snap.pods_total, snap.pods_meshed) == _truth_pods(sim, cluster)


def test_reset_is_described_as_a_reset(sim, cluster, db):  # type: ignore[no-untyped-def]
    sim.add_fault("reset", cluster=cluster.name, resource="pods", count=-1)
    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME, opts=_opts([]))
    assert snap.status == SnapshotStatus.FAILED
    assert "reset" in snap.error or "closed the connection" in snap.error, snap.error


# --- 5. RBAC: a gap, or a failure for required resources ---------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("resource", "gap"),
    [("replicasets", "replicasets"), ("virtualservices", "virtualservices.networking.istio.io")],
)
def test_a_403_on_an_optional_resource_is_a_recorded_gap(  # type: ignore[no-untyped-def]
    sim, cluster, viewer_client, resource, gap
):
    sim.add_fault("403", cluster=cluster.name, resource=resource, count=-1)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    assert snap.status == SnapshotStatus.OK, snap.error
    assert snap.error == ""
    assert [(g["resource"], g["kind"]) for g in snap.gaps] == [(gap, "forbidden")]
    assert "403 Forbidden" in snap.gaps[0]["error"]
    assert sim.token(cluster.name) not in snap.gaps[0]["error"]
    assert (snap.pods_total, snap.pods_meshed) == _truth_pods(sim, cluster)
    assert _rows(snap)[0] > 0
    page = viewer_client.get(f"/clusters/{cluster.name}/").content.decode()
    assert f"{gap} (forbidden)" in page


@pytest.mark.django_db
def test_a_403_on_pods_fails_the_poll(sim, cluster):  # type: ignore[no-untyped-def]
    previous = _good_poll(cluster)
    sim.add_fault("403", cluster=cluster.name, resource="pods", count=-1)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    _assert_failed(sim, cluster, snap, previous, "403 Forbidden listing pods", "ClusterRole")
    assert len(_requests(sim, cluster, "pods")) == 2  # the good poll's one + one, not retried


# --- 6. a cluster without Istio -------------------------------------------------------------------


@pytest.fixture
def no_istio_sim() -> Iterator[object]:
    from kubesim.fleet import Fleet
    from kubesim.spec import demo_clusters
    from kubesim.testing import running_kubesim

    with running_kubesim(
        Fleet(42, demo_clusters(no_istio_cluster=True)), speed=0, start=SIM_TIME
    ) as s:
        yield s


@pytest.mark.django_db
def test_a_cluster_without_istio_is_an_ok_snapshot(no_istio_sim):  # type: ignore[no-untyped-def]
    sim = no_istio_sim
    name = next(c.name for c in sim.fleet.clusters if not c.istio)
    cluster = Cluster.objects.create(
        name=name,
        auth_method=AuthMethod.KUBECONFIG,
        kubeconfig_path=str(sim.kubeconfig_path),
        context=name,
    )

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    assert snap.status == SnapshotStatus.OK, snap.error
    assert snap.error == "" and snap.gaps == []
    assert snap.istio_versions in ({}, [])
    assert snap.pods_total > 0 and snap.pods_meshed == 0
    assert not [r for r in sim.request_log if r.resource in ISTIO_PLURALS]
    assert not WorkloadObservation.objects.filter(snapshot=snap, state="meshed").exists()
    assert not WorkloadObservation.objects.filter(snapshot=snap, has_virtualservice=True).exists()
    assert (snap.pods_total, snap.pods_meshed) == _truth_pods(sim, cluster)


# --- 7. one bad cluster never delays the others -------------------------------------------------


@pytest.fixture(scope="session")
def celery_config():  # type: ignore[no-untyped-def]
    return {
        "broker_url": django_settings.CELERY_BROKER_URL,
        "task_default_queue": f"meshboard-resilience-{uuid.uuid4().hex[:8]}",
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "worker_prefetch_multiplier": 1,
        "task_acks_late": True,
    }


@pytest.fixture(scope="session")
def celery_worker_pool():  # type: ignore[no-untyped-def]
    return "threads"


@pytest.fixture(scope="session")
def celery_worker_parameters():  # type: ignore[no-untyped-def]
    return {"perform_ping_check": False, "concurrency": 2}


@pytest.fixture
def close_worker_connections():  # type: ignore[no-untyped-def]
    from celery.signals import task_postrun

    def close(**kwargs: object) -> None:
        connections.close_all()

    task_postrun.connect(close, weak=False)
    yield
    task_postrun.disconnect(close)


@pytest.mark.django_db(transaction=True)
def test_a_hung_cluster_does_not_delay_a_healthy_one(  # type: ignore[no-untyped-def]
    close_worker_connections, celery_app, celery_worker, sim, settings
):
    settings.MESHBOARD_KUBE_READ_TIMEOUT = 1.5
    bad_name, good_name = sim.cluster_names[:2]
    bad, good = (
        Cluster.objects.create(
            name=n,
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path=str(sim.kubeconfig_path),
            context=n,
        )
        for n in (bad_name, good_name)
    )
    sim.add_fault("slow", cluster=bad_name, resource="pods", count=-1, delay=5)
    at = SIM_TIME.isoformat()

    t0 = time.monotonic()
    tasks.poll_cluster.delay(bad.pk, at)  # the bad one first: it must not hold up the good one
    tasks.poll_cluster.delay(good.pk, at)

    bad_status_when_good_landed = None
    while True:
        assert time.monotonic() - t0 < 30, "polls did not finish within 30 s"
        statuses = dict(Snapshot.objects.values_list("cluster__name", "status"))
        if statuses.get(good_name) == SnapshotStatus.OK and bad_status_when_good_landed is None:
            bad_status_when_good_landed = statuses.get(bad_name)
            good_landed_after = time.monotonic() - t0
        if statuses.get(bad_name) == SnapshotStatus.FAILED and statuses.get(good_name) in (
            SnapshotStatus.OK,
            SnapshotStatus.FAILED,
        ):
            break
        time.sleep(0.05)
    bad_done_after = time.monotonic() - t0

    good_snap = Snapshot.objects.get(cluster=good)
    bad_snap = Snapshot.objects.get(cluster=bad)
    assert good_snap.status == SnapshotStatus.OK, good_snap.error
    assert bad_status_when_good_landed == SnapshotStatus.RUNNING
    assert good_landed_after < bad_done_after
    assert "timeout listing pods" in bad_snap.error
    assert good_snap.finished_at < bad_snap.finished_at


# --- 8. two polls of one cluster at once --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_polls_of_one_cluster_write_one_snapshot(sim, cluster):  # type: ignore[no-untyped-def]
    sim.add_fault("slow", cluster=cluster.name, resource="pods", count=1, delay=1.5)
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def poll(at: str) -> None:
        try:
            barrier.wait()
            results.append(tasks.poll_cluster(cluster.pk, at))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=poll, args=(at,))
        for at in (SIM_TIME.isoformat(), (SIM_TIME + timedelta(seconds=1)).isoformat())
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert sorted(results) == ["locked", SnapshotStatus.OK]
    snap = Snapshot.objects.get(cluster=cluster)
    assert snap.status == SnapshotStatus.OK and snap.attempts == 1
    assert WorkloadObservation.objects.filter(snapshot=snap).count() > 0
    assert Snapshot.objects.count() == 1
