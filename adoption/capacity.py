"""What the mesh costs today and what reaching a target will cost (pure functions).

Inputs are the objects one poll read (istiod Deployments, HorizontalPodAutoscalers, PodMetrics
from ``metrics.k8s.io`` when the cluster serves it, pods); the summary is stored with the
snapshot. A cluster without metrics-server is normal: usage is then ``None`` and pages say
"requests only".

Capacity threshold (``MESHBOARD_PROXIES_PER_ISTIOD_VCPU``, default 2000): Istio's published
performance figures (istio.io, "Performance and Scalability": istiod uses about 1 vCPU and 1.5 GB
of memory for a mesh of 1,000 services and 2,000 sidecars) give ~2,000 proxies per vCPU of
istiod. The warning fires when the proxies per istiod replica exceed that figure times the
replica's CPU request (the default istiod request of 500m therefore warns above 1,000 proxies).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from .classify.quantity import cpu_millicores, memory_bytes

PROXY = "istio-proxy"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""


def _containers(spec: Any, key: str = "containers") -> list[Mapping[str, Any]]:
    items = spec.get(key) if isinstance(spec, Mapping) else None
    return [c for c in items if isinstance(c, Mapping)] if isinstance(items, list) else []


def _resource(
    container: Mapping[str, Any], kind: str, name: str, errors: list[str]
) -> tuple[int, int]:
    """(cpu millicores, memory bytes) of a container's requests or limits; bad values → 0 and
    an error recorded (never raises)."""
    resources = container.get("resources")
    values = resources.get(kind) if isinstance(resources, Mapping) else None
    if not isinstance(values, Mapping):
        return 0, 0
    cpu_raw, mem_raw = values.get("cpu"), values.get("memory")
    cpu = cpu_millicores(cpu_raw) if cpu_raw is not None else 0
    mem = memory_bytes(mem_raw) if mem_raw is not None else 0
    if cpu is None:
        errors.append(f"{name}: bad CPU quantity {str(cpu_raw)[:40]!r}")
    if mem is None:
        errors.append(f"{name}: bad memory quantity {str(mem_raw)[:40]!r}")
    return cpu or 0, mem or 0


@dataclass
class ControlPlane:
    """One istiod revision: replicas (bounded by its HPA when present) and resources."""

    revision: str
    deployment: str
    replicas: int
    cpu_request_m: int
    memory_request_b: int
    hpa_min: int | None = None
    hpa_max: int | None = None
    cpu_usage_m: int | None = None
    memory_usage_b: int | None = None

    @property
    def replicas_bounds(self) -> tuple[int, int]:
        """The replica range to plan with: the HPA's min..max when present, else replicas."""
        low = self.hpa_min if self.hpa_min is not None else self.replicas
        high = self.hpa_max if self.hpa_max is not None else self.replicas
        return max(low, 1), max(high, low, 1)


@dataclass
class ProxyUsage:
    """Actual use of the istio-proxy containers (from metrics.k8s.io)."""

    proxies: int
    cpu_m: int
    memory_b: int
    cpu_p95_m: int
    memory_p95_b: int


@dataclass
class Capacity:
    """Per-cluster capacity figures of one poll (stored as JSON on the snapshot)."""

    control_planes: list[ControlPlane] = field(default_factory=list)
    proxies: int = 0
    proxy_cpu_request_m: int = 0
    proxy_memory_request_b: int = 0
    app_cpu_request_m: int = 0
    app_memory_request_b: int = 0
    usage: ProxyUsage | None = None
    metrics_api: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def istiod_replicas(self) -> int:
        return sum(cp.replicas for cp in self.control_planes)

    @property
    def proxies_per_replica(self) -> float | None:
        replicas = self.istiod_replicas
        return self.proxies / replicas if replicas else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["istiod_replicas"] = self.istiod_replicas
        data["proxies_per_replica"] = self.proxies_per_replica
        return data


def _p95(values: list[int]) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


_UNSET: Any = object()
_NOT_RUNNING: Any = object()


