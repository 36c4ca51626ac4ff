"""Time-dependent evaluation of a cluster plan: labels, revisions, pods and their mesh state.

Time is counted in whole simulated days since the fleet epoch. An event "on day D" carries a
timestamp on the evening before day D starts, so every timestamp visible on day D is in the past.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from kubesim.plan import ClusterPlan, NsPlan, WlPlan
from kubesim.rand import expo, h, pick, suffix, u
from kubesim.spec import (
    AMBIENT,
    AMBIENT_PENDING,
    INELIGIBLE,
    MISSING_PROXY,
    NATIVE_SIDECAR,
    NOT_ENROLLED,
    NS_AMBIENT,
    NS_DEFAULT,
    NS_DISABLED,
    NS_IMPLICIT,
    NS_NOT_ENROLLED,
    NS_REVISION,
    NS_SYSTEM,
    OPTED_OUT,
    SIDECAR,
    SYSTEM_NAMESPACES,
    ClusterSpec,
)

DAY = timedelta(days=1)
INJECTOR_IGNORED = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "local-path-storage"}
)
POD_CHURN_MEAN_DAYS = 40.0


def event_time(epoch: datetime, day: int, *key: object) -> datetime:
    """Timestamp of an event effective on `day`: between 20:00 and 23:59 of the previous day."""
    return epoch + day * DAY - timedelta(seconds=60 + int(u(*key) * 14400))


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("-")[0].split(".") if x.isdigit())


def default_version(spec: ClusterSpec, day: int) -> str:
    return spec.istio_versions[0] if day < spec.upgrade_day else spec.istio_versions[1]


def revision_version(spec: ClusterSpec, revision: str, day: int) -> str | None:
    """Control-plane version of a revision on `day`, None if it is not installed."""
    if not spec.istio:
        return None
    if revision == "default":
        return default_version(spec, day)
    if revision == spec.canary_revision and day >= spec.canary_day:
        return spec.canary_version
    return None


def resolve_revision(spec: ClusterSpec, value: str, day: int) -> str | None:
    """Resolve an `istio.io/rev` value (revision or tag) to an installed revision."""
    if spec.revision_tag and value == spec.revision_tag and spec.canary_revision:
        value = spec.canary_revision
    return value if revision_version(spec, value, day) else None


def implicit_on(spec: ClusterSpec, day: int) -> bool:
    return (
        spec.istio
        and spec.implicit_injection_day is not None
        and day >= spec.implicit_injection_day
    )


def ns_labels(ns: NsPlan, day: int) -> dict[str, str]:
    labels = {"kubernetes.io/metadata.name": ns.name}
    if ns.tribe:
        labels["tribe"] = ns.tribe
    if ns.mode == "disabled":
        labels["istio-injection"] = "disabled"
    elif ns.enrol_day is not None and day >= ns.enrol_day:
        if ns.mode == "ambient":
            labels["istio.io/dataplane-mode"] = "ambient"
        elif ns.mode == "revision" or (ns.migrate_day is not None and day >= ns.migrate_day):
            labels["istio.io/rev"] = ns.rev_value or "default"
        elif ns.mode == "default":
            labels["istio-injection"] = "enabled"
    return labels


def ns_class(plan: ClusterPlan, ns: NsPlan, day: int) -> str:
    """Namespace class (istio-mesh-membership.md section 2; DESIGN's system list first)."""
    if ns.name in SYSTEM_NAMESPACES:
        return NS_SYSTEM
    labels = ns_labels(ns, day)
    if "istio-injection" in labels:
        return NS_DEFAULT if labels["istio-injection"] == "enabled" else NS_DISABLED
    if labels.get("istio.io/rev"):
        return NS_REVISION
    if labels.get("istio.io/dataplane-mode") == "ambient":
        return NS_AMBIENT
    if implicit_on(plan.spec, day):
        return NS_IMPLICIT
    return NS_NOT_ENROLLED


def requested_revision(plan: ClusterPlan, ns: NsPlan, day: int) -> str | None:
    """The revision whose webhook fires for an ordinary pod of `ns` (stage A), if any."""
    spec = plan.spec
    if not spec.istio or ns.name in INJECTOR_IGNORED or ns.system:
        return None
    labels = ns_labels(ns, day)
    if "istio-injection" in labels:
        return "default" if labels["istio-injection"] == "enabled" else None
    if rev := labels.get("istio.io/rev"):
        return resolve_revision(spec, rev, day)
    if labels.get("istio.io/dataplane-mode") == "ambient":
        return None
    return "default" if implicit_on(spec, day) else None


@dataclass(slots=True)
class Injection:
    revision: str
    version: str
    native: bool
    cni: bool


@dataclass(slots=True)
class PodInst:
    """One pod that exists on a given day."""

    wl: WlPlan
    name: str
    slot: int
    rollout: int
    rollout_day: int
    created_day: int
    created: datetime
    phase: str
    owner_kind: str | None
    owner_name: str | None
    node: str
    opt_out: str | None
    injection: Injection | None
    gateway_version: str | None
    state: str
    key: str


def rollouts(wl: WlPlan, day: int) -> list[int]:
    """Days of the workload's rollouts (template changes) up to `day`, first = creation."""
    if day > wl.rollout_cached_to:
        horizon = day + 60
        days = {wl.created_day, *(d for d in wl.extra_rollouts if d >= wl.created_day)}
        d, j = wl.created_day, 0
        while True:
            d += max(1, round(expo(wl.rollout_mean, wl.key, "ro", j)))
            j += 1
            if d > horizon:
                break
            days.add(d)
        wl.rollout_cache = sorted(x for x in days if x <= horizon)
        wl.rollout_cached_to = horizon
    return wl.rollout_cache[: bisect_right(wl.rollout_cache, day)]


def template_hash(wl: WlPlan, rollout: int) -> str:
    return suffix(10, wl.key, "pth", rollout)


def _opt_out_at(wl: WlPlan, rollout_day: int) -> str | None:
    if wl.opt_out and wl.ns.enrol_day is not None:
        return wl.opt_out if rollout_day >= max(wl.ns.enrol_day, wl.created_day) else None
    return None


def injection_for(plan: ClusterPlan, wl: WlPlan, day: int, opt_out: str | None) -> Injection | None:
    """What the injector did when a pod of `wl` was created on `day` (stages A and B)."""
    if wl.role != "app" or wl.host_network or opt_out in ("label", "annotation"):
        return None
    rev = requested_revision(plan, wl.ns, day)
    if rev is None:
        return None
    version = revision_version(plan.spec, rev, day) or plan.spec.istio_versions[0]
    if wl.native_annot is not None:
        native = wl.native_annot == "true"
    else:
        native = version_tuple(version) >= (1, 27)
    return Injection(revision=rev, version=version, native=native, cni=plan.spec.ambient)


def pod_state(plan: ClusterPlan, pod: PodInst, day: int) -> str:
    """Pod state on `day` (DESIGN.md section 3; rules of istio-mesh-membership.md 3, 5-7)."""
    wl, ns = pod.wl, pod.wl.ns
    if ns.system or wl.role != "app" or wl.host_network or not plan.spec.istio:
        return INELIGIBLE if (ns.system or wl.role != "app" or wl.host_network) else NOT_ENROLLED
    if pod.injection is not None:
        return NATIVE_SIDECAR if pod.injection.native else SIDECAR
    labels = ns_labels(ns, day)
    sidecar_ns = labels.get("istio-injection") == "enabled" or bool(labels.get("istio.io/rev"))
    if labels.get("istio.io/dataplane-mode") == "ambient" and not sidecar_ns:
        if pod.opt_out == "dataplane-none":
            return OPTED_OUT
        start = max(ns.enrol_day or 0, pod.created_day)
        pending = 0 if u(pod.key, "pend") < 0.85 else 1 + h(pod.key, "pendd") % 4
        return AMBIENT_PENDING if day < start + pending else AMBIENT
    if pod.opt_out in ("label", "annotation") and (sidecar_ns or implicit_on(plan.spec, day)):
        return OPTED_OUT
    if requested_revision(plan, ns, day) is not None:
        return MISSING_PROXY
    return NOT_ENROLLED


def _churn(wl: WlPlan, start: int, end: int, day: int, *key: object) -> tuple[int, int]:
    """Last re-creation day of a pod slot (evictions, node drains) in [start, min(end, day)]."""
    d, idx = start, 0
    limit = min(end, day)
    while True:
        nxt = d + max(1, round(expo(POD_CHURN_MEAN_DAYS, wl.key, *key, idx)))
        if nxt > limit:
            return d, idx
        d, idx = nxt, idx + 1


def workload_pods(plan: ClusterPlan, wl: WlPlan, day: int, epoch: datetime) -> list[PodInst]:
    """Pods of a workload on `day`, including Succeeded job pods."""
    if day < wl.created_day:
        return []
    pods: list[PodInst] = []
    ros = rollouts(wl, day)
    j = len(ros) - 1
    rday = ros[j]
    spec = plan.spec
    gw_version = (
        default_version(spec, rday)
        if wl.role in ("ingress-gw", "egress-gw", "k8s-gw", "waypoint", "istiod", "ztunnel", "cni")
        else None
    )
    if wl.name.startswith("istiod-") and spec.canary_revision:
        gw_version = spec.canary_version

    def make(
        name: str,
        slot: int,
        cday: int,
        phase: str,
        okind: str | None,
        oname: str | None,
        node: str,
        key: str,
        created: datetime,
    ) -> None:
        opt = _opt_out_at(wl, rday)
        inj = injection_for(plan, wl, cday, opt)
        pod = PodInst(
            wl,
            name,
            slot,
            j,
            rday,
            cday,
            created,
            phase,
            okind,
            oname,
            node,
            opt,
            inj,
            gw_version,
            "",
            key,
        )
        pod.state = pod_state(plan, pod, day)
        pods.append(pod)

    if wl.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        n = len(plan.nodes) if wl.kind == "DaemonSet" else wl.replicas
        nxt = 10**6
        rs = f"{wl.name}-{template_hash(wl, j)}"
        for s in range(n):
            cday, idx = _churn(wl, rday, nxt, day, "churn", j, s)
            key = f"{wl.key}/{j}/{s}/{idx}"
            if wl.kind == "StatefulSet":
                name, okind, oname = f"{wl.name}-{s}", "StatefulSet", wl.name
            elif wl.kind == "DaemonSet":
                name, okind, oname = f"{wl.name}-{suffix(5, key)}", "DaemonSet", wl.name
            else:
                name, okind, oname = f"{rs}-{suffix(5, key)}", "ReplicaSet", rs
            node = plan.nodes[s] if wl.kind == "DaemonSet" else pick(plan.nodes, key, "node")
            created = event_time(epoch, cday, key) + timedelta(seconds=s * 7)
            make(name, s, cday, "Running", okind, oname, node, key, created)
    elif wl.kind == "CronJob":
        for k in range(max(wl.created_day, day - 2), day + 1):
            jname = job_name(wl, k, epoch)
            phase = "Running" if (k == day and wl.cron_active) else "Succeeded"
            key = f"{wl.key}/job/{k}"
            created = job_time(k, epoch) + timedelta(seconds=3)
            make(
                f"{jname}-{suffix(5, key)}",
                0,
                k,
                phase,
                "Job",
                jname,
                pick(plan.nodes, key),
                key,
                created,
            )
    elif wl.kind == "Job":
        key = f"{wl.key}/job"
        created = event_time(epoch, wl.created_day, key)
        make(
            f"{wl.name}-{suffix(5, key)}",
            0,
            wl.created_day,
            "Succeeded",
            "Job",
            wl.name,
            pick(plan.nodes, key),
            key,
            created,
        )
    elif wl.kind == "Pod":
        key = f"{wl.key}/pod"
        created = event_time(epoch, wl.created_day, key)
        make(wl.name, 0, wl.created_day, "Running", None, None, pick(plan.nodes, key), key, created)
    return pods


def job_time(day: int, epoch: datetime) -> datetime:
    """CronJobs run daily at 02:00 of the day before `day` becomes effective."""
    return epoch + day * DAY - timedelta(hours=22)


def job_name(wl: WlPlan, day: int, epoch: datetime) -> str:
    return f"{wl.name}-{int(job_time(day, epoch).timestamp()) // 60}"
