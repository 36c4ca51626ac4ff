"""``meshboard quickstart``: the whole product on one machine with nothing installed.

1. Embedded PostgreSQL and Redis in the data folder (unless DATABASE_URL / REDIS_URL are set).
2. Migrations and a demo login (its password is generated once and kept in the data folder).
3. kubesim serving the demo fleet, and one Cluster per kubeconfig context.
4. Back-fill: the real collector polls kubesim at past simulated times, one poll per cluster
   and day (idempotent: days already stored are skipped), then demo targets, a waiver and a
   reorg applied retroactively.
5. kubesim's clock is set to now and runs on; honcho runs web (gunicorn), worker and beat.
Ctrl-C stops every process it started, the embedded servers included.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

BASE_DIR = Path(__file__).resolve().parent.parent


# gunicorn's worker options for the web process (`benchmarks/bench_pages.py` measures these).
# Three sync workers on two cores: with the pages cached, a request is a few ms of Python, and
# threads in one process only contend for its GIL (p95 45-90 ms at ~500 req/s here, against
# 70-130 ms at ~350-500 req/s with 2 workers x 4 threads, 20 clients).
WEB_SERVER_ARGS = ["--workers", "3"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _secret_file(path: Path, nbytes: int = 24) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(nbytes))
    return path.read_text(encoding="utf-8").strip()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meshboard quickstart",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", default=os.environ.get("MESHBOARD_DATA_DIR", "meshboard-data"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--seed", type=int, default=42, help="fleet generator seed")
    p.add_argument("--days", type=int, default=180, help="days of history to back-fill (0: none)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second after the back-fill (1 = real time)",
    )
    p.add_argument("--interval", type=int, default=60, help="poll interval per cluster (s)")
    p.add_argument("--no-serve", action="store_true", help="prepare everything, then exit")
    return p


class SimControl:
    """kubesim's admin API (its clock), for a kubesim running anywhere (a child process here,
    a container in docker-compose)."""

    def __init__(self, url: str, token_file: Path) -> None:
        self.url = url.rstrip("/")
        self.token_file = token_file

    def clock(self, at: datetime | None = None, speed: float | None = None) -> None:
        body: dict[str, object] = {}
        if at is not None:
            body["time"] = at.isoformat()
        if speed is not None:
            body["speed"] = speed
        req = urllib.request.Request(
            self.url + "/_sim/clock",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token_file.read_text().strip()}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()


class Kubesim:
    """kubesim as a child process, driven through its admin API."""

    def __init__(self, data_dir: Path, seed: int, start: datetime) -> None:
        self.kubeconfig = data_dir / "kubeconfig"
        self.token_file = data_dir / "kubesim-admin-token"
        self.kubeconfig.unlink(missing_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubesim",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--seed",
                str(seed),
                "--speed",
                "0",
                "--start",
                start.isoformat(),
                "--epoch",
                start.isoformat(),
                "--kubeconfig",
                str(self.kubeconfig),
                "--admin-token-file",
                str(self.token_file),
            ],
            cwd=BASE_DIR,
        )
        deadline = time.monotonic() + 60
        while not (self.kubeconfig.exists() and self.token_file.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("kubesim did not start")
            time.sleep(0.1)

    def clock(self, at: datetime | None = None, speed: float | None = None) -> None:
        SimControl(self.url, self.token_file).clock(at, speed)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Clock(Protocol):
    def clock(self, at: datetime | None = None, speed: float | None = None) -> None: ...


def backfill(sim: Clock, days: int, today: datetime) -> None:
    """Poll every cluster once per past day with the real collector (days already stored are
    skipped), clusters of one day in parallel threads."""
    from django.db import close_old_connections, connections
    from rich.progress import Progress

    from adoption import collect
    from adoption.models import Cluster, Snapshot

    clusters = list(Cluster.objects.enabled())
    times = [today - timedelta(days=d) for d in range(days, 0, -1)]
    stored = set(
        Snapshot.objects.ok().filter(started_at__in=times).values_list("cluster_id", "started_at")
    )

    def poll(cluster: Cluster, at: datetime) -> str:
        try:
            return collect.snapshot_cluster(cluster, started_at=at).status
        finally:
            close_old_connections()
            connections.close_all()

    with Progress() as bar, ThreadPoolExecutor(max_workers=len(clusters) or 1) as pool:
        task = bar.add_task("back-filling history", total=len(times) * len(clusters))
        for at in times:
            todo = [c for c in clusters if (c.pk, at) not in stored]
            if todo:
                sim.clock(at=at)
                list(pool.map(lambda c, at=at: poll(c, at), todo))
            bar.advance(task, len(clusters))


def seed_demo(today: datetime) -> None:
    """Targets, a waiver and a retroactive reorg, once (skipped when targets exist)."""
    from django.core.management import call_command

    from adoption.models import OwnershipRule, ScopeKind, Target, Tribe, Waiver, WorkloadObservation

    if Target.objects.exists():
        return
    day = today.date()
    Target.objects.create(
        scope=ScopeKind.ORG,
        metric="workloads_meshed",
        value=85,
        start=day - timedelta(days=90),
        due=day + timedelta(days=90),
        owner="CTO",
        note="Company OKR: mesh 85 % of workloads",
    )
    Target.objects.create(
        scope=ScopeKind.ORG,
        metric="proxy_up_to_date",
        value=95,
        start=day - timedelta(days=30),
        due=day + timedelta(days=30),
        owner="Platform",
        note="Finish the Istio upgrade",
    )
    Target.objects.create(
        scope=ScopeKind.ORG,
        metric="resilience_timeouts",
        value=60,
        start=day - timedelta(days=60),
        due=day + timedelta(days=120),
        owner="SRE",
    )
    for i, tribe in enumerate(Tribe.objects.all()[:4]):
        Target.objects.create(
            scope=ScopeKind.TRIBE,
            tribe=tribe,
            metric="workloads_meshed",
            value=80 + 5 * (i % 3),
            start=day - timedelta(days=60),
            due=day + timedelta(days=30 + 30 * i),
            owner=f"{tribe.name} lead",
        )
    missing = (
        WorkloadObservation.objects.filter(state="missing-proxy").order_by("-observed_at").first()
    )
    if missing is not None:
        Waiver.objects.create(
            namespace=missing.namespace,
            workload_kind=missing.kind,
            workload_name=missing.name,
            reason="Legacy batch job, replaced next quarter",
            approver="Head of Platform",
            expires_on=day + timedelta(days=45),
        )
    # A reorg: one namespace moves tribe, applied to history since 60 days ago.
    ns = WorkloadObservation.objects.exclude(tribe="").values_list("namespace", "tribe").first()
    other = Tribe.objects.exclude(name=ns[1]).first() if ns else None
    if ns and other:
        OwnershipRule.objects.create(
            kind="tribe",
            namespace_pattern=ns[0],
            value=other.name,
            note=f"Reorg: {ns[0]} moved from {ns[1]} to {other.name}",
        )
        call_command(
            "reresolve_ownership", since=(day - timedelta(days=60)).isoformat(), verbosity=0
        )


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not _port_free(args.host, args.port):
        print(f"error: {args.host}:{args.port} is already in use; pass --port", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshboard.settings")
    os.environ.setdefault("SECRET_KEY", _secret_file(data_dir / "secret-key", 48))
    os.environ.setdefault("MESHBOARD_BEAT_TICK_SECONDS", "10")

    from meshboard.embedded import ensure_services

    t0 = time.monotonic()
    print(f"meshboard quick start — data in {data_dir}", flush=True)
    services = ensure_services(data_dir)
    sim: Kubesim | None = None
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        password = _secret_file(data_dir / "admin-password", 12)
        _ensure_admin("admin", password)
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        if today > datetime.now(UTC):
            today -= timedelta(days=1)
        sim = Kubesim(data_dir, args.seed, today - timedelta(days=max(args.days, 1)))
        call_command("register_clusters", kubeconfig=str(sim.kubeconfig), interval=args.interval)
        if args.days:
            backfill(sim, args.days, today)
            seed_demo(today)
        sim.clock(at=datetime.now(UTC), speed=args.speed)
        url = f"http://{args.host}:{args.port}/"
        print(
            f"\n  ready in {time.monotonic() - t0:.0f} s: meshboard is starting on {url}\n"
            f"  log in as  admin / {password}   (kept in {data_dir / 'admin-password'})\n"
            "  Ctrl-C stops everything\n",
            flush=True,
        )
        if args.no_serve:
            return 0
        return _run_processes(args, data_dir)
    finally:
        if sim is not None:
            sim.stop()
        services.stop()


def _ensure_admin(username: str, password: str) -> None:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()


def _run_processes(args: argparse.Namespace, data_dir: Path) -> int:
    from honcho.manager import Manager

    env = dict(os.environ)
    py = sys.executable
    schedule = data_dir / "celerybeat-schedule"
    manager = Manager()
    common = {"env": env, "cwd": str(BASE_DIR)}
    manager.add_process(
        "web",
        f"{py} -m gunicorn meshboard.wsgi --bind {args.host}:{args.port} "
        f"{' '.join(WEB_SERVER_ARGS)} --access-logfile - --graceful-timeout 5",
        **common,
    )
    manager.add_process(
        "worker", f"{py} -m celery -A meshboard worker --loglevel INFO --concurrency 2", **common
    )
    manager.add_process(
        "beat", f"{py} -m celery -A meshboard beat --loglevel INFO --schedule {schedule}", **common
    )
    manager.loop()
    return int(manager.returncode or 0)