class PodTotals:
    """The pod part of `summarize`, fed page by page (a poll never keeps its pods)."""

    __slots__ = (
        "proxies",
        "proxy_cpu_request_m",
        "proxy_memory_request_b",
        "app_cpu_request_m",
        "app_memory_request_b",
        "errors",
        "_seen",
    )

    def __init__(self) -> None:
        self.proxies = self.proxy_cpu_request_m = self.proxy_memory_request_b = 0
        self.app_cpu_request_m = self.app_memory_request_b = 0
        self.errors: list[str] = []
        self._seen: dict[bytes, tuple[bool, int, int, int, int]] = {}

    def add(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Count running pods with an istio-proxy container (classic or native).

        A pod's figures depend only on its containers' names, resources and restart policies:
        pods with the same ones (a ReplicaSet's) are added from the first one's figures."""
        seen = self._seen
        # (status, spec, figures) of the pod before: a pod with the very same status and spec
        # objects (`kube.decode_pods` shares a ReplicaSet's) counts the same; None: work it out
        last: tuple[Any, Any, Any] = (_UNSET, _UNSET, None)
        for pod in pods:
            status, pod_spec = pod.get("status"), pod.get("spec")
            if status is last[0] and pod_spec is last[1] and last[2] is not None:
                if last[2] is not _NOT_RUNNING:
                    self._count(last[2])
                continue
            if _map(status).get("phase") in ("Succeeded", "Failed"):
                last = (status, pod_spec, _NOT_RUNNING)
                continue
            last = (status, pod_spec, None)
            try:
                key = _encode(
                    (
                        _resources_key(_containers(pod_spec)),
                        _resources_key(_containers(pod_spec, "initContainers")),
                    )
                )
            except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
                key = None
            figures = seen.get(key) if key is not None else None
            if figures is None:
                before = len(self.errors)
                figures = self._figures(pod, pod_spec)
                if key is not None and len(self.errors) == before:  # errors name the pod
                    seen[key] = figures
                    last = (status, pod_spec, figures)
            else:
                last = (status, pod_spec, figures)
            self._count(figures)

    def _count(self, figures: tuple[bool, int, int, int, int]) -> None:
        proxy, pc, pm, ac, am = figures
        if proxy:
            self.proxies += 1
            self.proxy_cpu_request_m += pc
            self.proxy_memory_request_b += pm
            self.app_cpu_request_m += ac
            self.app_memory_request_b += am

    def _figures(self, pod: Mapping[str, Any], pod_spec: Any) -> tuple[bool, int, int, int, int]:
        """(has a proxy, proxy CPU m, proxy memory B, app CPU m, app memory B) of one pod."""
        errors = self.errors
        pc = pm = ac = am = 0
        containers = _containers(pod_spec)
        proxy = [c for c in containers if c.get("name") == PROXY] + [
            c
            for c in _containers(pod_spec, "initContainers")
            if c.get("name") == PROXY and c.get("restartPolicy") == "Always"
        ]
        if not proxy:
            return False, 0, 0, 0, 0
        pc, pm = _resource(proxy[0], "requests", f"pod {_name(pod)}", errors)
        for c in containers:
            if c.get("name") != PROXY:
                c_cpu, c_mem = _resource(c, "requests", f"pod {_name(pod)}", errors)
                ac += c_cpu
                am += c_mem
        return True, pc, pm, ac, am


_encode = msgspec.json.Encoder().encode


def _resources_key(containers: list[Mapping[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return [
        (c.get("name") == PROXY, c.get("resources"), c.get("restartPolicy")) for c in containers
    ]


def summarize(
    pods: Iterable[Mapping[str, Any]],
    istiod: Iterable[Mapping[str, Any]],
    hpas: Iterable[Mapping[str, Any]] = (),
    podmetrics: Iterable[Mapping[str, Any]] | None = None,
    *,
    pod_totals: PodTotals | None = None,
    usage: UsageTotals | None = None,
) -> Capacity:
    """Capacity of one cluster from the objects one poll read.

    1. Control planes: each istiod Deployment's replicas and per-replica requests; an HPA whose
       ``scaleTargetRef`` names the Deployment gives min/max replicas.
    2. Proxies: running pods with an istio-proxy container (classic or native), their requests,
       and the requests of the pods' own containers (for the sidecar's share); ``pod_totals``
       given (pods streamed into a `PodTotals`), ``pods`` is ignored.
    3. Usage, when the metrics API answered: per-proxy CPU/memory (sum and p95) and istiod's;
       ``usage`` given (PodMetrics streamed into a `UsageTotals`), ``podmetrics`` is ignored.
    """
    cap = Capacity(metrics_api=podmetrics is not None)
    hpa_by_target: dict[str, tuple[int | None, int | None]] = {}
    for hpa in hpas:
        spec = _map(hpa.get("spec"))
        ref = spec.get("scaleTargetRef")
        if isinstance(ref, Mapping) and ref.get("kind") == "Deployment":
            low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
            hpa_by_target[str(ref.get("name"))] = (
                low if isinstance(low, int) else None,
                high if isinstance(high, int) else None,
            )
    istiod_pods: dict[str, list[str]] = {}
    for dep in istiod:
        name = _name(dep)
        dep_spec = _map(dep.get("spec"))
        pod_spec = _map(dep_spec.get("template")).get("spec")
        cpu = mem = 0
        for c in _containers(pod_spec):
            dc, dm = _resource(c, "requests", f"istiod {name}", cap.errors)
            cpu, mem = cpu + dc, mem + dm
        replicas = dep_spec.get("replicas", 1)
        low, high = hpa_by_target.get(name, (None, None))
        revision = str(_labels(dep).get("istio.io/rev") or "default")
        cap.control_planes.append(
            ControlPlane(
                revision, name, replicas if isinstance(replicas, int) else 1, cpu, mem, low, high
            )
        )
        istiod_pods[name] = []
    if pod_totals is None:
        pod_totals = PodTotals()
        pod_totals.add(pods)
    cap.proxies = pod_totals.proxies
    cap.proxy_cpu_request_m = pod_totals.proxy_cpu_request_m
    cap.proxy_memory_request_b = pod_totals.proxy_memory_request_b
    cap.app_cpu_request_m = pod_totals.app_cpu_request_m
    cap.app_memory_request_b = pod_totals.app_memory_request_b
    cap.errors.extend(pod_totals.errors)
    if usage is None and podmetrics is not None:
        usage = UsageTotals()
        usage.add(podmetrics)
    if usage is not None:
        cap.metrics_api = True
        cpus, mems = usage.proxy_cpu_m, usage.proxy_memory_b
        cap.usage = ProxyUsage(len(cpus), sum(cpus), sum(mems), _p95(cpus), _p95(mems))
        istiod_cpu: dict[str, int] = {}
        istiod_mem: dict[str, int] = {}
        for pod_name, used_cpu, used_mem in usage.discovery:
            owner = next((d for d in istiod_pods if pod_name.startswith(d + "-")), None)
            if owner is not None:
                istiod_cpu[owner] = istiod_cpu.get(owner, 0) + used_cpu
                istiod_mem[owner] = istiod_mem.get(owner, 0) + used_mem
        for cp in cap.control_planes:
            cp.cpu_usage_m = istiod_cpu.get(cp.deployment)
            cp.memory_usage_b = istiod_mem.get(cp.deployment)
    return cap


class UsageTotals:
    """The PodMetrics part of `summarize`, fed page by page: every proxy's usage (for the sum
    and p95) and istiod's ``discovery`` containers, nothing else of the list."""

    __slots__ = ("proxy_cpu_m", "proxy_memory_b", "discovery")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything added (the list restarted after a 410)."""
        self.proxy_cpu_m: list[int] = []
        self.proxy_memory_b: list[int] = []
        self.discovery: list[tuple[str, int, int]] = []  # (pod name, cpu m, memory B)

    def add(self, podmetrics: Iterable[Mapping[str, Any]]) -> None:
        for pm_obj in podmetrics:
            for c in _containers(pm_obj):
                name = c.get("name")
                if name != PROXY and name != "discovery":
                    continue
                usage = _map(c.get("usage"))
                used_cpu = cpu_millicores(usage.get("cpu"), cache=False) or 0
                used_mem = memory_bytes(usage.get("memory"), cache=False) or 0
                if name == PROXY:
                    self.proxy_cpu_m.append(used_cpu)
                    self.proxy_memory_b.append(used_mem)
                else:
                    self.discovery.append((_name(pm_obj), used_cpu, used_mem))


@dataclass(frozen=True)
class Projection:
    """What meeting a target adds: proxies, requested resources, load per istiod replica."""

    extra_proxies: int
    extra_cpu_request_m: int
    extra_memory_request_b: int
    proxies_after: int
    istiod_replicas: int
    proxies_per_replica_after: float | None
    threshold_per_replica: float | None
    warning: str


def project(
    *,
    pods_outside: int,
    share_to_mesh: float,
    proxies_now: int,
    proxy_cpu_request_m: int,
    proxy_memory_request_b: int,
    istiod_replicas_max: int,
    istiod_cpu_request_m: int,
    proxies_per_vcpu: int = 2000,
    proxies_served_now: int | None = None,
) -> Projection:
    """Extra cost of meshing ``share_to_mesh`` (0..1) of the ``pods_outside`` the mesh today,
    at today's per-proxy requests (``proxies_now`` and their requests, in the target's scope);
    load per istiod replica at the HPA's maximum (or the fixed replica count), counting every
    proxy those istiods serve (``proxies_served_now``, default ``proxies_now``)."""
    share = min(max(share_to_mesh, 0.0), 1.0)
    extra = math.ceil(pods_outside * share)
    per_cpu = proxy_cpu_request_m / proxies_now if proxies_now else 0
    per_mem = proxy_memory_request_b / proxies_now if proxies_now else 0
    after = (proxies_now if proxies_served_now is None else proxies_served_now) + extra
    per_replica = after / istiod_replicas_max if istiod_replicas_max else None
    threshold = proxies_per_vcpu * istiod_cpu_request_m / 1000 if istiod_cpu_request_m else None
    warning = ""
    if per_replica is not None and threshold is not None and per_replica > threshold:
        warning = (
            f"{per_replica:.0f} proxies per istiod replica after the target exceeds about "
            f"{threshold:.0f} ({proxies_per_vcpu} per vCPU × {istiod_cpu_request_m}m requested): "
            "add istiod replicas or CPU before onboarding"
        )
    elif istiod_replicas_max == 0 and after:
        warning = "no istiod found in this scope"
    return Projection(
        extra_proxies=extra,
        extra_cpu_request_m=round(extra * per_cpu),
        extra_memory_request_b=round(extra * per_mem),
        proxies_after=after,
        istiod_replicas=istiod_replicas_max,
        proxies_per_replica_after=per_replica,
        threshold_per_replica=threshold,
        warning=warning,
    )
