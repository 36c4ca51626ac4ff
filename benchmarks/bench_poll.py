"""Benchmark: one poll of a 50,000-pod cluster (list, decode, classify, store) end to end.

    cd /work/main && export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    /work/venv/bin/python benchmarks/bench_poll.py [--pods 50000] [--sample 5000] [--inprocess]

kubesim runs as a subprocess (``python -m kubesim serve --clusters 1 --pods N``) so the peak RSS
printed is the poller's alone; ``--inprocess`` runs it in a thread instead (the smoke test does).
A first `collect.snapshot_cluster` warms kubesim's render caches; then one timed
`snapshot_cluster` gives the end-to-end figure and the peak RSS, and the phases are timed
separately (`read_cluster`, `classify_read`, `store.write_snapshot` in a transaction).
The pod list is fetched once more page by page to split network time from decode time.
Baseline: the kubernetes client's own model deserialization (``ApiClient().deserialize`` into
``V1PodList``) of the first ``--sample`` pods of the same raw pages, extrapolated to all pods.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402
    fmt_s,
    machine,
    peak_rss_mb,
    print_table,
    rss_mb,
    setup_django,
    verdict,
)

CLUSTER = "poll-bench"
TARGET_E2E_S = 5.0
TARGET_RSS_MB = 300.0
TARGET_RATIO = 50.0
# The benchmark: "realistic injected pods (about 16 KB of JSON each, full status)": every
# application namespace enrolled (kubesim --enrolment complete); "gradual" is the mixed fleet of
# a rollout in progress (most pods not injected, ~6.7 KB each), the figures before 2026-11-26.
ENROLMENT = "complete"


@dataclass
class Sim:
    kubeconfig: Path
    context: str
    pid: int | None = None  # kubesim subprocess (None: in-process thread)


@contextmanager
def kubesim(pods: int, *, inprocess: bool, workdir: Path, enrolment: str = ENROLMENT) -> Any:
    """A one-cluster kubesim fleet of about ``pods`` pods, frozen clock."""
    if inprocess:
        from kubesim.fleet import Fleet
        from kubesim.spec import ClusterSpec
        from kubesim.testing import running_kubesim

        spec = ClusterSpec(name="cluster-1", pods_target=pods, enrolment=enrolment)
        with running_kubesim(Fleet(42, [spec]), speed=0, kubeconfig_dir=workdir) as sim:
            yield Sim(sim.kubeconfig_path, sim.context("cluster-1"))
        return
    kc = workdir / "kubeconfig"
    cmd = [sys.executable, "-m", "kubesim", "serve", "--clusters", "1", "--pods", str(pods)]
    cmd += ["--port", "0", "--speed", "0", "--kubeconfig", str(kc), "--enrolment", enrolment]
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("kubeconfig:"):
                break
        else:
            raise RuntimeError(f"kubesim exited early ({proc.wait()})")
        yield Sim(kc, "cluster-1", proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _register(sim: Sim) -> Any:
    from adoption.models import AuthMethod, Cluster

    cluster, _ = Cluster.objects.update_or_create(
        name=CLUSTER,
        defaults={
            "auth_method": AuthMethod.KUBECONFIG,
            "kubeconfig_path": str(sim.kubeconfig),
            "context": sim.context,
            "poll_interval": 300,
        },
    )
    cluster.snapshots.all().delete()  # keep the benchmark database small between runs
    return cluster


class _ListMeta(msgspec.Struct):
    continue_: str = msgspec.field(name="continue", default="")


class _TokenOnly(msgspec.Struct):
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)


def _pod_pages(cluster: Any, page_size: int) -> Any:
    """Raw pod-list pages exactly as `kube.list_pages` requests them; yields (bytes, seconds)."""
    from kubernetes import client

    from adoption import collect, kube

    token_only = msgspec.json.Decoder(_TokenOnly)
    api = kube.build_api_client(collect.connection_for(cluster))
    try:
        core = client.CoreV1Api(api)
        token = ""
        while True:
            kw: dict[str, Any] = {"limit": page_size, "_preload_content": False}
            if token:
                kw["_continue"] = token
            t0 = time.perf_counter()
            data = core.list_pod_for_all_namespaces(**kw).data
            took = time.perf_counter() - t0
            yield data, took
            token = token_only.decode(data).metadata.continue_
            if not token:
                return
    finally:
        api.close()


def _injected(pod: dict[str, Any]) -> bool:
    from adoption.classify.kube import ISTIO_PROXY, containers, spec_of

    spec = spec_of(pod)
    return any(
        c.get("name") == ISTIO_PROXY for c in containers(spec) + containers(spec, "initContainers")
    )


class _SkipPods:
    """A pod sink that drops the pods (step 4 lists them page by page itself)."""

    def add(self, page: list[dict[str, Any]]) -> None:
        pass

    def reset(self) -> None:
        pass


@dataclass
class PollFigures:
    pods: int = 0
    workloads: int = 0
    namespaces: int = 0
    pages: int = 0
    mb_read: float = 0.0
    warmup_s: float = 0.0
    e2e_s: float = 0.0
    read_s: float = 0.0
    classify_s: float = 0.0
    store_s: float = 0.0
    pods_fetch_s: float = 0.0
    pods_decode_s: float = 0.0
    pods_typed_decode_s: float = 0.0
    client_sample_pods: int = 0
    client_sample_s: float = 0.0
    client_extrapolated_s: float = 0.0
    client_sample_nogc_s: float = 0.0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    kubesim_rss_mb: float | None = None
    enrolment: str = ENROLMENT
    pod_bytes: int = 0
    injected: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decode_classify_s(self) -> float:
        return self.pods_typed_decode_s + self.classify_s

    @property
    def ratio(self) -> float:
        return self.client_extrapolated_s / self.decode_classify_s if self.decode_classify_s else 0

    @property
    def client_nogc_s(self) -> float:
        return self.client_sample_nogc_s * self.pods / max(self.client_sample_pods, 1)

    @property
    def ratio_nogc(self) -> float:
        return self.client_nogc_s / self.decode_classify_s if self.decode_classify_s else 0


def run(
    pods: int = 50_000,
    sample: int = 5_000,
    *,
    inprocess: bool = False,
    runs: int = 3,
    enrolment: str = ENROLMENT,
) -> PollFigures:
    """Run the poll benchmark (Django must be set up) and return its figures."""
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone
    from kubernetes import client

    from adoption import collect, store
    from adoption.models import Snapshot, SnapshotStatus

    page_size = settings.MESHBOARD_KUBE_PAGE_SIZE
    f = PollFigures(rss_start_mb=rss_mb(), enrolment=enrolment)
    with (
        tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp,
        kubesim(pods, inprocess=inprocess, workdir=Path(tmp), enrolment=enrolment) as sim,
    ):
        cluster = _register(sim)
        # 1. warm kubesim's render caches (the first list renders every page)
        t0 = time.perf_counter()
        snap = collect.snapshot_cluster(cluster)
        f.warmup_s = time.perf_counter() - t0
        if snap.status != SnapshotStatus.OK:
            raise RuntimeError(f"warm-up poll failed: {snap.error}")
        # 2. the end-to-end figure: whole polls as the Celery task runs them (median of runs)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            snap = collect.snapshot_cluster(cluster)
            times.append(time.perf_counter() - t0)
            assert snap.status == SnapshotStatus.OK, snap.error
        f.e2e_s = statistics.median(times)
        f.extra["e2e_runs"] = times
        f.rss_peak_mb = peak_rss_mb()
        f.mb_read = snap.bytes_read / 1e6
        if sim.pid is not None:
            import psutil

            f.kubesim_rss_mb = psutil.Process(sim.pid).memory_info().rss / (1024 * 1024)
        # 3. the same poll, phase by phase: list + decode + classify streamed, then the rows
        #    (with the cyclic GC paused, as `snapshot_cluster` runs them)
        from adoption.classify.cluster import gc_paused

        t0 = time.perf_counter()
        at = timezone.now()
        with gc_paused():
            read, result, workloads, namespaces = collect.read_and_classify(cluster, at)
        f.read_s = time.perf_counter() - t0
        f.workloads, f.namespaces = len(workloads), len(namespaces)
        del read, result  # released: the poll keeps no object lists once classified
        # the lists again (pods skipped) for step 4's classifier
        skip_read = collect.read_cluster(cluster, pods=lambda read: _SkipPods())
        t0 = time.perf_counter()
        with gc_paused(), transaction.atomic():
            phase_snap = Snapshot.objects.create(
                cluster=cluster, started_at=at, status=SnapshotStatus.OK
            )
            store.write_snapshot(phase_snap, workloads, namespaces)
        f.store_s = time.perf_counter() - t0
        del workloads, namespaces
        # 4. pods again, page by page: network vs decode vs classify; keep a sample for the
        #    baseline
        from adoption.kube import listing

        classifier = skip_read.classifier(collect.classify_options(at), keep_pods=False)
        del skip_read
        kept: list[bytes] = []
        kept_pods = 0
        with gc_paused():  # as the poll runs them
            for data, took in _pod_pages(cluster, page_size):
                f.pages += 1
                f.pods_fetch_s += took
                t0 = time.perf_counter()
                page = listing.decode_pods(data)
                f.pods_typed_decode_s += time.perf_counter() - t0
                t0 = time.perf_counter()
                classifier.add_pods(page.items or [])
                f.pods += len(page.items or [])
                f.pod_bytes += len(data)
                f.injected += sum(map(_injected, page.items or []))
                f.classify_s += time.perf_counter() - t0
                if kept_pods < sample:
                    kept.append(data)
                    kept_pods += len(page.items or [])
                del page
            t0 = time.perf_counter()
            classifier.finish()
            f.classify_s += time.perf_counter() - t0
        # 5. baseline: the kubernetes client's own models for the sampled pages, as a program
        #    using the client runs it (the cyclic GC on: its millions of model objects trigger
        #    collections), and once more with the GC paused, as the poll runs (information:
        #    the part of the client's time that is the collector's)
        api = client.ApiClient()
        t0 = time.perf_counter()
        for data in kept:
            api.deserialize(data.decode("utf-8"), "V1PodList", "application/json")
        f.client_sample_s = time.perf_counter() - t0
        with gc_paused():
            t0 = time.perf_counter()
            for data in kept:
                api.deserialize(data.decode("utf-8"), "V1PodList", "application/json")
            f.client_sample_nogc_s = time.perf_counter() - t0
        f.client_sample_pods = kept_pods
        f.client_extrapolated_s = f.client_sample_s * f.pods / max(kept_pods, 1)
        # the untyped decode the poll did before the typed one (information), on the sample too:
        # interleaved with the pages above, its garbage slowed the typed decode measured there
        with gc_paused():
            t0 = time.perf_counter()
            for data in kept:
                listing._decoder.decode(data)
            f.pods_decode_s = (time.perf_counter() - t0) * f.pods / max(kept_pods, 1)
    return f


def report(f: PollFigures) -> None:
    per10k = 10_000 / max(f.pods, 1)
    print_table(
        f"Poll of one cluster: {f.pods:,} pods ({f.injected / max(f.pods, 1):.0%} injected, "
        f"{f.pod_bytes / max(f.pods, 1) / 1000:.1f} KB of JSON each on average, kubesim "
        f"--enrolment {f.enrolment}), {f.workloads:,} workloads, {f.namespaces} namespaces, "
        f"{f.pages} pod pages, {f.mb_read:.0f} MB read in all ({machine()})",
        ["figure", "time", "per 10k pods", "note"],
        [
            ["warm-up poll (kubesim renders)", fmt_s(f.warmup_s), "", "not a target"],
            [
                "end to end (snapshot_cluster), median of "
                + ", ".join(fmt_s(t) for t in f.extra.get("e2e_runs", [f.e2e_s])),
                fmt_s(f.e2e_s),
                fmt_s(f.e2e_s * per10k),
                f"target < {TARGET_E2E_S:g} s: {verdict(f.e2e_s < TARGET_E2E_S)}",
            ],
            [
                "  read_and_classify (list + decode + classify, streamed)",
                fmt_s(f.read_s),
                fmt_s(f.read_s * per10k),
                "",
            ],
            [
                "  of which classify (pods, incremental)",
                fmt_s(f.classify_s),
                fmt_s(f.classify_s * per10k),
                "",
            ],
            ["  store.write_snapshot", fmt_s(f.store_s), fmt_s(f.store_s * per10k), ""],
            [
                "pods: fetch raw pages",
                fmt_s(f.pods_fetch_s),
                fmt_s(f.pods_fetch_s * per10k),
                "network + kubesim",
            ],
            [
                "pods: untyped msgspec decode → dicts (sampled, extrapolated)",
                fmt_s(f.pods_decode_s),
                fmt_s(f.pods_decode_s * per10k),
                "before (info)",
            ],
            [
                "pods: typed decode (listing.decode_pods)",
                fmt_s(f.pods_typed_decode_s),
                fmt_s(f.pods_typed_decode_s * per10k),
                "classifier's fields only: what the poll does",
            ],
            [
                "decode + classify",
                fmt_s(f.decode_classify_s),
                fmt_s(f.decode_classify_s * per10k),
                "",
            ],
            [
                "BASELINE client models (V1PodList)",
                fmt_s(f.client_extrapolated_s),
                fmt_s(f.client_extrapolated_s * per10k),
                f"sampled {f.client_sample_pods:,} pods in {fmt_s(f.client_sample_s)}, "
                "extrapolated",
            ],
            [
                "ratio client / (decode + classify)",
                f"{f.ratio:.1f}×",
                "",
                f"target ≥ {TARGET_RATIO:g}×: {verdict(f.ratio >= TARGET_RATIO)}",
            ],
            [
                "  client models with the GC paused (information)",
                fmt_s(f.client_nogc_s),
                fmt_s(f.client_nogc_s * per10k),
                f"ratio {f.ratio_nogc:.1f}×: the rest of the client's time is the collector's",
            ],
        ],
    )
    sim_rss = f"{f.kubesim_rss_mb:.0f} MB" if f.kubesim_rss_mb is not None else "in-process"
    print_table(
        "Memory (worker process; kubesim runs in a separate process)",
        ["figure", "MB", "note"],
        [
            ["RSS before the polls (Django loaded)", f"{f.rss_start_mb:.0f}", ""],
            [
                "peak RSS after warm-up + timed poll",
                f"{f.rss_peak_mb:.0f}",
                f"target < {TARGET_RSS_MB:g} MB: {verdict(f.rss_peak_mb < TARGET_RSS_MB)}",
            ],
            ["kubesim process RSS (not counted)", sim_rss, ""],
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=5_000, help="pods for the client baseline")
    parser.add_argument("--inprocess", action="store_true", help="run kubesim in a thread")
    parser.add_argument(
        "--enrolment",
        choices=("complete", "gradual"),
        default=ENROLMENT,
        help="kubesim's fleet: 'complete' (injected pods, the issue's benchmark) or 'gradual' "
        "(a rollout in progress: most pods without a proxy, smaller)",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed end-to-end polls (median)")
    args = parser.parse_args(argv)
    setup_django()
    figures = run(
        args.pods, args.sample, inprocess=args.inprocess, runs=args.runs, enrolment=args.enrolment
    )
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
