"""Fault-injection soak: the real processes under random faults for a bounded time.

    cd /work/main && export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    /work/venv/bin/python benchmarks/soak.py --clusters 20 --max-pods 20000 --minutes 10 \\
        --interval 30 --workers 2 --readers 20 --seed 1

Everything is local and loopback only, and everything is started (and stopped) by this script:

* its own database (``meshboard_soak``, dropped and re-created, then migrated, as
  `benchmarks/_common.py` does for the benchmarks) on the server ``DATABASE_URL`` points to;
* its own ``redis-server`` on a spare port (``--redis-port``, default 6399; never the machine's
  6379), restarted by the chaos thread;
* kubesim with ``--clusters`` clusters of mixed sizes, log-spaced from ``--min-pods`` to
  ``--max-pods`` (`benchmarks/soak_kubesim.py`: ``kubesim serve --pods`` gives every cluster the
  same size), registered with ``manage.py register_clusters --interval``;
* gunicorn (2 workers × 4 threads), ``--workers`` × ``celery -A meshboard worker --concurrency 1``
  and one ``celery -A meshboard beat`` (``MESHBOARD_BEAT_TICK_SECONDS=--tick``);
* ``--readers`` reader threads (a logged-in session for the pages, a DRF token for the API) on
  ``/``, a tribe page, ``/clusters/``, ``/api/v1/series/`` and ``/readyz``;
* a chaos thread: kubesim faults (500/503/429/410/slow/truncated/malformed/reset) on random
  clusters and resources, SIGKILL of a worker's pool child mid-poll (the worker replaces it),
  SIGKILL
  of a whole worker mid-poll (the script restarts it), a Redis restart, and
  ``pg_terminate_backend`` of every connection to the soak database. Faults stop ``--quiet-tail``
  seconds before the end (default two intervals + 15 s) so the end state measures recovery.

Afterwards every process is stopped (beat first, workers warm-shutdown), the script checks that
none is left, and prints the figures. Exit status 1 when a must-hold check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KUBE_FAULTS = ("500", "503", "429", "410", "slow", "truncated", "malformed", "reset")
KUBE_RESOURCES = (
    "pods",
    "pods",
    "namespaces",
    "deployments",
    "replicasets",
    "jobs",
    "services",
    "statefulsets",
    "daemonsets",
    "*",
)
SOAK_SECRET_KEY = "soak-only-not-secret-" + "k" * 40
CHAOS_WEIGHTS = {
    "api-fault": 6.0,
    "kill-child": 1.5,
    "kill-worker": 1.0,
    "redis-restart": 1.0,
    "pg-terminate": 1.5,
}


# ---------------------------------------------------------------------------------- options
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="soak.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--clusters", type=int, default=20)
    p.add_argument("--max-pods", type=int, default=20000, help="largest cluster")
    p.add_argument("--min-pods", type=int, default=200, help="smallest cluster")
    p.add_argument("--minutes", type=float, default=10.0, help="soak duration")
    p.add_argument("--interval", type=int, default=30, help="poll interval per cluster (s)")
    p.add_argument("--tick", type=int, default=5, help="MESHBOARD_BEAT_TICK_SECONDS")
    p.add_argument("--workers", type=int, default=2, help="celery worker processes (conc. 1)")
    p.add_argument("--readers", type=int, default=20, help="concurrent web reader threads")
    p.add_argument("--think", type=float, default=1.0, help="mean reader pause between requests")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chaos-every", type=float, default=15.0, help="mean s between chaos events")
    p.add_argument(
        "--chaos",
        default=",".join(CHAOS_WEIGHTS),
        help=f"comma-separated chaos kinds (default all: {','.join(CHAOS_WEIGHTS)}); '' = none",
    )
    p.add_argument("--quiet-tail", type=float, default=None, help="s without faults at the end")
    p.add_argument("--soft-limit", type=int, default=90, help="MESHBOARD_POLL_SOFT_TIME_LIMIT")
    p.add_argument("--hard-limit", type=int, default=120, help="MESHBOARD_POLL_TIME_LIMIT")
    p.add_argument("--redis-port", type=int, default=6399)
    p.add_argument("--db", default="meshboard_soak")
    p.add_argument("--keep-db", action="store_true", help="do not drop the soak database first")
    p.add_argument("--workdir", type=Path, default=None, help="logs etc. (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.quiet_tail is None:
        args.quiet_tail = 2 * args.interval + 15
    args.chaos_kinds = [k for k in args.chaos.split(",") if k]
    unknown = set(args.chaos_kinds) - set(CHAOS_WEIGHTS)
    if unknown:
        p.error(f"unknown chaos kinds: {', '.join(sorted(unknown))}")
    if args.interval < 10:
        p.error("--interval must be at least 10 (register_clusters refuses less)")
    return args


def cluster_sizes(n: int, lo: int, hi: int, seed: int) -> list[int]:
    """``n`` sizes log-spaced from ``lo`` to ``hi`` (both included), shuffled by ``seed``."""
    if n == 1:
        return [hi]
    lo = min(lo, hi)
    sizes = [round(lo * (hi / lo) ** (i / (n - 1))) for i in range(n)]
    random.Random(seed).shuffle(sizes)
    return sizes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def log(msg: str) -> None:
    print(f"[soak {datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


# -------------------------------------------------------------------------------- processes
class Proc:
    """One child process in its own session (so a whole process group can be killed)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name, self.cmd, self.env, self.workdir = name, cmd, env, workdir
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Proc:
        logf = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 (kept by the child)
        logf.write(f"\n=== start {datetime.now(UTC).isoformat()} {' '.join(self.cmd)}\n".encode())
        logf.flush()
        self.popen = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.workdir,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logf.close()
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill_group(self) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout: float, sig: int = signal.SIGTERM, *, send: bool = True) -> str:
        """Signal the leader, wait ``timeout``, then SIGKILL the group. Returns how it ended."""
        if self.popen is None:
            return "never started"
        how = "exited before stop"
        if self.popen.poll() is None:
            if send:
                try:
                    self.popen.send_signal(sig)
                except ProcessLookupError:
                    pass
            try:
                self.popen.wait(timeout)
                how = f"stopped by {signal.Signals(sig).name}"
            except subprocess.TimeoutExpired:
                how = f"SIGKILLed after {timeout:.0f} s"
        # whatever is left of the group (e.g. orphaned pool children)
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        return how


