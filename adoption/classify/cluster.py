"""``classify_cluster``: namespaces (N1–N7) → pods (W/B/P rules) → workloads → resilience →
diagnostics.  Linear in the number of objects: every cross reference goes through a
dict index (namespaces, owners, Services by selector anchor, Istio resources by host).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from .diagnostics import MB, SUPPRESS, IstioAnalysis, Reporter
from .injection import (
    DATAPLANE_MODE,
    INJECT_KEY,
    INJECTION_LABEL,
    NAMESPACE_NAME,
    REV_KEY,
    InjectionPolicy,
)
from .kube import (
    ISTIO_PROXY,
    TrackedMap,
    annotations_of,
    as_dict,
    as_str,
    labels_of,
    meta,
    name_of,
    namespace_of,
    parse_time,
    spec_of,
    str_map,
)
from .model import (
    IGNORED_NAMESPACES,
    MESHED_POD_STATES,
    ClassifyOptions,
    ClusterObjects,
    ClusterResult,
    Diagnostic,
    NamespaceRecord,
    PodRecord,
    PodState,
    WorkloadRecord,
)
from .namespaces import NamespaceInfo, classify_namespace
from .pods import (
    ZTUNNEL_NAMESPACES,
    created_at,
    decide_pod,
    env_true,
    pod_proxy_version,
    proxy_args,
    proxy_resources,
)
from .resilience import ResilienceIndex, ServiceIndex
from .versions import control_plane_versions
from .workloads import (
    OwnerIndex,
    OwnerTable,
    WorkloadAgg,
    synthetic_pod,
    template_labels,
    workload_objects,
)

_NOT_COUNTED_PHASES = frozenset({"Succeeded", "Failed"})
_MISSING = PodState.MISSING_PROXY.value


class _Namespaces:
    def __init__(self, objs: ClusterObjects, policy: InjectionPolicy, system: frozenset[str]):
        self.policy = policy
        self.system = system
        self.infos: dict[str, NamespaceInfo] = {}
        for ns in objs.namespaces:
            name = name_of(ns)
            if name:
                self.infos[name] = classify_namespace(name, labels_of(ns), policy, system)

    def get(self, name: str) -> NamespaceInfo:
        info = self.infos.get(name)
        if info is None:
            info = classify_namespace(name, {}, self.policy, self.system, declared=False)
            self.infos[name] = info
        return info


def classify_pod(
    pod: dict[str, Any],
    ns: NamespaceInfo,
    policy: InjectionPolicy,
    workload_kind: str,
    workload_name: str,
    root_namespace: str = "istio-system",
    labels: dict[str, str] | None = None,
) -> PodRecord:
    """Classify one pod (plain dict) into a :class:`PodRecord`."""
    m = meta(pod)
    labels = labels_of(pod) if labels is None else labels
    annos = annotations_of(pod)
    spec = spec_of(pod)
    v = decide_pod(ns, labels, annos, spec, policy, root_namespace)
    phase = as_str(as_dict(pod.get("status")).get("phase"))
    cpu_r, cpu_l, mem_r, mem_l = proxy_resources(v.proxy, annos)
    rec = PodRecord(
        namespace=ns.name,
        name=as_str(m.get("name")),
        workload_kind=workload_kind,
        workload_name=workload_name,
        state=v.state.value,
        reason=v.reason,
        counted=phase not in _NOT_COUNTED_PHASES,
        injection_expected=v.injection_expected,
        revision_requested=v.revision_requested,
        revision_used=v.revision_used,
        proxy_image=v.proxy.image,
        proxy_version=pod_proxy_version(v.proxy, annos),
        created=created_at(m),
        mesh_mode=v.proxy.mode if v.state in MESHED_POD_STATES else "none",
        labels=labels,
        proxy_cpu_request_m=cpu_r,
        proxy_cpu_limit_m=cpu_l,
        proxy_memory_request_b=mem_r,
        proxy_memory_limit_b=mem_l,
    )
    if v.unknown_revision:
        rec.diagnostics.append("MB0004")
    if v.invalid_inject_value is not None:
        rec.diagnostics.append("MB0005")
    if v.proxy.rule == "P8":
        rec.diagnostics.append("MB0008")
    if v.state in (PodState.SIDECAR, PodState.NATIVE_SIDECAR) and (
        ns.labels.get(DATAPLANE_MODE) == "ambient" or labels.get(DATAPLANE_MODE) == "ambient"
    ):
        rec.diagnostics.append("MB0003")
    return rec


# --- pods like one already classified ---------------------------------------------------------
# Pods created from one template carry the same Istio annotations, injection labels and proxy
# container, and most namespaces run a handful of such templates: their verdicts are the same.
# `Classifier` classifies the first pod of each content in full and reuses its verdict for the
# others. The content key holds what the verdict reads, and no more:
#
# * the namespace's part (`Classifier.namespace_token`): what the rules and analyzers read of a
#   namespace (its class, injection labels, whether IST0103/IST0158 look at it), so the pods of
#   one template in thousands of namespaces alike share one verdict; the namespace itself where
#   the rules read more of it (system and ignored namespaces, the root namespace, webhook
#   selectors on any label or on its name, a ProxyConfig of its own); ``kind`` and phase;
# * the labels and annotations the classifier has read so far in this poll (`TrackedMap`
#   records every read outside them, and what it read joins the key: the verdict is stored under
#   the grown key, those keyed without it are forgotten), and whether ``app`` is
#   ``istiod``/``ztunnel`` (rule P1);
# * ``hostNetwork``, the pod ``securityContext``; of every ``istio-proxy`` container its image,
#   first two args, ``DISABLE_ENVOY``, resources, ``restartPolicy`` and ``securityContext``; of
#   the other containers their name when it is one the rules look for, ``securityContext`` and
#   ``restartPolicy`` (the typed pod decode, `listing.decode_pods`, reads no other spec field).
#
# The pod's own name, creation time, labels and owner are never taken from the reused verdict.
# Pods that `listing.decode_pods` gave the very same content objects (a ReplicaSet's, listed one
# after another) skip even the key: `_Run`.

_encode = msgspec.json.Encoder().encode
# A key read but absent (a label with a null value is present: `str_map` makes it ""). Encoded
# verbatim, it is the only unquoted "!" a key can hold, so it equals no JSON value.
_ABSENT = msgspec.Raw(b"!")
_KEY_ERRORS = (TypeError, AttributeError, KeyError, ValueError, OverflowError, msgspec.EncodeError)
#: The only values of the ``app`` label the rules distinguish (P1).
INFRA_APPS = frozenset({"istiod", "ztunnel"})
#: Container names the rules look for (besides istio-proxy, kept whole).
NAMED_CONTAINERS = frozenset({"agentgateway", "istio-operator"})


def _containers_key(conts: Any) -> Any:
    if type(conts) is not list:
        return conts
    out: list[Any] = []
    for c in conts:
        if type(c) is not dict:
            out.append(c)
            continue
        name = c.get("name")
        if name == ISTIO_PROXY:
            # what the rules read of it (detect_proxy, proxy_resources, the analyzers); its
            # env and args otherwise name the workload (ISTIO_META_WORKLOAD_NAME ...)
            out.append(
                (
                    c.get("image"),
                    proxy_args(c)[:2],
                    env_true(c, "DISABLE_ENVOY"),
                    c.get("resources"),
                    c.get("restartPolicy"),
                    c.get("securityContext"),
                )
            )
        else:
            named = name if name in NAMED_CONTAINERS else None
            out.append((named, c.get("securityContext"), c.get("restartPolicy")))
    return out


def _spec_key(spec: Any) -> Any:
    if type(spec) is not dict:
        return spec
    return (
        spec.get("hostNetwork"),
        spec.get("securityContext"),
        _containers_key(spec.get("containers")),
        _containers_key(spec.get("initContainers")),
    )


def _phase(status: Any) -> Any:
    return status.get("phase") if type(status) is dict else status


@dataclass(slots=True)
class _Seen:
    """The verdict of a pod content already classified."""

    rec: PodRecord  # the first such pod's record (name, owner, labels, time are its own)
    found: bool  # a per-pod analyzer found something: analyze each such pod on its own
    meshed: bool
    # the record for pods of other namespaces alike (`Classifier.namespace_token`)
    in_ns: dict[str, PodRecord] = dataclasses.field(default_factory=dict)

    def record(self, ns_name: str) -> PodRecord:
        rec = self.rec
        if rec.namespace == ns_name:
            return rec
        other = self.in_ns.get(ns_name)
        if other is None:
            other = self.in_ns[ns_name] = dataclasses.replace(rec, namespace=ns_name)
        return other


class _Run:
    """Pods that share the content of the pod that began the run (`listing.decode_pods` gives
    the pods of one ReplicaSet the very same labels, annotations, owner references, spec and
    status objects): each is folded in with that pod's verdict and owner, and no other work."""

    __slots__ = ("first", "meta", "acc", "rec", "labels", "counts", "meshed")

    def __init__(
        self,
        first: dict[str, Any],
        meta: dict[str, Any],
        acc: WorkloadAgg,
        rec: PodRecord,
        labels: dict[str, str],
        counts: list[int] | None,
        meshed: bool,
    ) -> None:
        self.first, self.meta, self.acc, self.rec = first, meta, acc, rec
        self.labels, self.counts, self.meshed = labels, counts, meshed

    def same(self, pod: dict[str, Any]) -> bool:
        """The same objects, not merely equal ones: only a shared decode makes them so."""
        first, m, fm = self.first, pod.get("metadata"), self.meta
        return (
            pod.get("spec") is first.get("spec")
            and type(m) is dict
            and m.get("ownerReferences") is fm.get("ownerReferences")
            and m.get("labels") is fm.get("labels")
            and m.get("annotations") is fm.get("annotations")
            and m.get("namespace") is fm.get("namespace")
            and pod.get("status") is first.get("status")
            and pod.get("kind") is first.get("kind")
        )

    def fold(self) -> None:
        self.acc.add(self.rec, False, self.labels)
        counts = self.counts
        if counts is not None:
            counts[0] += 1
            counts[1] += self.meshed


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while classifying: the classifier allocates millions of small,
    acyclic, long-lived records, and with 50k pod dicts alive every generation-2 collection
    rescans them all (≈40% of classify time at 10k pods). Reference counting still frees
    everything; the collector runs again as soon as the block exits."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def classify_cluster(objs: ClusterObjects, opts: ClassifyOptions | None = None) -> ClusterResult:
    """Classify one cluster.  Pure: no I/O, input dicts are not modified."""
    with gc_paused():
        classifier = Classifier(objs, opts)
        classifier.add_pods(objs.pods)
        return classifier.finish()


