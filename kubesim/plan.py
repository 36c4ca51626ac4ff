"""The time-independent plan of one cluster: namespaces, workloads and their schedules.

Everything here is derived from (seed, ClusterSpec) by hashing, so a plan is reproducible and
cheap to rebuild. Time-dependent questions (labels on day D, which pods exist) live in
`timeline.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubesim.rand import expo, h, pick, u, weighted
from kubesim.spec import ClusterSpec

WORDS = (
    "api", "web", "worker", "gateway", "sync", "consumer", "scheduler", "reporter", "indexer",
    "notifier", "frontend", "backend", "cache", "processor", "exporter", "router", "adapter",
    "validator", "importer", "publisher",
)  # fmt: skip
NS_SUFFIXES = ("", "-api", "-core", "-jobs", "-edge", "-internal", "-batch", "-stream")

# Roles of infrastructure workloads; their pods are `ineligible`.
INFRA_ROLES = frozenset(
    {"istiod", "ingress-gw", "egress-gw", "k8s-gw", "waypoint", "ztunnel", "cni", "system"}
)


@dataclass(slots=True)
class NsPlan:
    """A namespace and how (and when) it joins the mesh."""

    name: str
    tribe: str | None
    # system | default | revision | ambient | disabled | never
    mode: str
    enrol_day: int | None = None
    migrate_day: int | None = None
    rev_value: str | None = None
    created_day: int = -400
    system: bool = False


@dataclass(slots=True)
class WlPlan:
    """A top-level workload (Deployment, StatefulSet, DaemonSet, CronJob, Job or bare Pod)."""

    key: str
    ns: NsPlan
    kind: str
    name: str
    squad: str | None
    role: str = "app"
    replicas: int = 1
    created_day: int = -300
    rollout_mean: float = 30.0
    opt_out: str | None = None  # label | annotation | dataplane-none
    native_annot: str | None = None  # "true" | "false"
    host_network: bool = False
    service: bool = False
    port: int = 8080
    image: str = ""
    cron_active: bool = False
    extra_rollouts: list[int] = field(default_factory=list)
    vs_day: int | None = None
    dr_day: int | None = None
    vs_timeout: bool = False
    vs_retries: bool = False
    dr_pool: bool = False
    dr_outlier: bool = False
    rollout_cache: list[int] = field(default_factory=list)
    rollout_cached_to: int = -(10**6)


@dataclass(slots=True)
class ClusterPlan:
    spec: ClusterSpec
    seed: int
    nodes: list[str]
    namespaces: list[NsPlan]
    workloads: list[WlPlan]

    def key(self, *parts: object) -> tuple[object, ...]:
        return (self.seed, self.spec.name, *parts)


def _squads(spec: ClusterSpec) -> list[tuple[str, str]]:
    return [(tribe, squad) for tribe, squads in spec.tribes.items() for squad in squads]


def _replicas(*key: object) -> int:
    return weighted([(1, 25), (2, 35), (3, 25), (4, 8), (6, 5), (10, 2)], *key)


def build_plan(seed: int, spec: ClusterSpec) -> ClusterPlan:
    """Build the static plan of one cluster (namespaces, workloads, schedules)."""
    n_nodes = max(3, min(spec.pods_target // 30, 2000))
    nodes = [
        f"{spec.name}-pool-{i // 100}-{h(seed, spec.name, 'node', i) % 16**8:08x}"
        for i in range(n_nodes)
    ]
    plan = ClusterPlan(spec=spec, seed=seed, nodes=nodes, namespaces=[], workloads=[])
    budget = spec.pods_target - _add_infra(plan)
    _add_platform(plan)
    squads = _squads(spec)
    used: set[str] = {ns.name for ns in plan.namespaces}
    i = 0
    while budget > 0:
        tribe, squad = squads[i % len(squads)] if i < len(squads) else pick(squads, seed, "sq", i)
        name = _ns_name(squad, used, seed, i)
        used.add(name)
        ns = _plan_namespace(plan, name, tribe, i)
        plan.namespaces.append(ns)
        budget -= _add_app_workloads(plan, ns, squad, tribe, i)
        i += 1
    _add_waypoints(plan)
    for wl in plan.workloads:
        wl.created_day = max(wl.created_day, wl.ns.created_day)
    return plan


def _ns_name(squad: str, used: set[str], seed: int, i: int) -> str:
    for attempt in range(len(NS_SUFFIXES)):
        name = squad + pick(NS_SUFFIXES, seed, "nss", i, attempt)
        if name not in used:
            return name
    n = 2
    while f"{squad}-{n}" in used:
        n += 1
    return f"{squad}-{n}"


def _plan_namespace(plan: ClusterPlan, name: str, tribe: str, i: int) -> NsPlan:
    spec, key = plan.spec, plan.key
    labelled_tribe: str | None = tribe if u(*key("ns-tribe", name)) > 0.08 else None
    ns = NsPlan(
        name=name,
        tribe=labelled_tribe,
        mode="never",
        created_day=-300 + int(u(*key("nsc", name)) * 360),
    )
    if not spec.istio:
        return ns
    complete = spec.enrolment == "complete"
    r = u(*key("ns-mode", name))
    if r < 0.07 and not complete:
        ns.mode = "disabled"
        return ns
    if r < 0.17 and not complete:
        return ns
    enrol = max(ns.created_day, -30 + int(u(*key("ns-enrol", name)) * 150))
    ns.enrol_day = enrol = ns.created_day if complete else enrol
    m = u(*key("ns-kind", name))
    if spec.ambient and spec.implicit_injection_day is None and m < 0.22 and not complete:
        ns.mode = "ambient"
    elif spec.canary_revision and enrol >= spec.canary_day and m < 0.7:
        ns.mode = "revision"
        use_tag = spec.revision_tag and u(*key("ns-tag", name)) < 0.6
        ns.rev_value = spec.revision_tag if use_tag else spec.canary_revision
    else:
        ns.mode = "default"
        if spec.canary_revision and u(*key("ns-mig", name)) < 0.5:
            ns.migrate_day = max(enrol, spec.canary_day) + 3 + int(u(*key("ns-migd", name)) * 40)
            ns.rev_value = spec.revision_tag or spec.canary_revision
    return ns


def _add_app_workloads(plan: ClusterPlan, ns: NsPlan, squad: str, tribe: str, i: int) -> int:
    """Add a namespace's application workloads; return roughly how many pods they run."""
    key = plan.key
    pods = 0
    n = 2 + h(*key("nwl", ns.name)) % 6
    names: set[str] = set()
    for j in range(n):
        word = pick(WORDS, *key("wlw", ns.name, j))
        name = f"{squad}-{word}" if word not in names else f"{squad}-{word}-{j}"
        names.add(word)
        kind = weighted(
            [
                ("Deployment", 70),
                ("StatefulSet", 9),
                ("CronJob", 8),
                ("Job", 3),
                ("Pod", 3),
                ("Idle", 4),
            ],
            *key("wlk", ns.name, j),
        )
        wk = f"{ns.name}/{name}"
        wl = WlPlan(
            key=wk,
            ns=ns,
            kind="Deployment" if kind == "Idle" else kind,
            name=name,
            squad=squad if u(*key("wl-squad", wk)) > 0.05 else None,
            replicas=0 if kind == "Idle" else _replicas(*key("rep", wk)),
            created_day=max(ns.created_day, -250 + int(u(*key("wlc", wk)) * 320)),
            rollout_mean=weighted([(4.0, 20), (10.0, 30), (30.0, 30), (90.0, 20)], *key("rm", wk)),
            image=f"registry.example.com/{tribe}/{name}",
            cron_active=u(*key("cron-active", wk)) < 0.35,
        )
        if wl.kind in ("CronJob", "Job", "Pod"):
            wl.replicas = 1
        if kind == "Pod":
            wl.name = f"{squad}-debug-{h(*key('dbg', wk)) % 1000:03d}"
        _plan_mesh_behaviour(plan, wl)
        plan.workloads.append(wl)
        pods += {"CronJob": 4, "Job": 1, "Pod": 1}.get(wl.kind, wl.replicas)
    return pods