class Redis:
    """The soak's own redis-server (no persistence: a restart loses queue and locks)."""

    def __init__(self, port: int, workdir: Path, env: dict[str, str]) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = port
        cmd = [
            exe,
            "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--daemonize", "no",
        ]  # fmt: skip
        self.proc = Proc("redis", cmd, env, workdir)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.proc.start()
        deadline = time.monotonic() + 15
        while not self.ping():
            if time.monotonic() > deadline or not self.proc.alive():
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.05)

    def restart(self, down: float) -> None:
        self.proc.stop(10)
        time.sleep(down)
        self.start()

    def llen(self, key: str = "celery") -> int | None:
        try:
            import redis

            return int(redis.Redis(port=self.port, socket_timeout=2).llen(key))
        except Exception:
            return None


# ---------------------------------------------------------------------------------- readers
@dataclass
class Hit:
    t: float  # seconds since soak start
    endpoint: str
    status: int  # 0 = connection error / timeout
    latency: float
    detail: str = ""


class Readers:
    def __init__(
        self,
        base: str,
        session_cookie: str,
        api_token: str,
        tribes: list[str],
        args: Any,
        t0: float,
    ) -> None:
        self.base, self.cookie, self.token = base, session_cookie, api_token
        self.tribes, self.args, self.t0 = tribes, args, t0
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def targets(self, rnd: random.Random) -> tuple[str, str, bool]:
        r = rnd.random()
        if r < 0.25:
            return "/", "/", False
        if r < 0.50:
            return "/tribes/<t>/", f"/tribes/{rnd.choice(self.tribes)}/", False
        if r < 0.75:
            return "/clusters/", "/clusters/", False
        if r < 0.95:
            return "/api/v1/series/", "/api/v1/series/?metric=workloads_meshed", True
        return "/readyz", "/readyz", False

    def run_one(self, i: int) -> None:
        import requests

        rnd = random.Random(self.args.seed * 1000 + i)
        s = requests.Session()
        while not self.stop.is_set():
            name, path, api = self.targets(rnd)
            headers = (
                {"Authorization": f"Token {self.token}"}
                if api
                else {"Cookie": f"sessionid={self.cookie}"}
            )
            t = time.monotonic()
            status, detail = 0, ""
            try:
                resp = s.get(self.base + path, headers=headers, timeout=30, allow_redirects=False)
                status = resp.status_code
                if status >= 400:
                    detail = resp.text[:200].replace("\n", " ")
            except Exception as exc:  # connection refused, reset, timeout
                detail = f"{type(exc).__name__}: {exc}"[:200]
            lat = time.monotonic() - t
            with self.lock:
                self.hits.append(Hit(t - self.t0, name, status, lat, detail))
            self.stop.wait(rnd.uniform(0.5, 1.5) * self.args.think)

    def start(self) -> None:
        for i in range(self.args.readers):
            th = threading.Thread(target=self.run_one, args=(i,), name=f"reader-{i}", daemon=True)
            th.start()
            self.threads.append(th)

    def join(self) -> None:
        self.stop.set()
        for th in self.threads:
            th.join(40)


# ------------------------------------------------------------------------------------ chaos
@dataclass
class Event:
    t: float
    kind: str
    detail: str
    ok: bool = True