class Classifier:
    """`classify_cluster` fed pods page by page: ``Classifier(objs, opts)`` indexes everything
    but the pods (``objs.pods`` is ignored), `add_pods` classifies a page and folds it into
    per-workload and per-namespace aggregates, `finish` returns the `ClusterResult`.

    With ``keep_pods=False`` no `PodRecord` outlives its page (``result.pods`` stays empty):
    memory is bounded by the aggregates, not by the number of pods. `reset_pods` forgets every
    pod seen (a pod list restarted after a 410).

    With ``memo=True`` (the default) a pod whose content (`content_key`) was classified
    before reuses that verdict; ``memo=False`` classifies every pod in full (tests compare).

    ``owner_tables``: the ReplicaSets and Jobs already indexed page by page (a poll); the
    ``objs.replicasets``/``objs.jobs`` lists then hold only those without a controller."""

    def __init__(
        self,
        objs: ClusterObjects,
        opts: ClassifyOptions | None = None,
        *,
        keep_pods: bool = True,
        memo: bool = True,
        owner_tables: tuple[OwnerTable, OwnerTable] | None = None,
    ) -> None:
        self.memo = memo
        self.opts = opts = opts or ClassifyOptions()
        self.keep_pods = keep_pods
        self.system = opts.system_namespaces | opts.extra_system_namespaces
        self.policy = InjectionPolicy(
            objs.webhooks, objs.configmaps, opts.enable_namespaces_by_default
        )
        self.namespaces = _Namespaces(objs, self.policy, self.system)
        self._declared = dict(self.namespaces.infos)
        # Everything but the pods is indexed now, and nothing keeps ``objs`` or its lists: a
        # streamed poll lets go of them before the pods come (`collect.PodSink`).
        self._base: list[tuple[tuple[str, str, str], dict[str, str]]] = []
        # workload objects as the reports read them: their suppression annotation only, unless
        # a workload without pods stands for its template's pod (``template_pods``)
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        for ns_name, kind, name, obj in workload_objects(objs.workloads_by_kind()):
            key = (ns_name, kind, name)
            self._base.append((key, template_labels(obj, kind)))
            if opts.template_pods:
                self.objects[key] = obj
            elif SUPPRESS in annotations_of(obj):
                self.objects[key] = {"metadata": {"annotations": annotations_of(obj)}}
        replicasets, jobs = owner_tables or (objs.replicasets, objs.jobs)
        self.owners = OwnerIndex(replicasets, jobs, {k for k, _ in self._base})
        self.analysis = IstioAnalysis(objs, opts.root_namespace)
        self.services = ServiceIndex(objs.services)
        self.resilience = ResilienceIndex(objs.istio, opts.root_namespace, opts.cluster_domain)
        self._istiod = list(objs.istiod)
        self.reset_pods()

    def reset_pods(self) -> None:
        """Forget every pod added so far."""
        self.namespaces.infos = dict(self._declared)
        self.accs: dict[tuple[str, str, str], WorkloadAgg] = {}
        for key, labels in self._base:
            self.accs[key] = WorkloadAgg(key[0], key[1], key[2], labels, True)
        self.istiod: list[dict[str, Any]] = list(self._istiod)
        self.pods_out: list[PodRecord] = []
        self.ns_pods: dict[str, list[int]] = {}  # namespace -> [counted, meshed]
        self.ist0103_workload: dict[tuple[str, str], str] = {}
        self.analysis.reset()
        self.seen: dict[bytes, _Seen] = {}
        self.memo_hits = 0
        self._ns_tokens: dict[Any, Any] = {}
        self.label_keys: tuple[str, ...] = ()  # labels a verdict read, in key order
        self.annotation_keys: tuple[str, ...] = ()  # annotations a verdict read, in key order
        self._owner_cache: dict[tuple[str, str, str, str | None], tuple[str, str]] = {}
        # the aggregate the last pod was folded into, and that pod's labels
        self._folded: tuple[WorkloadAgg, dict[str, str]] = (WorkloadAgg("", "", ""), {})

    def add_pods(self, pods: Iterable[dict[str, Any]]) -> None:
        """Classify a page of pods (plain dicts) and fold them into the aggregates."""
        run: _Run | None = None
        with gc_paused():
            for pod in pods:
                if run is not None and run.same(pod):
                    self.memo_hits += 1
                    run.fold()
                    continue
                key = self.content_key(pod) if self.memo else None
                if key is None:
                    self.analysis.pod(pod)
                    self._add(pod, None, None, self.analysis.reported)
                    run = None
                    continue
                seen = self.seen.get(key)
                if seen is None or seen.found:
                    seen = self._classify_tracked(pod, key)
                    rec = seen.rec if seen is not None else None
                else:
                    rec = self._add_seen(pod, seen)
                run = self._run(pod, seen, rec)

    def _run(self, pod: dict[str, Any], seen: _Seen | None, rec: PodRecord | None) -> _Run | None:
        """A run that pods sharing this pod's content (`_Run`) may join, when its verdict can
        stand for them whole: reused (no analyzer finding), one controller (the owner is the
        same), not istiod (collected whole), not missing its proxy (``missing_since`` reads each
        pod's creation time), and no pod records kept."""
        if seen is None or rec is None or seen.found or self.keep_pods or not self.memo:
            return None
        if rec.counted and rec.state == _MISSING:
            return None
        m = pod["metadata"]
        acc, labels = self._folded  # where `_add`/`_add_seen` just folded this pod
        refs = m.get("ownerReferences")
        if labels.get("app") == "istiod" or type(refs) is not list or len(refs) != 1:
            return None
        counts = self.ns_pods[rec.namespace] if rec.counted else None
        return _Run(pod, m, acc, rec, labels, counts, seen.meshed)

    def content_key(self, pod: Any) -> bytes | None:
        """What this pod's verdict depends on (see the notes above `_Seen`); None for a pod
        too odd to key (it is classified on its own)."""
        try:
            m = pod["metadata"]
            labels = m.get("labels") or {}
            app = labels.get("app")
            annos = m.get("annotations") or {}
            return _encode(
                (
                    pod.get("kind"),
                    self.namespace_token(m.get("namespace")),
                    [labels.get(k, _ABSENT) for k in self.label_keys],
                    app if app in INFRA_APPS else None,
                    [annos.get(k, _ABSENT) for k in self.annotation_keys],
                    _spec_key(pod.get("spec")),
                    _phase(pod.get("status")),
                )
            )
        except _KEY_ERRORS:
            return None

    def namespace_token(self, ns_name: Any) -> Any:
        """What a pod's verdict reads of its namespace (see the notes above `_Seen`): the
        namespace name itself where the rules may read more than its class and labels."""
        if type(ns_name) is not str:
            return ns_name
        token = self._ns_tokens.get(ns_name)
        if token is None:
            token = self._ns_tokens[ns_name] = self._namespace_token(ns_name)
        return token

    def _namespace_token(self, ns_name: str) -> Any:
        ns = self.namespaces.get(ns_name)
        label_keys = self.policy.namespace_label_keys()
        analyzed = self.analysis.namespace_inputs(ns_name)
        if (
            ns.system
            or ns_name in IGNORED_NAMESPACES
            or ns_name == self.opts.root_namespace
            or ns_name in ZTUNNEL_NAMESPACES  # rule P1 reads the name
            or label_keys is None
            or NAMESPACE_NAME in label_keys
            or analyzed is None
        ):
            return ns_name
        keys = sorted({*label_keys, INJECTION_LABEL, REV_KEY, DATAPLANE_MODE})
        return [
            "\0namespace-class",
            ns.klass.value,
            ns.revision,
            ns.revision_resolved,
            ns.ambient,
            ns.declared,
            ns.reason,
            ns.conflicts,
            [ns.labels.get(k) for k in keys],
            analyzed,
        ]

    def _classify_tracked(self, pod: dict[str, Any], key: bytes) -> _Seen | None:
        """Classify a pod in full, watching which labels and annotations the verdict reads, and
        remember the verdict for its key (grown by what it read outside the key); returns it."""
        m = pod["metadata"]
        labels = str_map(m.get("labels"))
        tracked_labels = TrackedMap(labels, frozenset(self.label_keys))
        tracked_annos = TrackedMap(str_map(m.get("annotations")), frozenset(self.annotation_keys))
        view = dict(pod)
        view["metadata"] = dict(m, labels=tracked_labels, annotations=tracked_annos)
        found = self.analysis.pod(view)
        rec, _, _ = self._add(view, None, None, self.analysis.reported, original=pod)
        rec.labels = labels
        outside_labels, outside_annos = tracked_labels.outside, tracked_annos.outside
        if "*" in outside_labels or "*" in outside_annos:
            self.memo = False  # a verdict looked at every label: nothing can be reused safely
            self.seen.clear()
            return None
        if outside_labels or outside_annos:
            # the key grows: verdicts keyed without these labels are no longer found, and this
            # one read nothing outside the new key
            self.label_keys = tuple(sorted({*self.label_keys, *outside_labels}))
            self.annotation_keys = tuple(sorted({*self.annotation_keys, *outside_annos}))
            self.seen.clear()
            new_key = self.content_key(pod)
            if new_key is None:
                return None
            key = new_key
        seen = self.seen.get(key)
        if seen is None:
            seen = self.seen[key] = _Seen(rec, found, rec.state in MESHED_POD_STATES)
        return seen

    def _owner(self, pod: dict[str, Any], ns_name: str, labels: dict[str, str]) -> tuple[str, str]:
        """`OwnerIndex.resolve`, remembered per controller and pod-template-hash."""
        m = pod.get("metadata")
        refs = m.get("ownerReferences") if type(m) is dict else None
        if type(refs) is list and len(refs) == 1:
            ref = refs[0]
            if type(ref) is dict and ref.get("controller") is True:
                kind, name = ref.get("kind"), ref.get("name")
                if type(kind) is str and type(name) is str and kind and name:
                    ckey = (ns_name, kind, name, labels.get("pod-template-hash"))
                    owner = self._owner_cache.get(ckey)
                    if owner is None:
                        owner = self._owner_cache[ckey] = self.owners.resolve(pod, ns_name, labels)
                    return owner
        return self.owners.resolve(pod, ns_name, labels)

    def _add_seen(self, pod: dict[str, Any], seen: _Seen) -> PodRecord:
        """Fold in a pod whose content was classified before (no analyzer found anything);
        returns the record that stands for it."""
        self.memo_hits += 1
        ns_name = namespace_of(pod)
        rec = seen.record(ns_name)
        m = pod["metadata"]
        labels = str_map(m.get("labels"))
        kind, name = self._owner(pod, ns_name, labels)
        key = (ns_name, kind, name)
        acc = self.accs.get(key)
        if acc is None:
            acc = self.accs[key] = WorkloadAgg(ns_name, kind, name)
        # The shared record stands for this pod in the aggregates, except for what is the pod's
        # own: its labels (passed along), and its creation time when it is missing its proxy
        # (`missing_since`); kept pods get records of their own.
        if self.keep_pods or (rec.counted and rec.state == _MISSING):
            rec = dataclasses.replace(
                rec,
                name=as_str(m.get("name")),
                workload_kind=kind,
                workload_name=name,
                labels=labels,
                created=parse_time(m.get("creationTimestamp")),
                diagnostics=list(rec.diagnostics),
            )
            if self.keep_pods:
                self.pods_out.append(rec)
        acc.add(rec, False, labels)
        self._folded = (acc, labels)
        if rec.counted:
            counts = self.ns_pods.get(ns_name)
            if counts is None:
                counts = self.ns_pods[ns_name] = [0, 0]
            counts[0] += 1
            counts[1] += seen.meshed
        if labels.get("app") == "istiod":
            self.istiod.append(pod)
        return rec

    def _add(
        self,
        pod: dict[str, Any],
        kind: str | None,
        name: str | None,
        ist0103: set[tuple[str, str]],
        original: dict[str, Any] | None = None,
    ) -> tuple[PodRecord, str, str]:
        """Classify one pod; ``ist0103``: the (namespace, pod) pairs IST0103 reported so far
        (pod names are unique in a namespace, so the pod's own entry, if any, is there).
        ``original``: the pod ``pod`` is a tracked view of (owner and istiod are read there)."""
        ns_name = namespace_of(pod)
        ns = self.namespaces.get(ns_name)
        labels = labels_of(pod)
        real = original if original is not None else pod
        real_labels = labels if original is None else labels_of(original)
        if kind is None or name is None:
            kind, name = self._owner(real, ns_name, real_labels)
        rec = classify_pod(pod, ns, self.policy, kind, name, self.opts.root_namespace, labels)
        if self.keep_pods:
            self.pods_out.append(rec)
        key = (ns_name, kind, name)
        acc = self.accs.get(key)
        if acc is None:
            acc = self.accs[key] = WorkloadAgg(ns_name, kind, name)
        pod_key = (rec.namespace, rec.name)
        reported = pod_key in ist0103
        acc.add(rec, reported, real_labels)
        self._folded = (acc, real_labels)
        if rec.counted:
            counts = self.ns_pods.get(rec.namespace)
            if counts is None:
                counts = self.ns_pods[rec.namespace] = [0, 0]
            counts[0] += 1
            counts[1] += rec.state in MESHED_POD_STATES
        if reported:
            self.ist0103_workload[pod_key] = f"{kind}/{name}"
        if real_labels.get("app") == "istiod":
            self.istiod.append(real)
        return rec, kind, name

    def finish(self) -> ClusterResult:
        """The result for the pods added since the last reset."""
        with gc_paused():
            return self._finish()

    def _finish(self) -> ClusterResult:
        opts, namespaces, policy, accs = self.opts, self.namespaces, self.policy, self.accs
        if opts.template_pods:
            for key, acc in list(accs.items()):
                if acc.from_object and not acc.pods:
                    self._add(
                        synthetic_pod(self.objects[key], key[1]),
                        key[1],
                        key[2],
                        self.analysis.reported,
                    )

        injector_values = {rev: cfg.values for rev, cfg in policy.injectors.items()}
        control_planes = control_plane_versions(self.istiod, injector_values)
        services, resilience = self.services, self.resilience

        workloads: list[WorkloadRecord] = []
        for acc in accs.values():
            ns = namespaces.get(acc.namespace)
            rec = acc.record(ns.system, control_planes, ns.revision_resolved)
            rec.services = services.selecting(acc.namespace, rec.labels)
            hosts = [f"{s}.{acc.namespace}.svc.{opts.cluster_domain}" for s in rec.services]
            res = resilience.for_hosts(hosts, acc.namespace, rec.labels)
            rec.has_virtualservice = res.has_virtualservice
            rec.has_destinationrule = res.has_destinationrule
            rec.timeout, rec.retries, rec.fault = res.timeout, res.retries, res.fault
            rec.circuit_breaking = res.circuit_breaking
            rec.outlier_detection = res.outlier_detection
            rec.mtls_mode = res.mtls_mode
            workloads.append(rec)
        workloads.sort(key=lambda w: (w.namespace, w.kind, w.name))

        messages, ist0103 = self.analysis.finish()
        mb = _meshboard_messages(accs, workloads, namespaces, self.objects, ist0103, policy)
        by_workload: dict[tuple[str, str], list[str]] = {}
        for d in messages + mb:
            if d.namespace is not None and d.workload is not None:
                by_workload.setdefault((d.namespace, d.workload), []).append(d.code)
        for d in messages:
            if d.code == "IST0103" and d.namespace is not None:
                wl = self.ist0103_workload.get((d.namespace, d.resource.rsplit("/", 1)[-1]))
                if wl is not None:
                    d.workload = wl
                    by_workload.setdefault((d.namespace, wl), []).append(d.code)
        for w in workloads:
            w.diagnostics = sorted(set(by_workload.get((w.namespace, f"{w.kind}/{w.name}"), [])))

        ns_records = _namespace_records(namespaces, self.ns_pods, workloads)
        return ClusterResult(
            namespaces=ns_records,
            workloads=workloads,
            pods=self.pods_out,
            messages=messages + mb,
            control_planes=control_planes,
        )