def _plan_mesh_behaviour(plan: ClusterPlan, wl: WlPlan) -> None:
    """Opt-outs, native-sidecar annotations, restarts after enrolment, Services and Istio config."""
    spec, key, ns = plan.spec, plan.key, wl.ns
    k = wl.key
    if ns.enrol_day is not None and wl.kind != "Pod" and u(*key("optout", k)) < 0.06:
        if ns.mode == "ambient":
            wl.opt_out = "dataplane-none"
        else:
            wl.opt_out = "annotation" if u(*key("optout-kind", k)) < 0.2 else "label"
        wl.extra_rollouts.append(max(ns.enrol_day, wl.created_day))
    r = u(*key("native", k))
    wl.native_annot = "true" if r < 0.1 else ("false" if r < 0.15 else None)
    if ns.enrol_day is not None and u(*key("restart", k)) < 0.75:
        wl.extra_rollouts.append(ns.enrol_day + 1 + int(expo(6.0, *key("lag", k))))
    if ns.migrate_day is not None and u(*key("restart-mig", k)) < 0.7:
        wl.extra_rollouts.append(ns.migrate_day + 1 + int(expo(5.0, *key("lag-mig", k))))
    if spec.istio and u(*key("restart-upg", k)) < 0.5:
        wl.extra_rollouts.append(spec.upgrade_day + 1 + int(expo(8.0, *key("lag-upg", k))))
    if wl.kind in ("Deployment", "StatefulSet") and u(*key("svc", k)) < 0.85:
        wl.service = True
        wl.port = pick((8080, 8080, 9090, 3000, 5000), *key("port", k))
        base = ns.enrol_day if ns.enrol_day is not None else 200
        if spec.istio and u(*key("vs", k)) < 0.55:
            wl.vs_day = max(wl.created_day, base + int(expo(15.0, *key("vsd", k))))
            wl.vs_timeout = u(*key("vst", k)) < 0.8
            wl.vs_retries = u(*key("vsr", k)) < 0.5
        if spec.istio and u(*key("dr", k)) < 0.4:
            wl.dr_day = max(wl.created_day, base + int(expo(25.0, *key("drd", k))))
            wl.dr_pool = u(*key("drp", k)) < 0.7
            wl.dr_outlier = u(*key("dro", k)) < 0.6