@dataclass
class Soak:
    args: Any
    workdir: Path
    env: dict[str, str]
    redis: Redis
    kubesim: Proc
    kubesim_url: str
    admin_token: str
    cluster_names: list[str]
    workers: list[Proc] = field(default_factory=list)
    beat: Proc | None = None
    web: Proc | None = None
    t0: float = 0.0
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    samples: list[dict[str, Any]] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    workers_lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.t0

    # --- kubesim admin API
    def sim_admin(self, method: str, body: Any = None) -> Any:
        req = urllib.request.Request(
            self.kubesim_url + "/_sim/faults",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.admin_token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    # --- database helpers (short-lived psycopg connections: pg_terminate kills pooled ones)
    def soak_sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True, connect_timeout=5) as c:
            return c.execute(query, params).fetchall()

    def running_snapshots(self) -> int:
        try:
            return int(
                self.soak_sql("SELECT count(*) FROM adoption_snapshot WHERE status='running'")[0][0]
            )
        except Exception:
            return -1

    # --- chaos actions
    def api_fault(self, rnd: random.Random) -> str:
        fault = rnd.choice(KUBE_FAULTS)
        rule: dict[str, Any] = {
            "cluster": rnd.choice(self.cluster_names),
            "resource": rnd.choice(KUBE_RESOURCES),
            "fault": fault,
            "count": rnd.randint(1, 4),
            "after_pages": rnd.choice((0, 0, 1, 2, 5)),
        }
        if fault == "slow":
            rule["delay"] = round(rnd.uniform(2, 8), 1)
        if fault == "429":
            rule["retry_after"] = rnd.randint(1, 3)
        self.sim_admin("POST", rule)
        return " ".join(f"{k}={v}" for k, v in rule.items())

    def pick_busy_worker(self, timeout: float = 20.0) -> tuple[Proc | None, Any, bool]:
        """A worker whose pool child is burning CPU while a snapshot is running (mid-poll)."""
        import psutil

        deadline = time.monotonic() + timeout
        fallback: tuple[Proc | None, Any] = (None, None)
        while time.monotonic() < deadline and not self.stop.is_set():
            cands = []
            with self.workers_lock:
                workers = [w for w in self.workers if w.alive()]
            for w in workers:
                try:
                    for child in psutil.Process(w.pid).children():
                        child.cpu_percent(None)
                        cands.append((w, child))
                except psutil.Error:
                    continue
            time.sleep(0.5)
            busy = []
            for w, child in cands:
                try:
                    if child.cpu_percent(None) > 20:
                        busy.append((w, child))
                except psutil.Error:
                    continue
            if cands:
                fallback = random.choice(cands)
            if busy and self.running_snapshots() > 0:
                w, child = random.choice(busy)
                return w, child, True
        return fallback[0], fallback[1], False

    def kill_child(self) -> str:
        w, child, mid = self.pick_busy_worker()
        if w is None or child is None:
            return "no worker child found"
        try:
            child.send_signal(signal.SIGKILL)
        except Exception as exc:
            return f"kill failed: {exc}"
        return f"SIGKILL pool child {child.pid} of {w.name} (mid-poll: {'yes' if mid else 'no'})"

    def kill_worker(self) -> str:
        w, _, mid = self.pick_busy_worker()
        if w is None:
            return "no worker found"
        w.kill_group()
        time.sleep(1.0)
        with self.workers_lock:
            w.start()
        return f"SIGKILL {w.name} (pid group), restarted (mid-poll: {'yes' if mid else 'no'})"

    def redis_restart(self, rnd: random.Random) -> str:
        down = round(rnd.uniform(1, 5), 1)
        queued = self.redis.llen()
        self.redis.restart(down)
        return f"redis restarted, down {down} s, {queued} queued messages lost"

    def pg_terminate(self) -> str:
        import psycopg

        url = self.env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:
            rows = c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.args.db],
            ).fetchall()
        return f"terminated {sum(1 for (r,) in rows if r)} backends of {self.args.db}"

    def chaos_loop(self) -> None:
        args = self.args
        rnd = random.Random(args.seed)
        kinds = list(args.chaos_kinds)
        if not kinds:
            return
        first = kinds[:]
        rnd.shuffle(first)  # every kind at least once, then at random by weight
        weights = [CHAOS_WEIGHTS[k] for k in kinds]
        end = args.minutes * 60 - args.quiet_tail
        t = float(args.interval)  # let the first polls land
        while True:
            t += rnd.expovariate(1.0 / args.chaos_every)
            if t >= end:
                break
            if self.stop.wait(max(0.0, t - self.now())):
                break
            kind = first.pop(0) if first else rnd.choices(kinds, weights)[0]
            at = self.now()
            try:
                if kind == "api-fault":
                    detail = self.api_fault(rnd)
                elif kind == "kill-child":
                    detail = self.kill_child()
                elif kind == "kill-worker":
                    detail = self.kill_worker()
                elif kind == "redis-restart":
                    detail = self.redis_restart(rnd)
                else:
                    detail = self.pg_terminate()
                ok = True
            except Exception as exc:
                detail, ok = f"chaos action failed: {type(exc).__name__}: {exc}", False
            self.events.append(Event(at, kind, detail, ok))
            log(f"chaos t={at:6.1f}s {kind}: {detail}")

    # --- monitor
    def monitor_loop(self, readers: Readers) -> None:
        import psutil

        last_print = 0.0
        while not self.stop.wait(2.0):
            procs: dict[str, list[Any]] = {}
            with self.workers_lock:
                group = [*self.workers, self.web, self.kubesim]
            for p in group:
                if p is None or not p.alive():
                    continue
                try:
                    root = psutil.Process(p.pid)
                    procs[p.name] = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
            for name, ps in procs.items():
                rss = 0.0
                for q in ps:
                    try:
                        rss = max(rss, q.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
                self.peak_rss_mb[name] = max(self.peak_rss_mb.get(name, 0.0), rss)
            if self.now() - last_print >= 30:
                last_print = self.now()
                try:
                    rows = dict(
                        self.soak_sql("SELECT status, count(*) FROM adoption_snapshot GROUP BY 1")
                    )
                except Exception as exc:
                    rows = {"db": type(exc).__name__}
                with readers.lock:
                    n = len(readers.hits)
                    e5 = sum(1 for h in readers.hits if h.status >= 500 or h.status == 0)
                sample = {
                    "t": round(self.now()),
                    "snapshots": rows,
                    "queue": self.redis.llen(),
                    "requests": n,
                    "5xx": e5,
                    "load": os.getloadavg()[0],
                }
                self.samples.append(sample)
                log(
                    f"t={sample['t']}s snapshots={rows} queue={sample['queue']} "
                    f"web={n} req ({e5} 5xx/err) load={sample['load']:.1f}"
                )


# ----------------------------------------------------------------------------------- checks
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(q / 100 * len(v)) - 1))
    return v[k]


