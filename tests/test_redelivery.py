"""A poll killed mid-way (its worker process SIGKILLed) is redelivered, re-run and stored once.

The real thing: a `celery worker` subprocess on the real Redis broker and the test database,
polling kubesim over HTTP; the pool process is killed while it waits on a slow list.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from adoption import collect
from adoption.locks import cluster_lock, lock_key, redis_client
from adoption.models import (
    DailyRollup,
    NamespaceObservation,
    Snapshot,
    SnapshotRollup,
    SnapshotStatus,
    WorkloadObservation,
)
from tests.conftest import SIM_TIME, current_database_url

ROOT = Path(__file__).resolve().parent.parent


def _start_worker(queue: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "meshboard.settings",
        "DATABASE_URL": current_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": str(ROOT),
    }
    cmd = [
        sys.executable, "-m", "celery", "-A", "meshboard", "worker",
        "--pool", "prefork", "--concurrency", "1", "-Q", queue,
        "-n", f"redelivery-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]  # fmt: skip
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a worker we started and the pool processes it forked (by pid, nothing else)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def _wait(predicate, timeout: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            pytest.fail(f"timed out waiting for {what}; worker log:\n{tail}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_poll_killed_mid_way_is_rerun_and_stored_once(sim, cluster, tmp_path):  # type: ignore[no-untyped-def]
    from meshboard.celery import app

    queue = f"meshboard-redelivery-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    # The first attempt hangs on the pods list (well within the read timeout) until killed.
    sim.add_fault("slow", cluster=cluster.name, resource="pods", count=1, delay=8)
    scheduled = SIM_TIME.isoformat()
    first = _start_worker(queue, log)
    second: subprocess.Popen[bytes] | None = None
    task_id = ""
    try:
        task_id = app.send_task(
            "adoption.tasks.poll_cluster", args=(cluster.pk, scheduled), queue=queue
        ).id

        # The slow fault is taken when the pods request arrives: the poll is now mid-way, its
        # snapshot row claimed and the cluster lock held.
        _wait(lambda: not sim.app.faults.rules(), 30, "the slow pods request", log)
        snap = Snapshot.objects.get(cluster=cluster, started_at=SIM_TIME)
        assert (snap.status, snap.attempts) == (SnapshotStatus.RUNNING, 1)
        assert redis_client().exists(lock_key(cluster.pk))
        (child,) = psutil.Process(first.pid).children()
        child.send_signal(signal.SIGKILL)

        # The parent requeues the unacked message at once (acks_late + reject_on_worker_lost);
        # a new worker joins too. Whichever runs it, it is re-run despite the dead poll's lock.
        second = _start_worker(queue, log)
        _wait(
            lambda: Snapshot.objects.filter(pk=snap.pk, status=SnapshotStatus.OK).exists(),
            40,
            "the re-run poll's ok snapshot",
            log,
        )
        time.sleep(1)  # a duplicate delivery, if any, would have written by now
    finally:
        for proc in (first, second):
            if proc is not None:
                _stop(proc)
        # never leave this poll's lock behind for a later run reusing the cluster's pk
        if redis_client().get(lock_key(cluster.pk)) == f"task:{task_id}".encode():
            redis_client().delete(lock_key(cluster.pk))

    snap.refresh_from_db()
    assert snap.status == SnapshotStatus.OK and snap.error == ""
    assert snap.attempts == 2
    assert Snapshot.objects.filter(cluster=cluster).count() == 1
    assert not redis_client().exists(lock_key(cluster.pk)), "the re-run released the lock"
    # no duplicates: the observations are exactly one poll's worth
    keys = list(WorkloadObservation.objects.values_list("namespace", "kind", "name"))
    assert keys and len(keys) == len(set(keys))
    assert NamespaceObservation.objects.filter(snapshot=snap).count() == snap.namespaces_total
    rollups = list(SnapshotRollup.objects.values_list("snapshot_id", "tribe", "squad"))
    assert len(rollups) == len(set(rollups)) and {r[0] for r in rollups} == {snap.pk}
    assert set(DailyRollup.objects.values_list("snapshot_id", flat=True)) == {snap.pk}
    assert sum(DailyRollup.objects.values_list("pods_total", flat=True)) == snap.pods_total


# --- the lock's takeover rule ------------------------------------------------------------------


def test_only_a_redelivery_of_the_same_task_takes_over_a_held_lock() -> None:
    cid = 900_000 + os.getpid() % 1000
    redis_client().delete(lock_key(cid))
    with cluster_lock(cid, token="task:a") as held:
        assert held
        with cluster_lock(cid) as other:
            assert not other  # a direct call
        with cluster_lock(cid, token="task:b") as other:
            assert not other  # another task (e.g. the next interval's poll)
        with cluster_lock(cid, token="task:a") as same:
            assert same  # the same task redelivered after its worker died
            ttl = redis_client().pttl(lock_key(cid))
            assert ttl > settings.CELERY_TASK_TIME_LIMIT * 1000
    assert not redis_client().exists(lock_key(cid))


# --- a poll that keeps killing its worker is not redelivered forever ----------------------------


@pytest.mark.django_db
def test_a_poll_whose_worker_died_too_often_is_abandoned(sim, cluster):  # type: ignore[no-untyped-def]
    Snapshot.objects.create(
        cluster=cluster,
        started_at=SIM_TIME,
        status=SnapshotStatus.RUNNING,
        attempts=collect.MAX_ATTEMPTS,
    )
    sim.request_log.clear()

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME)

    assert snap.status == SnapshotStatus.FAILED
    assert "worker was lost 3 times" in snap.error
    assert sim.request_log == []  # not polled again
    assert not WorkloadObservation.objects.exists()