def _infra(
    plan: ClusterPlan, ns: NsPlan, kind: str, name: str, role: str, replicas: int, **kw: Any
) -> int:
    wl = WlPlan(
        key=f"{ns.name}/{name}",
        ns=ns,
        kind=kind,
        name=name,
        squad=None,
        role=role,
        replicas=replicas,
        **kw,
    )
    plan.workloads.append(wl)
    return len(plan.nodes) if kind == "DaemonSet" else replicas


def _add_infra(plan: ClusterPlan) -> int:
    """kube-system and Istio infrastructure; returns its pod count."""
    spec = plan.spec
    kube = NsPlan(name="kube-system", tribe=None, mode="system", system=True, created_day=-400)
    plan.namespaces += [
        NsPlan(name="default", tribe=None, mode="never", created_day=-400),
        kube,
        NsPlan(name="kube-public", tribe=None, mode="system", system=True),
        NsPlan(name="kube-node-lease", tribe=None, mode="system", system=True),
    ]
    pods = _infra(
        plan,
        kube,
        "Deployment",
        "coredns",
        "system",
        2,
        image="registry.k8s.io/coredns/coredns:v1.12.1",
        rollout_mean=60.0,
    )
    pods += _infra(
        plan,
        kube,
        "DaemonSet",
        "kube-proxy",
        "system",
        1,
        host_network=True,
        image="registry.k8s.io/kube-proxy:" + spec.kubernetes_version,
        rollout_mean=90.0,
    )
    if spec.metrics_api:
        pods += _infra(
            plan,
            kube,
            "Deployment",
            "metrics-server",
            "system",
            1,
            image="registry.k8s.io/metrics-server/metrics-server:v0.8.0",
            rollout_mean=90.0,
        )
    if not spec.istio:
        return pods
    isys = NsPlan(
        name="istio-system", tribe="platform", mode="system", system=True, created_day=-300
    )
    plan.namespaces.append(isys)
    pods += _infra(
        plan,
        isys,
        "Deployment",
        "istiod",
        "istiod",
        2,
        created_day=-200,
        extra_rollouts=[spec.upgrade_day],
        rollout_mean=1000.0,
    )
    if spec.canary_revision:
        pods += _infra(
            plan,
            isys,
            "Deployment",
            f"istiod-{spec.canary_revision}",
            "istiod",
            2,
            created_day=spec.canary_day,
            rollout_mean=1000.0,
        )
    pods += _infra(
        plan,
        isys,
        "Deployment",
        "istio-ingressgateway",
        "ingress-gw",
        2,
        created_day=-200,
        extra_rollouts=[spec.upgrade_day + 2],
        rollout_mean=1000.0,
        service=True,
        port=8080,
    )
    pods += _infra(
        plan,
        isys,
        "Deployment",
        "istio-egressgateway",
        "egress-gw",
        1,
        created_day=-200,
        extra_rollouts=[spec.upgrade_day + 2],
        rollout_mean=1000.0,
        service=True,
        port=8080,
    )
    if spec.ambient:
        pods += _infra(
            plan,
            isys,
            "DaemonSet",
            "ztunnel",
            "ztunnel",
            1,
            created_day=-100,
            extra_rollouts=[spec.upgrade_day],
            rollout_mean=1000.0,
        )
        pods += _infra(
            plan,
            isys,
            "DaemonSet",
            "istio-cni-node",
            "cni",
            1,
            host_network=True,
            created_day=-100,
            extra_rollouts=[spec.upgrade_day],
            rollout_mean=1000.0,
        )
    ing = NsPlan(name="istio-ingress", tribe="platform", mode="never", created_day=-150)
    plan.namespaces.append(ing)
    pods += _infra(
        plan,
        ing,
        "Deployment",
        "public-gateway-istio",
        "k8s-gw",
        2,
        created_day=-150,
        extra_rollouts=[spec.upgrade_day + 1],
        rollout_mean=1000.0,
        service=True,
        port=80,
    )
    return pods