def _namespace_records(
    namespaces: _Namespaces, ns_pods: dict[str, list[int]], workloads: list[WorkloadRecord]
) -> list[NamespaceRecord]:
    recs: dict[str, NamespaceRecord] = {}
    for name, info in namespaces.infos.items():
        recs[name] = NamespaceRecord(
            name=name,
            klass=info.klass.value,
            revision=info.revision,
            revision_resolved=info.revision_resolved,
            labels=dict(info.labels),
            system=info.system,
            conflicts=list(info.conflicts),
            reason=info.reason,
        )
    for name, (counted, meshed) in ns_pods.items():
        r = recs[name]
        r.pods_total += counted
        r.pods_meshed += meshed
    for w in workloads:
        if w.state != "idle":
            r = recs[w.namespace]
            r.workloads_total += 1
            r.workloads_meshed += w.state == "meshed"
    return sorted(recs.values(), key=lambda r: r.name)


def _meshboard_messages(
    accs: dict[tuple[str, str, str], WorkloadAgg],
    workloads: list[WorkloadRecord],
    namespaces: _Namespaces,
    objects: dict[tuple[str, str, str], dict[str, Any]],
    ist0103: set[tuple[str, str]],
    policy: InjectionPolicy,
) -> list[Diagnostic]:
    """MB codes: stricter than istioctl, always ``origin="meshboard"``."""
    rep = Reporter()
    for name, info in namespaces.infos.items():
        if not info.declared:
            continue
        res = f"Namespace {name}"
        if (
            info.revision
            and policy.revision_exists(info.revision) is False
            and info.klass.value == "sidecar-revision"
        ):
            rep.report(
                {},
                "MB0004",
                res,
                f"Namespace {name} requests revision {info.revision!r} but no "
                "injector webhook serves this revision or tag; new pods get no proxy.",
                namespace=name,
            )
        if info.conflicts and DATAPLANE_MODE in info.conflicts:
            rep.report(
                {},
                "MB0003",
                res,
                f"Namespace {name} mixes sidecar and ambient labels "
                f"({', '.join(info.conflicts)}); pods get sidecars and are not captured "
                "by ambient.",
                namespace=name,
            )
    for w in workloads:
        acc = accs[(w.namespace, w.kind, w.name)]
        obj = objects.get((w.namespace, w.kind, w.name), {})
        res = f"{w.kind} {w.namespace}/{w.name}"
        wl = f"{w.kind}/{w.name}"
        if acc.missing and not namespaces.get(w.namespace).system:
            rep.report(
                obj,
                "MB0001",
                res,
                f"{acc.missing} pod(s) of {res} have no proxy although the "
                f"mesh is requested: {acc.missing_reason}.",
                namespace=w.namespace,
                workload=wl,
            )
        if w.state == "idle" and acc.from_object:
            rep.report(
                obj,
                "MB0002",
                res,
                f"{res} has no running pods; it is left out of adoption figures.",
                namespace=w.namespace,
                workload=wl,
            )
        codes = acc.codes
        if "MB0003" in codes:
            rep.report(
                obj,
                "MB0003",
                res,
                f"{res} runs sidecars although ambient mode is requested; "
                "istio-cni will not capture sidecar pods.",
                namespace=w.namespace,
                workload=wl,
            )
        if "MB0004" in codes:
            rev = acc.mb0004_revision
            rep.report(
                obj,
                "MB0004",
                res,
                f"{res} requests revision {rev!r} that no injector webhook serves.",
                namespace=w.namespace,
                workload=wl,
            )
        if "MB0005" in codes:
            rep.report(
                obj,
                "MB0005",
                res,
                f"{res} uses a non-canonical {INJECT_KEY} value; only exact "
                '"true"/"false" are honoured by the injector (istioctl treats it '
                "case-insensitively).",
                namespace=w.namespace,
                workload=wl,
            )
        if "MB0008" in codes:
            rep.report(
                obj,
                "MB0008",
                res,
                f"{res} has istio-proxy as an init container without restartPolicy: Always.",
                namespace=w.namespace,
                workload=wl,
            )
        if w.behind:
            rep.report(
                obj,
                "MB0006",
                res,
                f"{res} runs proxy {', '.join(w.proxy_versions)} older than its "
                f"control plane {w.control_plane_version}; restart it.",
                namespace=w.namespace,
                workload=wl,
            )
        resolved = policy.resolve(w.revision_requested)
        if w.pods_meshed and w.revision_used and resolved and w.revision_used != resolved:
            rep.report(
                obj,
                "MB0007",
                res,
                f"{res} was injected by revision {w.revision_used!r} but "
                f"{w.revision_requested!r} (→ {resolved!r}) is requested; restart it to move.",
                namespace=w.namespace,
                workload=wl,
            )
    return rep.messages


__all__ = ["MB", "Classifier", "classify_cluster", "classify_pod", "gc_paused"]
