"""`kubesim serve`: run the simulated fleet and write a kubeconfig for it."""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from kubesim.clock import SimClock
from kubesim.fleet import Fleet
from kubesim.kubeconfig import write_kubeconfig
from kubesim.server import KubeSim, serve
from kubesim.spec import ClusterSpec, demo_clusters


def parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def build_clusters(
    clusters: str, pods: int | None, no_istio: bool, enrolment: str = "gradual"
) -> list[ClusterSpec]:
    """`demo` (3 clusters) or a number N of production-like clusters `cluster-1..N`."""
    if clusters == "demo":
        specs = demo_clusters(no_istio_cluster=no_istio)
        return [
            dataclasses.replace(c, pods_target=pods or c.pods_target, enrolment=enrolment)
            for c in specs
        ]
    n = int(clusters)
    specs = [
        ClusterSpec(
            name=f"cluster-{i + 1}",
            environment="staging" if i % 3 == 2 else "production",
            pods_target=pods or 200,
            metrics_api=i % 3 != 2,
            upgrade_day=30 + 7 * i,
            canary_day=60 + 5 * i,
            enrolment=enrolment,
        )
        for i in range(n)
    ]
    if no_istio:
        specs.append(
            ClusterSpec(name="no-istio", pods_target=pods or 200, istio=False, ambient=False)
        )
    return specs


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubesim", description="Kubernetes API simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a simulated fleet")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8001)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--clusters", default="demo", help="'demo' or a number of clusters")
    s.add_argument("--pods", type=int, default=None, help="pods per cluster (approximate)")
    s.add_argument("--no-istio-cluster", action="store_true", help="add a cluster without Istio")
    s.add_argument(
        "--enrolment",
        choices=("gradual", "complete"),
        default="gradual",
        help="'gradual': namespaces join the mesh over time (a rollout); 'complete': every "
        "application namespace has sidecar injection from its creation",
    )
    s.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    s.add_argument("--start", type=parse_time, default=None, help="simulated start (ISO 8601)")
    s.add_argument("--epoch", type=parse_time, default=None, help="fleet day 0 (default start-90d)")
    s.add_argument("--continue-ttl", type=float, default=300.0)
    s.add_argument("--kubeconfig", type=Path, default=Path("kubesim.kubeconfig"))
    s.add_argument(
        "--advertise-host",
        default=None,
        help="host name written into the kubeconfig (e.g. the compose service name)",
    )
    s.add_argument("--admin-token-file", type=Path, default=None)
    s.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    start = args.start or datetime.now(UTC)
    epoch = args.epoch or (start - timedelta(days=90)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    specs = build_clusters(args.clusters, args.pods, args.no_istio_cluster, args.enrolment)
    fleet = Fleet(args.seed, specs, epoch=epoch)
    admin = secrets.token_urlsafe(24)
    app = KubeSim(
        fleet, clock=SimClock(start, args.speed), admin_token=admin, continue_ttl=args.continue_ttl
    )
    server = serve(app, args.host, args.port, quiet=not args.verbose)
    url = f"http://{args.host}:{server.server_port}"
    advertised = (
        f"http://{args.advertise_host}:{server.server_port}" if args.advertise_host else url
    )
    kubeconfig = write_kubeconfig(args.kubeconfig, advertised, app.tokens)
    if args.admin_token_file:
        fd = os.open(args.admin_token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(admin + "\n")
    print(f"kubesim serving {', '.join(fleet.cluster_names)} at {url}/clusters/<name>", flush=True)
    print(f"kubeconfig: {kubeconfig} (contexts: {', '.join(fleet.cluster_names)})", flush=True)
    print(
        f"admin API: {url}/_sim/state (epoch {epoch.isoformat()}, speed {args.speed})", flush=True
    )

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="kubesim", daemon=True)
    thread.start()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    print("kubesim stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
