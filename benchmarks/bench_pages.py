"""Benchmark: overview and tribe pages under 20 concurrent readers, on a year of history.

    cd /work/main && export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    /work/venv/bin/python benchmarks/bench_pages.py [--clients 20 --seconds 30] [--reuse]

Seeds (unless ``--reuse``) 365 days × 20 clusters × 5,000 workloads with `seed_history`, which
writes rollups only, then gives each cluster's latest snapshot its 5,000 workload and 200
namespace observations (`bench_store.synth_rows`, renamed to the seeded tribes and squads, so a
tribe has ~12,500 current workloads and thousands of to-do items) and the Tribe/Squad rows a poll
creates. Starts gunicorn with the quick start's web command line (`quickstart.GUNICORN_ARGS`) on
the benchmark database and drives it from this second process over loopback with wrk
(``--clients`` connections, each with the same logged-in session; Python threads when wrk is
missing) for ``--seconds`` per page. Prints requests/s and latency percentiles per page (p95
from wrk's own histogram through a Lua ``done`` hook), with ``/healthz`` (no database, no
template) as the baseline measured in the same run.
Target (issue): overview and tribe pages p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, print_table, setup_django, verdict  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150.0
# wrk keeps a full latency histogram but prints only the 50/75/90/99th percentiles.
WRK_P95 = """
done = function(summary, latency, requests)
  io.write(string.format("p95_us=%d\\n", latency:percentile(95)))
