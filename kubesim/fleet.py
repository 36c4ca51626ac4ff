"""The seeded fleet: `Fleet(seed, clusters)` is a pure function of (seed, simulated time)."""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kubesim import resources
from kubesim.plan import ClusterPlan, build_plan
from kubesim.rand import uid
from kubesim.render import RenderCtx, list_rv, pod_labels, render_pod, render_pod_metrics
from kubesim.snapshot import Entry, Snapshot
from kubesim.spec import (
    DEFAULT_EPOCH,
    IDLE,
    IN_MESH,
    MESHED,
    PARTIAL,
    SYSTEM_NAMESPACES,
    ClusterSpec,
    TruthRow,
    demo_clusters,
)
from kubesim.timeline import DAY, PodInst, ns_class, ns_labels, workload_pods

# plural -> (kind, apiVersion) used by `objects()`; the server has its own table for discovery.
KINDS: dict[str, tuple[str, str]] = {
    "namespaces": ("Namespace", "v1"),
    "pods": ("Pod", "v1"),
    "services": ("Service", "v1"),
    "configmaps": ("ConfigMap", "v1"),
    "deployments": ("Deployment", "apps/v1"),
    "statefulsets": ("StatefulSet", "apps/v1"),
    "daemonsets": ("DaemonSet", "apps/v1"),
    "replicasets": ("ReplicaSet", "apps/v1"),
    "jobs": ("Job", "batch/v1"),
    "cronjobs": ("CronJob", "batch/v1"),
    "mutatingwebhookconfigurations": (
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
    "virtualservices": ("VirtualService", "networking.istio.io/v1"),
    "destinationrules": ("DestinationRule", "networking.istio.io/v1"),
    "gateways": ("Gateway", "networking.istio.io/v1"),
    "serviceentries": ("ServiceEntry", "networking.istio.io/v1"),
    "sidecars": ("Sidecar", "networking.istio.io/v1"),
    "peerauthentications": ("PeerAuthentication", "security.istio.io/v1"),
    "authorizationpolicies": ("AuthorizationPolicy", "security.istio.io/v1"),
    "podmetrics": ("PodMetrics", "metrics.k8s.io/v1beta1"),
    "horizontalpodautoscalers": ("HorizontalPodAutoscaler", "autoscaling/v2"),
}


class Fleet:
    """Deterministic clusters. Objects change once per simulated day (UTC days from `epoch`)."""

    def __init__(
        self,
        seed: int = 42,
        clusters: Iterable[ClusterSpec] | None = None,
        *,
        epoch: datetime = DEFAULT_EPOCH,
        cache_size: int = 8,
    ) -> None:
        self.seed = seed
        self.clusters: list[ClusterSpec] = list(
            clusters if clusters is not None else demo_clusters()
        )
        names = [c.name for c in self.clusters]
        if len(set(names)) != len(names):
            raise ValueError("cluster names must be unique")
        self.epoch = epoch
        self.cache_size = cache_size
        self._plans: dict[str, ClusterPlan] = {}
        self._snaps: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
        self._pods: OrderedDict[tuple[str, int], list[PodInst]] = OrderedDict()
        self._lock = threading.RLock()

    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.clusters]

    def spec(self, cluster: str) -> ClusterSpec:
        for c in self.clusters:
            if c.name == cluster:
                return c
        raise KeyError(cluster)

    def plan(self, cluster: str) -> ClusterPlan:
        with self._lock:
            p = self._plans.get(cluster)
            if p is None:
                p = self._plans[cluster] = build_plan(self.seed, self.spec(cluster))
            return p

    def day_of(self, at: datetime) -> int:
        return math.floor((at - self.epoch) / DAY)

    def start_of_day(self, day: int) -> datetime:
        return self.epoch + day * DAY

    def pods_on(self, cluster: str, day: int) -> list[PodInst]:
        """All pods (including Succeeded job pods) on a day, sorted by namespace and name."""
        with self._lock:
            key = (cluster, day)
            got = self._pods.get(key)
            if got is None:
                plan = self.plan(cluster)
                got = [p for wl in plan.workloads for p in workload_pods(plan, wl, day, self.epoch)]
                got.sort(key=lambda p: (p.wl.ns.name, p.name))
                self._pods[key] = got
                while len(self._pods) > self.cache_size:
                    self._pods.popitem(last=False)
            return got

    def snapshot(self, cluster: str, day: int) -> Snapshot:
        """The cluster's objects on `day` (cached; bodies are rendered on first use)."""
        with self._lock:
            key = (cluster, day)
            snap = self._snaps.get(key)
            if snap is None:
                snap = self._build(cluster, day)
                self._snaps[key] = snap
                while len(self._snaps) > self.cache_size:
                    self._snaps.popitem(last=False)
            else:
                self._snaps.move_to_end(key)
            return snap

    def _build(self, cluster: str, day: int) -> Snapshot:
        plan = self.plan(cluster)
        ctx = RenderCtx(plan=plan, epoch=self.epoch, day=day, now=self.start_of_day(day))
        pods = self.pods_on(cluster, day)
        pod_entries: list[Entry] = []
        metrics: list[Entry] = []
        seed, name = self.seed, cluster
        for p in pods:
            labels = pod_labels(p)
            pod_uid = uid(seed, name, p.key, "uid")
            owner_uid = resources.owner_uid(seed, name, p) if p.owner_kind else None

            def build(
                p: PodInst = p,
                labels: dict[str, str] = labels,
                pu: str = pod_uid,
                ou: str | None = owner_uid,
            ) -> tuple[dict[str, Any], dict[str, Any]]:
                return render_pod(ctx, p, labels, pu, ou)

            pod_entries.append(Entry(p.wl.ns.name, p.name, labels, build, p.phase))
            if plan.spec.metrics_api and p.phase == "Running":

                def mbuild(
                    p: PodInst = p, labels: dict[str, str] = labels
                ) -> tuple[dict[str, Any], dict[str, Any]]:
                    return render_pod_metrics(ctx, p, labels)

                metrics.append(Entry(p.wl.ns.name, p.name, labels, mbuild))
        res = resources.build_all(ctx, seed, pods)
        res["horizontalpodautoscalers"] = _istiod_hpas(ctx, res.get("deployments", []))
        res["pods"] = pod_entries
        if plan.spec.metrics_api:
            res["podmetrics"] = metrics
        for entries in res.values():
            entries.sort(key=lambda e: (e.namespace or "", e.name))
        return Snapshot(cluster=cluster, day=day, resource_version=list_rv(day), resources=res)

    def objects(self, cluster: str, at: datetime) -> dict[str, list[dict[str, Any]]]:
        """Every object of a cluster at `at`, keyed by plural resource (with kind/apiVersion)."""
        snap = self.snapshot(cluster, self.day_of(at))
        out: dict[str, list[dict[str, Any]]] = {}
        for plural, entries in snap.resources.items():
            kind, api_version = KINDS[plural]
            out[plural] = [e.to_dict(kind, api_version) for e in entries]
        return out

    def truth(self, cluster: str, at: datetime) -> list[TruthRow]:
        """Expected namespace classes and workload states at `at` (see TruthRow)."""
        day = self.day_of(at)
        plan = self.plan(cluster)
        pods = self.pods_on(cluster, day)
        by_wl: dict[str, list[PodInst]] = {}
        for p in pods:
            by_wl.setdefault(p.wl.key, []).append(p)
        rows: list[TruthRow] = []
        ns_counts: dict[str, list[int]] = {}
        ns_classes = {ns.name: ns_class(plan, ns, day) for ns in plan.namespaces}
        for wl in plan.workloads:
            if day < wl.created_day or day < wl.ns.created_day:
                continue
            counted = [p for p in by_wl.get(wl.key, []) if p.phase in ("Running", "Pending")]
            meshed = sum(1 for p in counted if p.state in IN_MESH)
            states = Counter(p.state for p in counted)
            if not counted:
                state = IDLE
            elif meshed == len(counted):
                state = MESHED
            elif meshed:
                state = PARTIAL
            else:
                state = sorted(states.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            versions = sorted({p.injection.version for p in counted if p.injection})
            revs = sorted({p.injection.revision for p in counted if p.injection})
            behind = any(
                p.injection.version
                != resources.current_version(plan.spec, p.injection.revision, day)
                for p in counted
                if p.injection
            )
            c = ns_counts.setdefault(wl.ns.name, [0, 0])
            c[0] += len(counted)
            c[1] += meshed
            rows.append(
                TruthRow(
                    namespace=wl.ns.name,
                    kind=wl.kind,
                    name=wl.name,
                    expected_state=state,
                    pods_total=len(counted),
                    pods_meshed=meshed,
                    tribe=wl.ns.tribe,
                    squad=wl.squad,
                    namespace_system=wl.ns.name in SYSTEM_NAMESPACES,
                    namespace_class=ns_classes[wl.ns.name],
                    revision=revs[0] if len(revs) == 1 else None,
                    proxy_versions=tuple(versions),
                    behind=behind,
                    pod_states=tuple(sorted(states.items())),
                )
            )
        for ns in plan.namespaces:
            if day < ns.created_day:
                continue
            total, meshed = ns_counts.get(ns.name, [0, 0])
            rev = ns_labels(ns, day).get("istio.io/rev")
            rows.append(
                TruthRow(
                    namespace=ns.name,
                    kind="Namespace",
                    name=ns.name,
                    expected_state=ns_classes[ns.name],
                    pods_total=0,
                    pods_meshed=0,
                    tribe=ns.tribe,
                    squad=None,
                    namespace_system=ns.name in SYSTEM_NAMESPACES,
                    namespace_class=ns_classes[ns.name],
                    revision=rev,
                    namespace_pods_total=total,
                    namespace_pods_meshed=meshed,
                )
            )
        rows.sort(key=lambda r: (r.namespace, r.kind != "Namespace", r.kind, r.name))
        return rows


def _istiod_hpas(ctx: RenderCtx, deployments: list[Entry]) -> list[Entry]:
    """istiod's HorizontalPodAutoscaler (as the Istio chart installs one: min 1, max 5), for the
    clusters whose number is even in the fleet order, so both cases occur."""
    out: list[Entry] = []
    if ctx.plan.spec.name.endswith(("-us", "staging")):
        return out
    for dep in deployments:
        if dep.labels.get("app") != "istiod":
            continue

        def build(
            name: str = dep.name, ns: str | None = dep.namespace
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            meta = {"name": name, "namespace": ns, "labels": {"app": "istiod"}}
            spec = {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    }
                ],
            }
            return meta, {"spec": spec}

        out.append(Entry(dep.namespace, dep.name, {"app": "istiod"}, build))
    return out