def check_database(args: Any, end_at: datetime) -> dict[str, Any]:
    """The must-hold figures, straight from the soak database."""
    from django.db import connection
    from django.db.models import Count, Sum

    from adoption import store
    from adoption.models import (
        Cluster,
        DailyTotal,
        NamespaceObservation,
        Snapshot,
        SnapshotRollup,
        SnapshotStatus,
        WorkloadObservation,
    )

    connection.close()
    out: dict[str, Any] = {}
    snaps = list(Snapshot.objects.select_related("cluster").order_by("cluster_id", "started_at"))
    status = Counter(s.status for s in snaps)
    out["attempted"] = len(snaps)
    out["ok"] = status[SnapshotStatus.OK]
    out["failed"] = status[SnapshotStatus.FAILED]
    out["running_at_end"] = status[SnapshotStatus.RUNNING]
    out["redelivered"] = sum(1 for s in snaps if s.attempts > 1)
    out["abandoned"] = sum(1 for s in snaps if "abandoned" in s.error)
    errors: Counter[str] = Counter()
    for s in snaps:
        if s.status == SnapshotStatus.FAILED:
            errors[_error_kind(s.error)] += 1
    out["failure_kinds"] = dict(errors.most_common())

    # duplicates: same (cluster, started_at) — impossible by constraint — and two ok snapshots of
    # one cluster closer than one interval (the beat claims next_poll_at = tick + interval).
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM (SELECT 1 FROM adoption_snapshot GROUP BY cluster_id, started_at "
            "HAVING count(*) > 1) d"
        )
        same_start = cur.fetchone()[0]
    close_ok = []
    prev: dict[int, Any] = {}
    for s in snaps:
        if s.status != SnapshotStatus.OK:
            continue
        p = prev.get(s.cluster_id)
        if (
            p is not None
            and (s.started_at - p.started_at).total_seconds() < s.cluster.poll_interval - 0.5
        ):
            close_ok.append((s.cluster.name, p.started_at, s.started_at))
        prev[s.cluster_id] = s
    out["duplicates_same_start"] = same_start
    out["duplicates_within_interval"] = len(close_ok)
    out["duplicates"] = same_start + len(close_ok)
    out["duplicate_examples"] = [f"{c} {a:%H:%M:%S}/{b:%H:%M:%S}" for c, a, b in close_ok[:5]]

    # observation / rollup row counts per snapshot
    wl_n = dict(
        WorkloadObservation.objects.values_list("snapshot_id")
        .annotate(n=Count("id"))
        .values_list("snapshot_id", "n")
    )
    ns_stats = {
        sid: (n, pods)
        for sid, n, pods in NamespaceObservation.objects.values("snapshot_id")
        .annotate(n=Count("id"), pods=Sum("pods_total", filter=_q(system=False)))
        .values_list("snapshot_id", "n", "pods")
    }
    ru_n = dict(
        SnapshotRollup.objects.values_list("snapshot_id")
        .annotate(n=Count("id"))
        .values_list("snapshot_id", "n")
    )
    partial: list[str] = []
    for s in snaps:
        name = f"{s.cluster.name}@{s.started_at:%H:%M:%S} {s.status}"
        has_rows = s.pk in wl_n or s.pk in ns_stats or s.pk in ru_n
        if s.status != SnapshotStatus.OK:
            if has_rows:
                partial.append(f"{name}: a non-ok snapshot has observation/rollup rows")
            continue
        if not wl_n.get(s.pk):
            partial.append(f"{name}: ok without workload observations")
        if not ru_n.get(s.pk):
            partial.append(f"{name}: ok without rollups")
        n_ns, pods = ns_stats.get(s.pk, (0, 0))
        if n_ns != s.namespaces_total:
            partial.append(f"{name}: {n_ns} namespace rows, namespaces_total {s.namespaces_total}")
        if (pods or 0) != s.pods_total:
            partial.append(f"{name}: namespace rows sum {pods} pods, pods_total {s.pods_total}")

    # rollups == store.rollup_counts recomputed from the stored observations
    mismatched: list[str] = []
    wl_fields = [
        "namespace", "kind", "name", "tribe", "squad", "system", "state", "pods_total",
        "pods_meshed", "proxy_cpu_request_m", "proxy_memory_request_b", "behind", "services",
        "timeout", "retries", "circuit_breaking", "outlier_detection", "waived",
    ]  # fmt: skip
    checked = 0
    for s in snaps:
        if s.status != SnapshotStatus.OK:
            continue
        workloads = [
            store.WorkloadRow(**dict(zip(wl_fields, row, strict=True)))
            for row in WorkloadObservation.objects.filter(snapshot_id=s.pk)
            .values_list(*wl_fields)
            .iterator(chunk_size=5000)
        ]
        namespaces = [
            store.NamespaceRow(namespace=n, tribe=t, injection=i, revision="", system=sy)
            for n, t, i, sy in NamespaceObservation.objects.filter(snapshot_id=s.pk).values_list(
                "namespace", "tribe", "injection", "system"
            )
        ]
        direct = store.rollup_counts(workloads, namespaces)
        stored = {
            (r["tribe"], r["squad"]): {k: r[k] for k in store.COUNT_FIELDS}
            for r in SnapshotRollup.objects.filter(snapshot_id=s.pk).values(
                "tribe", "squad", *store.COUNT_FIELDS
            )
        }
        checked += 1
        if direct != stored:
            diff = sorted(set(direct) ^ set(stored)) or [
                k for k in direct if direct[k] != stored.get(k)
            ]
            mismatched.append(f"{s.cluster.name}@{s.started_at:%H:%M:%S}: groups {diff[:3]}")
    out["rollups_checked"] = checked
    out["rollup_mismatches"] = len(mismatched)

    # the day's rollup is the cluster's latest ok snapshot of that day, with its sums
    daily_bad: list[str] = []
    latest: dict[tuple[int, Any], Any] = {}
    for s in snaps:
        if s.status == SnapshotStatus.OK:
            latest[(s.cluster_id, s.started_at.date())] = s  # ordered by started_at
    totals = {(d.cluster_id, d.day): d for d in DailyTotal.objects.all()}
    for key, s in latest.items():
        d = totals.get(key)
        if d is None or d.snapshot_id != s.pk:
            daily_bad.append(f"{s.cluster.name} {key[1]}: daily total not from latest ok")
            continue
        sums = SnapshotRollup.objects.filter(snapshot_id=s.pk).aggregate(
            **{k: Sum(k) for k in store.COUNT_FIELDS}
        )
        if any((sums[k] or 0) != getattr(d, k) for k in store.COUNT_FIELDS):
            daily_bad.append(f"{s.cluster.name} {key[1]}: daily total != snapshot rollup sums")
    out["daily_mismatches"] = len(daily_bad)

    # leftovers and staleness. A poll runs at most one interval (queued) + the hard limit after
    # its scheduled time; past that (+ the reaper's margin and one beat tick) nothing can finish
    # it and the beat's reaper must have closed it. Measured at the end of the window, like
    # staleness: the drain stops the beat (and its reaper) first.
    from adoption.tasks import REAP_MARGIN_SECONDS

    dead_after = timedelta(
        seconds=args.interval + args.hard_limit + REAP_MARGIN_SECONDS + 2 * args.tick
    )
    running = [s for s in snaps if s.status == SnapshotStatus.RUNNING]
    out["running_beyond_hard_limit"] = sum(1 for s in running if s.started_at < end_at - dead_after)
    out["running_dead_after_s"] = int(dead_after.total_seconds())
    out["running_examples"] = [
        f"{s.cluster.name}@{s.started_at:%H:%M:%S} attempts={s.attempts}" for s in running[:10]
    ]
    stale = []
    per_cluster: dict[str, dict[str, Any]] = {}
    for c in Cluster.objects.order_by("name"):
        # the latest ok poll finished by the end of the soak window (not during the drain)
        done = [
            s.finished_at
            for s in snaps
            if s.cluster_id == c.pk and s.status == SnapshotStatus.OK and s.finished_at <= end_at
        ]
        last = max(done) if done else None
        if last is None or end_at - last > c.stale_after():
            stale.append(f"{c.name} (last ok finished {last:%H:%M:%S})" if last else c.name)
        mine = [s for s in snaps if s.cluster_id == c.pk]
        oks = [s for s in mine if s.status == SnapshotStatus.OK]
        per_cluster[c.name] = {
            "attempted": len(mine),
            "ok": len(oks),
            "failed": sum(1 for s in mine if s.status == SnapshotStatus.FAILED),
            "median_ok_s": statistics.median([s.duration_ms / 1000 for s in oks]) if oks else None,
            "max_ok_s": max(s.duration_ms / 1000 for s in oks) if oks else None,
            "pods": oks[-1].pods_total if oks else None,
            "objects": oks[-1].objects_seen if oks else None,
            "last_ok_age_s": round((end_at - last).total_seconds()) if last else None,
        }
    out["stale_at_end"] = len(stale)
    out["stale_clusters"] = stale
    out["partial"] = len(partial)
    out["partial_examples"] = partial[:10]
    out["rollup_examples"] = mismatched[:5]
    out["daily_examples"] = daily_bad[:5]
    out["per_cluster"] = per_cluster
    connection.close()
    return out


