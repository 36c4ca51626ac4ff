"""Workload resolution through ownerReferences and per-workload aggregation (DESIGN §3).

Owner chain: Pod → ReplicaSet → Deployment, Pod → Job → CronJob, StatefulSet, DaemonSet,
ReplicationController, or the bare Pod.

Fallback when the intermediate object is not in the input (the collector lists
ReplicaSets/Jobs metadata-only, but a list may be incomplete): the pod's own
ownerReference (``ReplicaSet/<name>``, ``Job/<name>``) becomes the workload.  The
pod-template-hash suffix is stripped only when it can be verified: the pod's
``pod-template-hash`` label equals the suffix of the ReplicaSet name **and** a Deployment
of the stripped name exists in the namespace.  Likewise a Job ``<cronjob>-<digits>`` is
attributed to a CronJob only when that CronJob object exists.  No guessing otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .kube import as_dict, controller_ref, labels_of, meta, name_of, namespace_of, spec_of
from .model import MESHED_POD_STATES, PodRecord, PodState, WorkloadRecord, WorkloadState
from .versions import is_older, oldest

#: Kinds that own pods through a pod template, and where that template lives.
TEMPLATE_KINDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

#: Pod states in the order in which they decide an unmeshed workload's state.  Plain ``str``
#: values, like the other state constants below: `WorkloadAgg` runs per pod and per workload,
#: and an enum member's ``.value`` (a descriptor call) or a set lookup with ``StrEnum`` members
#: (no exact-``str`` fast path) costs more there than the rest of the work.  Each is also a
#: `WorkloadState`, checked here once at import instead of per workload.
_STATE_PRIORITY: tuple[str, ...] = tuple(
    WorkloadState(s.value).value
    for s in (
        PodState.MISSING_PROXY,
        PodState.AMBIENT_PENDING,
        PodState.OPTED_OUT,
        PodState.NOT_ENROLLED,
        PodState.INELIGIBLE,
    )
)
_MESHED_STATES: frozenset[str] = frozenset(s.value for s in MESHED_POD_STATES)
_MISSING_PROXY: str = PodState.MISSING_PROXY.value
_IDLE: str = WorkloadState.IDLE.value
_MESHED: str = WorkloadState.MESHED.value
_PARTIAL: str = WorkloadState.PARTIAL.value


_NO_SET: frozenset[str] = frozenset()


def pod_template(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    node: Any = obj
    for key in TEMPLATE_KINDS.get(kind, ("spec", "template")):
        node = as_dict(node).get(key)
    return as_dict(node)


def _usual_owned(o: Any) -> tuple[str, str, str, str] | None:
    """(namespace, name, owner kind, owner name) of the usual ReplicaSet or Job — a namespace, a
    name, one owner — read without the defensive accessors; None for anything else (which
    `OwnerTable.add` reads with them, to the same effect)."""
    m = o.get("metadata") if type(o) is dict else None
    if type(m) is not dict:
        return None
    ns, name, refs = m.get("namespace"), m.get("name"), m.get("ownerReferences")
    if not (type(ns) is str and ns and type(name) is str and type(refs) is list):
        return None
    r = refs[0] if len(refs) == 1 else None
    if type(r) is not dict:
        return None
    kind, owner = r.get("kind"), r.get("name")
    if type(kind) is str and kind and type(owner) is str and owner:
        return ns, name, kind, owner
    return None


class OwnerTable:
    """ReplicaSets or Jobs by (namespace, name) → their controller (kind, name), or None.

    Fed page by page (`add`), it is all a poll keeps of the tens of thousands of ReplicaSets a
    large cluster has: the objects themselves are kept only when they have no controller
    (``standalone``), for then they are workloads of their own."""

    __slots__ = ("controllers", "standalone")

    def __init__(self, objs: Iterable[dict[str, Any]] = ()) -> None:
        self.controllers: dict[tuple[str, str], tuple[str, str] | None] = {}
        self.standalone: list[dict[str, Any]] = []
        self.add(objs)

    def add(self, objs: Iterable[dict[str, Any]]) -> None:
        controllers, intern = self.controllers, sys.intern
        for o in objs:
            usual = _usual_owned(o)
            if usual is not None:
                ns, name, kind, owner = usual
                controllers[(intern(ns), name)] = (intern(kind), owner)
                continue
            ref = controller_ref(o)
            if ref is None:
                self.standalone.append(o)
            else:
                ref = (intern(ref[0]), ref[1])
            controllers[(intern(namespace_of(o)), name_of(o))] = ref

    def reset(self) -> None:
        """The list restarted (410): forget every object added."""
        self.controllers = {}
        self.standalone = []


class OwnerIndex:
    """Indexes ReplicaSets, Jobs and top-level workload objects by (namespace, name)."""

    def __init__(
        self,
        replicasets: Iterable[dict[str, Any]] | OwnerTable,
        jobs: Iterable[dict[str, Any]] | OwnerTable,
        known_workloads: set[tuple[str, str, str]],
    ) -> None:
        rs = replicasets if isinstance(replicasets, OwnerTable) else OwnerTable(replicasets)
        job_table = jobs if isinstance(jobs, OwnerTable) else OwnerTable(jobs)
        self.rs = rs.controllers
        self.jobs = job_table.controllers
        self.known = known_workloads  # (namespace, kind, name)

    def resolve(self, pod: dict[str, Any], ns: str, labels: dict[str, str]) -> tuple[str, str]:
        ref = controller_ref(pod)
        if ref is None:
            return "Pod", name_of(pod)
        kind, name = ref
        if kind == "ReplicaSet":
            key = (ns, name)
            if key in self.rs:
                owner = self.rs[key]
                return owner if owner is not None else ("ReplicaSet", name)
            h = labels.get("pod-template-hash")
            if h and name.endswith("-" + h):
                dep = name[: -len(h) - 1]
                if (ns, "Deployment", dep) in self.known:
                    return "Deployment", dep
            return "ReplicaSet", name
        if kind == "Job":
            key = (ns, name)
            if key in self.jobs:
                owner = self.jobs[key]
                return owner if owner is not None else ("Job", name)
            base, _, suffix = name.rpartition("-")
            if base and suffix.isdigit() and (ns, "CronJob", base) in self.known:
                return "CronJob", base
            return "Job", name
        return kind, name


@dataclass(slots=True)
class WorkloadAcc:
    """Accumulator for one workload while pods are classified."""

    namespace: str
    kind: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    pods: list[PodRecord] = field(default_factory=list)
    from_object: bool = False


def aggregate(
    acc: WorkloadAcc,
    system: bool,
    control_planes: dict[str, str],
    revision_resolved: str | None,
) -> WorkloadRecord:
    """Workload state from its counted pods: ``meshed`` when all are in the mesh,
    ``partial`` when some are, ``idle`` when none is counted, otherwise the most
    actionable pod state (missing-proxy > ambient-pending > opted-out > not-enrolled >
    ineligible)."""
    agg = WorkloadAgg(acc.namespace, acc.kind, acc.name, acc.labels, acc.from_object)
    for p in acc.pods:
        agg.add(p)
    return agg.record(system, control_planes, revision_resolved)


# Shared by every aggregate until it counts something (`_count` and `WorkloadAgg.add` replace it
# before writing): most workloads never fill some of their tallies, and an empty dict costs 64
# bytes times six per workload. Never written to.
_NO_COUNTS: dict[str, Any] = {}


def _count(counts: dict[str, int], value: str | None) -> dict[str, int]:
    """``counts`` with ``value`` counted once more (a new dict in place of `_NO_COUNTS`)."""
    if value:
        if counts is _NO_COUNTS:
            counts = {}
        counts[value] = counts.get(value, 0) + 1
    return counts


class WorkloadAgg:
    """One workload's pods folded into running aggregates as they are classified, so a poll
    never keeps its pods: everything `record` (and the MB codes) need, and nothing else."""

    __slots__ = (
        "namespace",
        "kind",
        "name",
        "labels",
        "from_object",
        "pods",
        "first",
        "first_labels",
        "counted",
        "by_state",
        "modes",
        "expected_all",
        "expected_counted",
        "requested_all",
        "requested_counted",
        "used_all",
        "used_counted",
        "versions",
        "missing_since",
        "cpu_request_m",
        "cpu_limit_m",
        "memory_request_b",
        "memory_limit_b",
        "first_reason",
        "first_unmeshed_reason",
        "codes",
        "mb0004_revision",
        "missing",
        "missing_reason",
    )

    def __init__(
        self,
        namespace: str,
        kind: str,
        name: str,
        labels: dict[str, str] | None = None,
        from_object: bool = False,
    ) -> None:
        self.namespace, self.kind, self.name = namespace, kind, name
        self.labels = labels or {}
        self.from_object = from_object
        self.pods = 0
        self.first: PodRecord | None = None
        self.first_labels: dict[str, str] = {}
        self.counted = 0
        self.by_state: dict[str, int] = _NO_COUNTS
        # immutable, replaced when a value is new: most workloads hold one value or none, and
        # a poll has tens of thousands of workloads (an empty set costs 216 bytes)
        self.modes: frozenset[str] = _NO_SET
        self.expected_all = self.expected_counted = False
        self.requested_all: dict[str, int] = _NO_COUNTS
        self.requested_counted: dict[str, int] = _NO_COUNTS
        self.used_all: dict[str, int] = _NO_COUNTS
        self.used_counted: dict[str, int] = _NO_COUNTS
        self.versions: frozenset[str] = _NO_SET
        self.missing_since: datetime | None = None
        self.cpu_request_m = self.cpu_limit_m = 0
        self.memory_request_b = self.memory_limit_b = 0
        self.first_reason: dict[str, str] = _NO_COUNTS  # counted: state -> first pod's reason
        self.first_unmeshed_reason: str | None = None
        self.codes: frozenset[str] = _NO_SET
        self.mb0004_revision: str | None = None
        # counted missing-proxy pods without an IST0103 (MB0001): how many, the first's reason
        self.missing = 0
        self.missing_reason = ""

    def add(
        self, p: PodRecord, ist0103: bool = False, labels: dict[str, str] | None = None
    ) -> None:
        """Fold one pod in (``ist0103``: an IST0103 names the pod's namespace/name; ``labels``:
        the pod's own labels when ``p`` is a verdict shared with other pods)."""
        self.pods += 1
        if self.first is None:
            self.first = p
            self.first_labels = p.labels if labels is None else labels
        self.expected_all = self.expected_all or p.injection_expected
        self.requested_all = _count(self.requested_all, p.revision_requested)
        self.used_all = _count(self.used_all, p.revision_used)
        if p.diagnostics:
            if "MB0004" in p.diagnostics and "MB0004" not in self.codes:
                self.mb0004_revision = p.revision_requested
            if not self.codes.issuperset(p.diagnostics):
                self.codes = self.codes.union(p.diagnostics)
        if not p.counted:
            return
        state = p.state
        self.counted += 1
        self.by_state = _count(self.by_state, state)
        if state not in self.first_reason:
            if self.first_reason is _NO_COUNTS:
                self.first_reason = {}
            self.first_reason[state] = p.reason
        if state in _MESHED_STATES:
            if p.mesh_mode not in self.modes:
                self.modes = self.modes | {p.mesh_mode}
        elif self.first_unmeshed_reason is None:
            self.first_unmeshed_reason = p.reason
        self.expected_counted = self.expected_counted or p.injection_expected
        self.requested_counted = _count(self.requested_counted, p.revision_requested)
        self.used_counted = _count(self.used_counted, p.revision_used)
        if p.proxy_version:
            if p.proxy_version not in self.versions:
                self.versions = self.versions | {p.proxy_version}
        if state == _MISSING_PROXY:
            if p.created and (self.missing_since is None or p.created < self.missing_since):
                self.missing_since = p.created
            if not ist0103:
                if not self.missing:
                    self.missing_reason = p.reason
                self.missing += 1
        self.cpu_request_m += p.proxy_cpu_request_m or 0
        self.cpu_limit_m += p.proxy_cpu_limit_m or 0
        self.memory_request_b += p.proxy_memory_request_b or 0
        self.memory_limit_b += p.proxy_memory_limit_b or 0

    def record(
        self, system: bool, control_planes: dict[str, str], revision_resolved: str | None
    ) -> WorkloadRecord:
        """The workload's record (see `aggregate`).  Runs once per workload per poll, so the
        record is built in one constructor call, and the common single-state, single-mode,
        single-version workload skips the sorting and set copies."""
        first = self.first
        if self.labels:
            labels = dict(self.labels)
        elif first is not None:
            labels = dict(self.first_labels)
        else:
            labels = {}
        by_state = self.by_state
        total = self.counted
        pods_by_state = dict(sorted(by_state.items())) if len(by_state) > 1 else dict(by_state)
        meshed = 0
        for s, n in by_state.items():
            if s in _MESHED_STATES:
                meshed += n
        modes = self.modes
        if not modes:
            mesh_mode = "none"
        elif len(modes) == 1:
            (mesh_mode,) = modes
        else:
            mesh_mode = "mixed"
        if total:
            requested = _most_common_counts(self.requested_counted)
            used = _most_common_counts(self.used_counted)
        else:
            requested = _most_common_counts(self.requested_all)
            used = _most_common_counts(self.used_all)
        versions = self.versions
        proxy_versions = sorted(versions) if len(versions) > 1 else list(versions)
        rev = used or revision_resolved or requested
        cp_version = control_planes.get(rev) if rev else None

        if total == 0:
            state = _IDLE
            reason = "no running pods (scaled to zero or finished); not counted"
            if first is not None:
                reason += f"; last pod: {first.reason}"
        elif meshed == total:
            state = _MESHED
            reason = f"all {total} pod(s) in the mesh ({mesh_mode})"
        elif meshed:
            state = _PARTIAL
            others = ", ".join(
                f"{n} {s}" for s, n in pods_by_state.items() if s not in _MESHED_STATES
            )
            reason = f"{meshed} of {total} pod(s) in the mesh; {others}"
            if self.first_unmeshed_reason is not None:
                reason += f" — {self.first_unmeshed_reason}"
        else:
            state = next(s for s in _STATE_PRIORITY if by_state.get(s))
            reason = self.first_reason[state]
        return WorkloadRecord(
            namespace=self.namespace,
            kind=self.kind,
            name=self.name,
            labels=labels,
            state=state,
            reason=reason,
            system=system,
            pods_total=total,
            pods_meshed=meshed,
            pods_missing=by_state.get(_MISSING_PROXY, 0),
            pods_by_state=pods_by_state,
            mesh_mode=mesh_mode,
            injection_expected=self.expected_counted if total else self.expected_all,
            revision_requested=requested,
            revision_used=used,
            proxy_versions=proxy_versions,
            control_plane_version=cp_version,
            behind=bool(meshed and cp_version) and is_older(oldest(proxy_versions), cp_version),
            proxy_cpu_request_m=self.cpu_request_m,
            proxy_cpu_limit_m=self.cpu_limit_m,
            proxy_memory_request_b=self.memory_request_b,
            proxy_memory_limit_b=self.memory_limit_b,
            missing_since=self.missing_since,
        )


def _most_common_counts(counts: dict[str, int]) -> str | None:
    """The most frequent value (the first seen on a tie, as ``max`` keeps the first)."""
    if len(counts) == 1:
        return next(iter(counts))
    return max(counts, key=counts.__getitem__) if counts else None


def _most_common(values: Iterable[str | None]) -> str | None:
    counts: dict[str, int] = {}
    for v in values:
        if v:
            counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def workload_objects(
    objs_by_kind: dict[str, list[dict[str, Any]]],
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Top-level workload objects (namespace, kind, name, object): owned ReplicaSets and
    Jobs are skipped (their owner is the workload)."""
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    for kind, items in objs_by_kind.items():
        for obj in items:
            if kind in ("ReplicaSet", "Job") and controller_ref(obj) is not None:
                continue
            out.append((namespace_of(obj), kind, name_of(obj), obj))
    return out


def template_labels(obj: dict[str, Any], kind: str) -> dict[str, str]:
    return labels_of(pod_template(obj, kind))


def synthetic_pod(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The pod a workload's template would create (used by ``meshboard analyze``).
    For CronJobs the ``jobTemplate`` metadata is merged below the pod template's
    (kube-inject writes Istio annotations there, section 4 "CronJob caveat")."""
    tmpl = pod_template(obj, kind)
    tmeta = dict(meta(tmpl))
    if kind == "CronJob":
        jmeta = meta(as_dict(spec_of(obj).get("jobTemplate")))
        for key in ("labels", "annotations"):
            merged = dict(as_dict(jmeta.get(key)))
            merged.update(as_dict(tmeta.get(key)))
            if merged:
                tmeta[key] = merged
    tmeta["name"] = name_of(obj)
    ns = meta(obj).get("namespace")
    if ns:
        tmeta["namespace"] = ns
    return {"kind": "Pod", "metadata": tmeta, "spec": as_dict(tmpl.get("spec"))}