def _add_platform(plan: ClusterPlan) -> None:
    """Platform namespaces: a hostNetwork node exporter, a log shipper DaemonSet, Prometheus."""
    mon = _plan_namespace(plan, "monitoring", "platform", -1)
    if mon.mode == "ambient":
        mon.mode = "default"
    plan.namespaces.append(mon)
    _infra(
        plan,
        mon,
        "DaemonSet",
        "node-exporter",
        "app",
        1,
        host_network=True,
        image="quay.io/prometheus/node-exporter:v1.9.1",
    )
    plan.workloads[-1].squad = "observability"
    prom = WlPlan(
        key="monitoring/prometheus",
        ns=mon,
        kind="StatefulSet",
        name="prometheus",
        squad="observability",
        replicas=2,
        image="quay.io/prometheus/prometheus:v3.5.0",
        service=True,
        port=9090,
        rollout_mean=30.0,
    )
    _plan_mesh_behaviour(plan, prom)
    plan.workloads.append(prom)
    log = _plan_namespace(plan, "logging", "platform", -2)
    plan.namespaces.append(log)
    ship = WlPlan(
        key="logging/log-shipper",
        ns=log,
        kind="DaemonSet",
        name="log-shipper",
        squad="observability",
        image="cr.fluentbit.io/fluent/fluent-bit:4.0.3",
        rollout_mean=45.0,
    )
    _plan_mesh_behaviour(plan, ship)
    plan.workloads.append(ship)


def _add_waypoints(plan: ClusterPlan) -> None:
    spec, key = plan.spec, plan.key
    if spec.istio and spec.ambient:
        # Waypoints for some ambient namespaces (mesh infrastructure, ineligible).
        for ns in [n for n in plan.namespaces if n.mode == "ambient"]:
            if u(*key("waypoint", ns.name)) < 0.5 and ns.enrol_day is not None:
                _infra(
                    plan,
                    ns,
                    "Deployment",
                    "waypoint",
                    "waypoint",
                    1,
                    created_day=ns.enrol_day + 2,
                    rollout_mean=1000.0,
                )