def _q(**kw: Any) -> Any:
    from django.db.models import Q

    return Q(**kw)


def _error_kind(error: str) -> str:
    e = error.lower()
    for needle, kind in (
        ("abandoned", "abandoned (worker lost 3×)"),
        ("soft time limit", "soft time limit"),
        ("internal error", "internal error: " + error.split(":", 2)[1].strip()[:40]
         if error.count(":") >= 2 else "internal error"),
        ("429", "429 too many requests"),
        ("503", "503"),
        ("500", "500"),
        ("410", "410 expired"),
        ("timed out", "timeout"),
        ("timeout", "timeout"),
        ("reset", "connection reset"),
        ("truncat", "truncated body"),
        ("malformed", "malformed body"),
        ("decode", "undecodable body"),
        ("invalid json", "undecodable body"),
    ):  # fmt: skip
        if needle in e:
            return kind
    return error[:60]


def web_figures(readers: Readers, events: list[Event]) -> dict[str, Any]:
    hits = readers.hits
    out: dict[str, Any] = {"requests": len(hits)}
    redis_down = [(e.t, e.t + 15) for e in events if e.kind == "redis-restart"]
    pg_kills = [e.t for e in events if e.kind == "pg-terminate"]

    def by_design(h: Hit) -> bool:
        # /readyz is meant to fail (500 from django-health-check, documented in this file's
        # "Graceful degradation" table) while Redis or the database is unreachable.
        return h.endpoint == "/readyz" and h.status in (500, 503)

    errors = [h for h in hits if (h.status >= 500 or h.status == 0) and not by_design(h)]
    out["readyz_503_by_design"] = sum(1 for h in hits if by_design(h))
    out["readyz_5xx_outside_chaos"] = sum(
        1
        for h in hits
        if by_design(h)
        and not any(a - 1 <= h.t <= b for a, b in redis_down)
        and not any(k - 1 <= h.t <= k + 5 for k in pg_kills)
    )
    out["errors"] = len(errors)
    out["error_rate"] = len(errors) / len(hits) if hits else 0.0
    # a request is "at" a fault when it was in flight while the fault happened
    out["errors_near_pg_terminate"] = sum(
        1 for h in errors if any(h.t - 1 <= k <= h.t + h.latency + 1 for k in pg_kills)
    )
    out["errors_near_redis_restart"] = sum(
        1 for h in errors if any(h.t - 1 <= b and a <= h.t + h.latency for a, b in redis_down)
    )
    out["errors_by_kind"] = dict(
        Counter(f"{h.status} {h.detail[:60]}" if h.status == 0 else str(h.status) for h in errors)
    )
    out["status"] = dict(sorted(Counter(h.status for h in hits).items()))
    out["non_2xx_examples"] = [
        f"t={h.t:.0f}s {h.endpoint} {h.status} {h.detail[:120]}"
        for h in sorted(hits, key=lambda h: (h.status not in (0, 500, 502, 503, 504), h.t))
        if h.status not in (200,) and not by_design(h)
    ][:8]
    out["status_4xx_note"] = "404 on a tribe page before that tribe's first poll is by design"
    lat = [h.latency for h in hits]
    out["p50_ms"] = pct(lat, 50) * 1000
    out["p95_ms"] = pct(lat, 95) * 1000
    out["p99_ms"] = pct(lat, 99) * 1000
    out["max_ms"] = max(lat) * 1000 if lat else float("nan")
    per: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[Hit]] = defaultdict(list)
    for h in hits:
        groups[h.endpoint].append(h)
    for name, hs in sorted(groups.items()):
        ls = [h.latency for h in hs]
        per[name] = {
            "n": len(hs),
            "errors": sum(1 for h in hs if (h.status >= 500 or h.status == 0) and not by_design(h)),
            "p50_ms": pct(ls, 50) * 1000,
            "p95_ms": pct(ls, 95) * 1000,
        }
    out["per_endpoint"] = per
    return out