end
"""


def _session_cookie() -> str:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username="bench-reader")
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _observations(workloads: int) -> int:
    """Give each seeded cluster's latest snapshot its current workloads and namespaces, as a poll
    would have stored them (`seed_history` writes rollups only), plus the Tribe/Squad rows a
    poll creates. Idempotent: a snapshot that has observations is left alone. Returns how many
    snapshots got rows."""
    from dataclasses import replace

    from django.db import transaction

    from adoption import progress, store
    from adoption.management.commands.seed_history import SQUAD_WORDS, TRIBE_NAMES
    from adoption.models import Snapshot, WorkloadObservation
    from benchmarks.bench_store import synth_rows

    def tribe(name: str) -> str:  # synth_rows' "tribe-3" → the seeded "identity"
        return TRIBE_NAMES[int(name.removeprefix("tribe-"))] if name else ""

    done = 0
    ids = progress.latest_snapshot_ids()
    have = set(
        WorkloadObservation.objects.filter(snapshot_id__in=ids)
        .values_list("snapshot_id", flat=True)
        .distinct()
    )
    for snap in Snapshot.objects.filter(pk__in=set(ids) - have).order_by("pk"):
        rows, namespaces = synth_rows(workloads, seed=snap.cluster_id)
        namespaces = [replace(n, tribe=tribe(n.tribe)) for n in namespaces]
        rows = [
            replace(
                w,
                tribe=tribe(w.tribe),
                squad=SQUAD_WORDS[int(w.squad.removeprefix("squad-"))] if w.tribe else w.squad,
                missing_since=snap.started_at if w.state == "missing-proxy" else None,
            )
            for w in rows
        ]
        with transaction.atomic():
            store.write_observations(snap, rows, namespaces)  # the rollups are seeded already
        done += 1
    return done


@contextmanager
def _new_data(every: float) -> Iterator[None]:
    """While inside, change the data version every ``every`` seconds (0: never) the way an
    edited target does, so that every cached page body and fragment is rebuilt, as after a
    poll."""
    if not every:
        yield
        return
    from django.db import connection
    from django.utils import timezone

    from adoption.models import ScopeKind, Target

    target, _ = Target.objects.get_or_create(
        scope=ScopeKind.ORG,
        metric="workloads_meshed",
        owner="bench-pages",
        defaults={"value": 90, "start": date(2026, 1, 1), "due": date(2027, 6, 30)},
    )
    stop = threading.Event()

    def churn() -> None:
        while not stop.wait(every):
            Target.objects.filter(pk=target.pk).update(updated_at=timezone.now())
        connection.close()

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _load(
    port: int, path: str, cookie: str, clients: int, seconds: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            bad += resp.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def _wrk(
    port: int, path: str, cookie: str, clients: int, seconds: float
) -> dict[str, float] | None:
    """Drive the page with wrk (C, from Debian) when installed: a load generator that does not
    compete with the server for the GIL-bound CPU the way Python threads do."""
    import re
    import shutil

    if not shutil.which("wrk"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_P95)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            script.name,
            "-H",
            f"Cookie: {cookie}",
            "-H",
            "Host: 127.0.0.1",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    Path(script.name).unlink()
    p95 = re.search(r"^p95_us=([\d.]+)", out, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": ms("50%"),
        "p90": ms("90%"),
        "p95": float(p95.group(1)) / 1000 if p95 else float("nan"),
        "p99": ms("99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _load_average() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--workloads", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reuse", action="store_true", help="keep the seeded history")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--new-data-every",
        type=float,
        default=0,
        metavar="S",
        help="also measure while the data version changes every S seconds (20 clusters "
        "polled every 5 min give a new snapshot every 15 s): every cached page is rebuilt",
    )
    parser.add_argument(
        "--server-args",
        default="",
        help="gunicorn worker options instead of the quick start's (e.g. '--workers 3')",
    )
    args = parser.parse_args(argv)

    setup_django()
    from django.core.management import call_command

    if not args.reuse:
        call_command(
            "seed_history", clusters=args.clusters, workloads=args.workloads, days=args.days
        )
    added = _observations(args.workloads)
    if added:
        print(f"stored the current observations of {added} clusters' latest snapshots")
    from adoption.models import Tribe, WorkloadObservation

    # a tribe with workloads missing a proxy (each has ~1,250 of its ~12,500 current ones)
    tribe = (
        WorkloadObservation.objects.filter(state="missing-proxy")
        .exclude(tribe="")
        .values_list("tribe", flat=True)
        .first()
    ) or Tribe.objects.values_list("name", flat=True).first()
    cookie = _session_cookie()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "meshboard.settings"}
    from meshboard.quickstart import WEB_SERVER_ARGS

    server_args = shlex.split(args.server_args) if args.server_args else WEB_SERVER_ARGS
    print("gunicorn " + " ".join(server_args))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "meshboard.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            *server_args,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", args.port, timeout=1).request(
                    "GET", "/healthz"
                )
                break
            except OSError:
                time.sleep(0.2)
        pages = [
            ("/healthz (baseline)", "/healthz"),
            ("overview", "/"),
            (f"tribe {tribe}", f"/tribes/{tribe}/"),
        ]
        for _, path in pages:  # warm-up: caches, connections, JIT of the interpreter paths
            _load(args.port, path, cookie, 2, 2)
        rows: list[list[object]] = []
        p95: dict[str, float] = {}
        errors: dict[str, int] = {}
        base = None
        if _wrk(args.port, "/healthz", cookie, 2, 1) is not None:
            runs = [(label, path, False) for label, path in pages]
            if args.new_data_every:
                runs += [
                    (f"{label}, new data every {args.new_data_every:g} s", path, True)
                    for label, path in pages[1:]
                ]
            for label, path, churn in runs:
                with _new_data(args.new_data_every if churn else 0):
                    r = _wrk(args.port, path, cookie, args.clients, args.seconds)
                assert r is not None
                p95[label] = r["p95"]
                errors[label] = int(r["errors"])
                rows.append(
                    [
                        label,
                        f"{r['rps']:.1f}",
                        f"{r['p50']:.1f}",
                        f"{r['p90']:.1f}",
                        f"{r['p95']:.1f}",
                        f"{r['p99']:.1f}",
                        int(r["errors"]),
                    ]
                )
            print_table(
                f"wrk, {args.clients} connections, {args.days} d × {args.clusters} clusters × "
                f"{args.workloads:,} workloads ({machine()}, load average {_load_average()})",
                ["page", "req/s", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "non-2xx"],
                rows,
            )
            ok = all(p95[label] < TARGET_P95_MS and not errors[label] for label, _ in pages[1:])
            print(
                f"target p95 < {TARGET_P95_MS:.0f} ms for overview and tribe, no errors: "
                f"{verdict(ok)}"
                + (" (the runs with new data are information)" if args.new_data_every else "")
            )
            return 0
        for label, path in pages:
            lat, errors[label] = _load(args.port, path, cookie, args.clients, args.seconds)
            p50, p95[label], p99 = _pct(lat, 0.5), _pct(lat, 0.95), _pct(lat, 0.99)
            base = base or statistics.median(lat)
            rows.append(
                [
                    label,
                    len(lat),
                    f"{len(lat) / args.seconds:.1f}",
                    f"{p50:.1f}",
                    f"{p95[label]:.1f}",
                    f"{p99:.1f}",
                    errors[label],
                    f"{statistics.median(lat) / base:.1f}×",
                ]
            )
        print_table(
            f"{args.clients} concurrent readers, {args.days} d × {args.clusters} clusters × "
            f"{args.workloads:,} "
            f"workloads ({machine()}, load average {_load_average()})",
            [
                "page",
                "requests",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "median vs baseline",
            ],
            rows,
        )
        ok = all(p95[label] < TARGET_P95_MS and not errors[label] for label, _ in pages[1:])
        print(
            f"target p95 < {TARGET_P95_MS:.0f} ms for overview and tribe, no errors: {verdict(ok)}"
        )
        return 0
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