# ------------------------------------------------------------------------------------- main
def prepare_database(args: Any) -> str:
    """Drop (unless --keep-db), create and migrate the soak database; returns its URL."""
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    os.environ["DATABASE_URL"] = base
    os.environ["MESHBOARD_BENCH_DB"] = args.db
    if not args.keep_db:
        import psycopg
        from psycopg import sql

        admin = base.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db))
            )
    from benchmarks import _common

    os.environ["DATABASE_URL"] = _common.ensure_bench_database(base, args.db)
    # the reader's session is created here and read by gunicorn: same key for both
    os.environ["SECRET_KEY"] = SOAK_SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshboard.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return os.environ["DATABASE_URL"]


def setup_fleet_rows(kubeconfig: Path, interval: int) -> tuple[str, str, list[str]]:
    """Register the clusters, create the reader login; returns (session key, API token, tribes)."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from kubesim.spec import DEFAULT_TRIBES

    call_command("register_clusters", kubeconfig=str(kubeconfig), interval=interval, verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="soak-reader")
    user.set_unusable_password()
    user.save()
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.set_expiry(86400)
    store.create()
    token, _ = Token.objects.get_or_create(user=user)
    connection.close()
    return str(store.session_key), token.key, list(DEFAULT_TRIBES)


def wait_http(url: str, timeout: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited during start-up (see {proc.name}.log)")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def leftover_processes(workdir: Path, pids: list[int]) -> list[str]:
    import psutil

    left = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if p.info["pid"] in pids or p.info["cwd"] == str(workdir):
                left.append(f"{p.info['pid']} {' '.join(p.info['cmdline'] or [])[:80]}")
        except psutil.Error:
            continue
    me = psutil.Process()
    for c in me.children(recursive=True):
        try:
            if c.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{c.pid} {' '.join(c.cmdline())[:80]} (child)")
        except psutil.Error:
            pass
    return sorted(set(left))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not port_free(args.redis_port):
        sys.exit(f"port {args.redis_port} is in use; pass --redis-port")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="meshboard-soak-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Others edit the tree while a soak runs (a worker restarted mid-run imported a model field
    # whose migration the soak database never got): every process, and the checks, run from a
    # copy of the source taken now.
    src = workdir / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.pyc", "staticfiles", "node_modules", "tests", "docs",
            "meshboard-data", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache",
        ),
    )  # fmt: skip
    sys.path.insert(0, str(src))
    sizes = cluster_sizes(args.clusters, args.min_pods, args.max_pods, args.seed)
    log(f"workdir {workdir}; {args.clusters} clusters, pods {sorted(sizes)}")

    db_url = prepare_database(args)
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "meshboard.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "MESHBOARD_BEAT_TICK_SECONDS": str(args.tick),
        "MESHBOARD_POLL_SOFT_TIME_LIMIT": str(args.soft_limit),
        "MESHBOARD_POLL_TIME_LIMIT": str(args.hard_limit),
        "LOG_LEVEL": "INFO",
        "SECRET_KEY": SOAK_SECRET_KEY,
    }
    env.pop("MESHBOARD_ENV", None)
    os.environ["REDIS_URL"] = redis_url

    redis = Redis(args.redis_port, workdir, env)
    sim_port = free_port()
    kubeconfig = workdir / "kubeconfig"
    admin_file = workdir / "kubesim-admin-token"
    kubesim = Proc(
        "kubesim",
        [
            PY, "-m", "benchmarks.soak_kubesim", "--sizes", ",".join(map(str, sizes)),
            "--prefix", "soak", "--", "serve", "--host", "127.0.0.1", "--port", str(sim_port),
            "--seed", str(args.seed), "--kubeconfig", str(kubeconfig),
            "--admin-token-file", str(admin_file),
        ],
        env, workdir,
    )  # fmt: skip
    soak: Soak | None = None
    readers: Readers | None = None
    all_procs: list[Proc] = []
    stop_report: dict[str, str] = {}
    try:
        redis.start()
        all_procs.append(redis.proc)
        kubesim.start()
        all_procs.append(kubesim)
        deadline = time.monotonic() + 120
        while not (kubeconfig.exists() and admin_file.exists()):
            if not kubesim.alive() or time.monotonic() > deadline:
                raise RuntimeError("kubesim did not start (see kubesim.log)")
            time.sleep(0.1)
        time.sleep(0.2)
        session_key, api_token, tribes = setup_fleet_rows(kubeconfig, args.interval)
        names = [f"soak-{i + 1:02d}" for i in range(len(sizes))]
        soak = Soak(
            args=args, workdir=workdir, env=env, redis=redis, kubesim=kubesim,
            kubesim_url=f"http://127.0.0.1:{sim_port}",
            admin_token=admin_file.read_text().strip(), cluster_names=names,
        )  # fmt: skip
        web_port = free_port()
        soak.web = Proc(
            "web",
            [
                PY, "-m", "gunicorn", "meshboard.wsgi", "--bind", f"127.0.0.1:{web_port}",
                "--workers", "2", "--threads", "4", "--timeout", "60", "--graceful-timeout", "5",
                "--access-logfile", "-",
            ],
            env, workdir,
        ).start()  # fmt: skip
        all_procs.append(soak.web)
        for i in range(args.workers):
            w = Proc(
                f"worker{i + 1}",
                [
                    PY, "-m", "celery", "-A", "meshboard", "worker", "--concurrency", "1",
                    "--loglevel", "INFO", "-n", f"soak{i + 1}@%h",
                ],
                env, workdir,
            ).start()  # fmt: skip
            soak.workers.append(w)
            all_procs.append(w)
        wait_http(f"http://127.0.0.1:{web_port}/healthz", 60, soak.web)
        soak.beat = Proc(
            "beat",
            [
                PY, "-m", "celery", "-A", "meshboard", "beat", "--loglevel", "INFO",
                "--schedule", str(workdir / "celerybeat-schedule"),
                "--pidfile", str(workdir / "celerybeat.pid"),
            ],
            env, workdir,
        )  # fmt: skip
        soak.t0 = time.monotonic()
        soak.beat.start()
        all_procs.append(soak.beat)
        start_at = datetime.now(UTC)
        log(f"soak started: web :{web_port}, kubesim :{sim_port}, redis :{args.redis_port}")

        readers = Readers(
            f"http://127.0.0.1:{web_port}", session_key, api_token, tribes, args, soak.t0
        )
        readers.start()
        threads = [
            threading.Thread(target=soak.chaos_loop, name="chaos", daemon=True),
            threading.Thread(target=soak.monitor_loop, args=(readers,), name="mon", daemon=True),
        ]
        for th in threads:
            th.start()
        duration = args.minutes * 60
        while soak.now() < duration:
            time.sleep(min(1.0, duration - soak.now()))
            if not soak.beat.alive():
                log("beat died; restarting it")
                soak.beat.start()
        end_at = datetime.now(UTC)
        log("soak window over; stopping chaos, readers, beat, workers")
        soak.stop.set()
        for th in threads:
            th.join(60)
        readers.join()
        try:
            soak.sim_admin("DELETE")
        except Exception:
            pass
        queue_at_end = redis.llen()
        stop_report["beat"] = soak.beat.stop(10)
        for w in soak.workers:  # warm shutdown: running polls finish (≤ hard limit)
            if w.alive():
                w.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for w in soak.workers:
            stop_report[w.name] = w.stop(args.hard_limit + 10, send=False)
        stop_report["web"] = soak.web.stop(15)
        stop_report["kubesim"] = kubesim.stop(15)
        stop_report["redis"] = redis.proc.stop(10)
    except BaseException:
        for p in reversed(all_procs):
            p.stop(5)
        raise
    finally:
        if soak is not None:
            soak.stop.set()
        if readers is not None:
            readers.stop.set()

    pids = [p.pid for p in all_procs if p.popen is not None]
    left = leftover_processes(workdir, pids)
    db = check_database(args, end_at)
    web = web_figures(readers, soak.events)
    chaos = Counter(e.kind for e in soak.events)
    mid = sum(1 for e in soak.events if "mid-poll: yes" in e.detail)
    figures = {
        "config": {
            "clusters": args.clusters, "sizes": sorted(sizes), "pods_total": sum(sizes),
            "minutes": args.minutes, "interval": args.interval, "tick": args.tick,
            "workers": args.workers, "readers": args.readers, "seed": args.seed,
            "soft_limit": args.soft_limit, "hard_limit": args.hard_limit,
            "quiet_tail": args.quiet_tail, "cpus": os.cpu_count(),
        },
        "started": start_at.isoformat(), "ended": end_at.isoformat(),
        "chaos": dict(chaos), "kills_mid_poll": mid,
        "events": [e.__dict__ for e in soak.events],
        "database": db, "web": web, "queue_at_end": queue_at_end,
        "samples": soak.samples, "peak_rss_mb": soak.peak_rss_mb,
        "worker_starts": {w.name: w.starts for w in soak.workers},
        "stop": stop_report, "leftover_processes": left, "workdir": str(workdir),
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    failed = report(figures)
    return 1 if failed else 0


def report(f: dict[str, Any]) -> list[str]:
    from benchmarks._common import print_table

    cfg, db, web = f["config"], f["database"], f["web"]
    expected = int(cfg["minutes"] * 60 // cfg["interval"])
    print()
    print(
        f"soak: {cfg['clusters']} clusters ({cfg['pods_total']:,} pods, {min(cfg['sizes']):,}–"
        f"{max(cfg['sizes']):,}), {cfg['minutes']:g} min, interval {cfg['interval']} s, tick "
        f"{cfg['tick']} s, {cfg['workers']} workers × concurrency 1, {cfg['readers']} readers, "
        f"seed {cfg['seed']}, limits {cfg['soft_limit']}/{cfg['hard_limit']} s, {cfg['cpus']} CPU"
    )
    chaos = ", ".join(f"{k} {v}" for k, v in sorted(f["chaos"].items())) or "none"
    print(
        f"chaos: {chaos} ({f['kills_mid_poll']} kills mid-poll); "
        f"quiet tail {cfg['quiet_tail']:.0f} s"
    )
    checks: list[tuple[str, Any, bool | None]] = [
        ("snapshots attempted", db["attempted"], None),
        ("  ok", db["ok"], None),
        ("  failed", db["failed"], None),
        ("  running at the end", db["running_at_end"], None),
        ("  redelivered (attempts > 1)", db["redelivered"], None),
        (
            "ok polls per cluster vs schedule",
            f"{db['ok'] / max(cfg['clusters'], 1):.1f} of {expected}",
            None,
        ),
        ("duplicates (same start / within an interval)",
         f"{db['duplicates_same_start']} / {db['duplicates_within_interval']}",
         db["duplicates"] == 0),
        ("partial snapshots", db["partial"], db["partial"] == 0),
        (f"running snapshots a poll cannot outlive (older than {db['running_dead_after_s']} s "
         "at the window's end)", db["running_beyond_hard_limit"],
         db["running_beyond_hard_limit"] == 0),
        ("clusters without an ok snapshot in the last 2 intervals", db["stale_at_end"],
         db["stale_at_end"] == 0),
        (f"rollups == direct counts ({db['rollups_checked']} ok snapshots)",
         f"{db['rollup_mismatches']} mismatches", db["rollup_mismatches"] == 0),
        ("daily total == latest ok snapshot's rollups", f"{db['daily_mismatches']} mismatches",
         db["daily_mismatches"] == 0),
        ("web requests", web["requests"], None),
        ("web errors (5xx / no answer, not by design)",
         f"{web['errors']} ({web['error_rate']:.2%}; {web['errors_near_pg_terminate']} at a pg "
         f"terminate, {web['errors_near_redis_restart']} at a Redis restart)", web["errors"] == 0),
        ("/readyz 5xx while a dependency was down (by design)",
         f"{web['readyz_503_by_design']} "
         f"({web['readyz_5xx_outside_chaos']} outside a Redis/pg fault)",
         None),
        ("web latency p50 / p95 / p99",
         f"{web['p50_ms']:.0f} / {web['p95_ms']:.0f} / {web['p99_ms']:.0f} ms", None),
        ("celery queue length at the end", f["queue_at_end"], None),
        ("leftover processes", len(f["leftover_processes"]), not f["leftover_processes"]),
    ]  # fmt: skip
    rows = [
        (name, value, "" if ok is None else ("ok" if ok else "FAILED"))
        for name, value, ok in checks
    ]
    print_table("soak results", ["figure", "value", "must hold"], rows)
    per = [
        (name, c["pods"] if c["pods"] is not None else "-", c["attempted"], c["ok"], c["failed"],
         f"{c['median_ok_s']:.1f}" if c["median_ok_s"] is not None else "-",
         f"{c['max_ok_s']:.1f}" if c["max_ok_s"] is not None else "-",
         c["last_ok_age_s"] if c["last_ok_age_s"] is not None else "never")
        for name, c in db["per_cluster"].items()
    ]  # fmt: skip
    print_table(
        "per cluster",
        [
            "cluster",
            "pods",
            "attempted",
            "ok",
            "failed",
            "median ok s",
            "max ok s",
            "last ok age s",
        ],
        per,
    )
    print_table(
        "web per endpoint",
        ["endpoint", "requests", "errors", "p50 ms", "p95 ms"],
        [(k, v["n"], v["errors"], f"{v['p50_ms']:.0f}", f"{v['p95_ms']:.0f}")
         for k, v in web["per_endpoint"].items()],
    )  # fmt: skip
    print(f"failures by kind: {db['failure_kinds']}")
    print(f"web status codes: {web['status']}; errors by kind: {web.get('errors_by_kind')}")
    print(f"peak RSS MB: { {k: round(v) for k, v in f['peak_rss_mb'].items()} }")
    print(f"worker starts: {f['worker_starts']}; stop: {f['stop']}")
    for label, key in (
        ("running left", "running_examples"), ("partial", "partial_examples"),
        ("rollup mismatch", "rollup_examples"), ("daily mismatch", "daily_examples"),
        ("duplicate", "duplicate_examples"),
    ):  # fmt: skip
        for x in db[key]:
            print(f"  {label}: {x}")
    for x in db["stale_clusters"]:
        print(f"  stale: {x}")
    for x in web["non_2xx_examples"]:
        print(f"  web: {x}")
    for x in f["leftover_processes"]:
        print(f"  leftover: {x}")
    print(f"logs: {f['workdir']}")
    failed = [name for name, _, ok in checks if ok is False]
    print(
        "RESULT:", "all must-hold checks passed" if not failed else "FAILED: " + "; ".join(failed)
    )
    return failed


if __name__ == "__main__":
    sys.exit(main())
