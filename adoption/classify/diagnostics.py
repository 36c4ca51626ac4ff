"""``istioctl analyze``-compatible diagnostics (section 9) and meshboard's own findings.

Istio codes (``origin="istio"``) reproduce the analyzers' conditions *including their
quirks*, on the resources given (only real Pods for pod analyzers, never the pods a
workload template stands for):

* IST0102 NamespaceNotInjected / IST0148 NamespaceInjectionEnabledByDefault / IST0123
  NamespaceMultipleInjectionLabels / IST0103 PodMissingProxy (``injection.Analyzer``)
* IST0158 PodsIstioProxyImageMismatchInNamespace (``injection.ImageAnalyzer``)
* IST0146 / IST0147 ImageAutoWithoutInjection (``injection.ImageAutoAnalyzer``)
* IST0144 InvalidApplicationUID (``applicationUID.Analyzer``)
* IST0002 Deprecated (VirtualService ``fault.delay.percent``, Sidecar ``egressProxy``)
* IST0139 InvalidWebhook (``webhook.Analyzer``: overlapping webhooks, missing service)

Messages on a resource annotated ``galley.istio.io/analyze-suppress`` with the code (or
``*``) are dropped; identical messages are de-duplicated like the analysis runner does.

Meshboard codes (``origin="meshboard"``) are stricter and clearly separate; see ``MB``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .injection import (
    DATAPLANE_MODE,
    INJECT_KEY,
    INJECTION_LABEL,
    REV_KEY,
    parse_injector_configmap,
    safe_yaml_cached,
)
from .kube import (
    ISTIO_PROXY,
    annotations_of,
    as_dict,
    as_list,
    as_str,
    containers,
    friendly_name,
    labels_of,
    map_selector_matches,
    name_of,
    namespace_of,
    selector_matches,
    spec_of,
)
from .model import ClusterObjects, Diagnostic, Level

SUPPRESS = "galley.istio.io/analyze-suppress"
_INJECTION_KEYS = (INJECTION_LABEL, REV_KEY, DATAPLANE_MODE)

#: code → (code_name, level) for the Istio messages produced here.
IST: dict[str, tuple[str, str]] = {
    "IST0002": ("Deprecated", Level.WARNING),
    "IST0102": ("NamespaceNotInjected", Level.INFO),
    "IST0103": ("PodMissingProxy", Level.WARNING),
    "IST0123": ("NamespaceMultipleInjectionLabels", Level.WARNING),
    "IST0139": ("InvalidWebhook", Level.ERROR),
    "IST0144": ("InvalidApplicationUID", Level.WARNING),
    "IST0146": ("ImageAutoWithoutInjectionWarning", Level.WARNING),
    "IST0147": ("ImageAutoWithoutInjectionError", Level.ERROR),
    "IST0148": ("NamespaceInjectionEnabledByDefault", Level.INFO),
    "IST0158": ("PodsIstioProxyImageMismatchInNamespace", Level.WARNING),
}

#: Meshboard's own findings.
MB: dict[str, tuple[str, str]] = {
    "MB0001": ("WorkloadMissingProxy", Level.WARNING),
    "MB0002": ("IdleWorkload", Level.INFO),
    "MB0003": ("SidecarAmbientConflict", Level.WARNING),
    "MB0004": ("UnknownRevision", Level.WARNING),
    "MB0005": ("InvalidInjectValue", Level.WARNING),
    "MB0006": ("ProxyBehindControlPlane", Level.INFO),
    "MB0007": ("RevisionDrift", Level.INFO),
    "MB0008": ("AnomalousProxyLayout", Level.WARNING),
}

#: Analyzer (``metadata_name`` of expected.yaml) → codes it can emit.
ANALYZER_CODES: dict[str, frozenset[str]] = {
    "injection.Analyzer": frozenset({"IST0102", "IST0103", "IST0123", "IST0148"}),
    "injection.ImageAnalyzer": frozenset({"IST0158"}),
    "injection.ImageAutoAnalyzer": frozenset({"IST0146", "IST0147"}),
    "applicationUID.Analyzer": frozenset({"IST0144"}),
    "deprecation.DeprecationAnalyzer": frozenset({"IST0002"}),
    "webhook.Analyzer": frozenset({"IST0139"}),
}


class Reporter:
    """Collects messages, honouring suppression and de-duplicating identical ones."""

    def __init__(self) -> None:
        self.messages: list[Diagnostic] = []
        self._seen: set[tuple[str, str, str]] = set()

    def report(
        self,
        obj: Any,
        code: str,
        resource: str,
        message: str,
        *,
        namespace: str | None = None,
        workload: str | None = None,
    ) -> None:
        suppress = annotations_of(obj).get(SUPPRESS)
        if suppress is not None:
            codes = {c.strip() for c in suppress.split(",")}
            if "*" in codes or code in codes:
                return
        key = (code, resource, message)
        if key in self._seen:
            return
        self._seen.add(key)
        name, level = IST.get(code) or MB[code]
        origin = "istio" if code.startswith("IST") else "meshboard"
        self.messages.append(
            Diagnostic(code, name, str(level), resource, message, origin, namespace, workload)
        )


def _proxy_image(spec: dict[str, Any]) -> str:
    for c in containers(spec) + containers(spec, "initContainers"):
        if c.get("name") == ISTIO_PROXY:
            return as_str(c.get("image"))
    return ""


def injector_configmap_name(revision: str | None) -> str:
    """``GetInjectorConfigMapName``."""
    if not revision or revision == "default":
        return "istio-sidecar-injector"
    return f"istio-sidecar-injector-{revision}"


def analyze_injection(objs: ClusterObjects, rep: Reporter) -> set[tuple[str, str]]:
    """IST0123, IST0102/IST0148, IST0103.  Returns the (namespace, pod) pairs reported
    by IST0103 so meshboard does not repeat them."""
    injected = _injection_namespaces(objs, rep)
    reported: set[tuple[str, str]] = set()
    for pod in objs.pods:
        _pod_missing_proxy(pod, injected, rep, reported)
    return reported


def _injection_namespaces(objs: ClusterObjects, rep: Reporter) -> set[str]:
    """The namespace part of ``injection.Analyzer``: IST0123, IST0102/IST0148; returns the
    namespaces labelled ``istio-injection=enabled`` (whose pods IST0103 checks)."""
    cms = {name_of(cm): cm for cm in objs.configmaps}
    enabled_by_default = False  # Quirk: remembered across namespaces, never reset.
    injected: set[str] = set()
    for ns in objs.namespaces:
        name = name_of(ns)
        if name == "istio-system":
            continue
        labels = labels_of(ns)
        inj = labels.get(INJECTION_LABEL)
        counted = int(inj is not None)
        if inj is None or inj == "enabled":
            counted += int(REV_KEY in labels) + int(DATAPLANE_MODE in labels)
        if counted > 1:
            rep.report(
                ns,
                "IST0123",
                friendly_name(ns, "Namespace"),
                f"The namespace has more than one type of injection labels "
                f"({', '.join(sorted(k for k in _INJECTION_KEYS if k in labels))}),"
                " which may lead to undefined behavior. Make sure only one injection label exists.",
                namespace=name,
            )
        if labels.get(DATAPLANE_MODE) == "ambient":
            continue
        rev = labels.get(REV_KEY)
        cm = cms.get(injector_configmap_name(rev or ""))
        if cm is not None:
            inj_cfg = parse_injector_configmap(cm)
            enabled_by_default = bool(inj_cfg and inj_cfg.enable_namespaces_by_default)
        if not inj and rev is None:
            if enabled_by_default:
                rep.report(
                    ns,
                    "IST0148",
                    friendly_name(ns, "Namespace"),
                    f"The namespace {name} is enabled for Istio injection by default "
                    "(sidecarInjectorWebhook.enableNamespacesByDefault=true).",
                    namespace=name,
                )
            else:
                rep.report(
                    ns,
                    "IST0102",
                    friendly_name(ns, "Namespace"),
                    f"The namespace is not enabled for Istio injection. Run 'kubectl label "
                    f"namespace {name} istio-injection=enabled' to enable it, or 'kubectl "
                    f"label namespace {name} istio-injection=disabled' to explicitly mark "
                    "it as not needing injection.",
                    namespace=name,
                )
            continue
        if inj == "enabled":
            injected.add(name)
    return injected


def _pod_missing_proxy(
    pod: dict[str, Any], injected: set[str], rep: Reporter, reported: set[tuple[str, str]]
) -> bool:
    """IST0103 for one pod; True when reported."""
    ns_name = namespace_of(pod)
    if ns_name not in injected:
        return False
    labels, annos = labels_of(pod), annotations_of(pod)
    value = annos.get(INJECT_KEY, "")
    if INJECT_KEY in labels:
        value = labels[INJECT_KEY]
    spec = spec_of(pod)
    if value.lower() == "false" or spec.get("hostNetwork") is True:
        return False
    if _proxy_image(spec):
        return False
    rep.report(
        pod,
        "IST0103",
        friendly_name(pod, "Pod"),
        f"The pod {name_of(pod)} is missing the Istio proxy. This can often be "
        "resolved by restarting or redeploying the workload.",
        namespace=ns_name,
    )
    reported.add((ns_name, name_of(pod)))
    return True


def _image_variant(pod: dict[str, Any], objs: ClusterObjects, root_ns: str) -> str:
    """Section 8 step 3: mesh config → root ProxyConfig → namespace ProxyConfig without
    selector → matching namespace ProxyConfig → pod ``proxy.istio.io/config``."""
    variant = ""
    for cm in objs.configmaps:
        if name_of(cm) == "istio":
            mesh = _safe_yaml(as_dict(cm.get("data")).get("mesh"))
            variant = _image_type(as_dict(mesh.get("defaultConfig"))) or variant
    ns = namespace_of(pod)
    labels = labels_of(pod)
    pcs = objs.istio.get("proxyconfigs", [])
    for pc in pcs:
        if namespace_of(pc) == root_ns and not spec_of(pc).get("selector"):
            variant = _image_type(spec_of(pc)) or variant
    for pc in pcs:
        if namespace_of(pc) == ns and ns != root_ns and not spec_of(pc).get("selector"):
            variant = _image_type(spec_of(pc)) or variant
    for pc in pcs:
        sel = as_dict(as_dict(spec_of(pc).get("selector")).get("matchLabels"))
        if namespace_of(pc) == ns and sel and map_selector_matches(sel, labels):
            variant = _image_type(spec_of(pc)) or variant
    raw = annotations_of(pod).get("proxy.istio.io/config")
    if raw:
        variant = _image_type(_safe_yaml(raw)) or variant
    return "" if variant == "default" else variant


def _image_type(cfg: dict[str, Any]) -> str:
    return as_str(as_dict(cfg.get("image")).get("imageType"))


def _safe_yaml(text: Any) -> dict[str, Any]:
    """YAML text → mapping ({} when invalid); memoized (read-only result), see injection.py."""
    if not isinstance(text, str):
        return {}
    return safe_yaml_cached(text)


class _VariantResolver:
    """`_image_variant` with its pod-independent steps (mesh config, root ProxyConfigs)
    computed once and the namespace step once per namespace."""

    def __init__(self, objs: ClusterObjects, root_ns: str) -> None:
        variant = ""
        for cm in objs.configmaps:
            if name_of(cm) == "istio":
                mesh = _safe_yaml(as_dict(cm.get("data")).get("mesh"))
                variant = _image_type(as_dict(mesh.get("defaultConfig"))) or variant
        self.pcs = objs.istio.get("proxyconfigs", [])
        for pc in self.pcs:
            if namespace_of(pc) == root_ns and not spec_of(pc).get("selector"):
                variant = _image_type(spec_of(pc)) or variant
        self.base = variant
        self.root_ns = root_ns
        self.by_ns: dict[str, str] = {}

    def _ns_variant(self, ns: str) -> str:
        variant = self.by_ns.get(ns)
        if variant is None:
            variant = self.base
            for pc in self.pcs:
                if (
                    namespace_of(pc) == ns
                    and ns != self.root_ns
                    and not spec_of(pc).get("selector")
                ):
                    variant = _image_type(spec_of(pc)) or variant
            self.by_ns[ns] = variant
        return variant

    def variant(self, pod: dict[str, Any]) -> str:
        ns = namespace_of(pod)
        variant = self._ns_variant(ns)
        if self.pcs:
            labels = labels_of(pod)
            for pc in self.pcs:
                sel = as_dict(as_dict(spec_of(pc).get("selector")).get("matchLabels"))
                if namespace_of(pc) == ns and sel and map_selector_matches(sel, labels):
                    variant = _image_type(spec_of(pc)) or variant
        raw = annotations_of(pod).get("proxy.istio.io/config")
        if raw:
            variant = _image_type(_safe_yaml(raw)) or variant
        return "" if variant == "default" else variant


def _image_targets(objs: ClusterObjects) -> dict[str, tuple[dict[str, Any], str]]:
    """Namespaces IST0158 checks: injection-enabled, with an injector image."""
    cms = {
        name_of(cm): cm
        for cm in objs.configmaps
        if name_of(cm).startswith("istio-sidecar-injector")
    }
    targets: dict[str, tuple[dict[str, Any], str]] = {}
    if not cms:
        return targets
    images: dict[str, str | None] = {}  # per injector ConfigMap (thousands of namespaces)
    for ns in objs.namespaces:
        labels = labels_of(ns)
        if labels.get(INJECTION_LABEL) != "enabled" and REV_KEY not in labels:
            continue
        cm_name = injector_configmap_name(labels.get(REV_KEY, ""))
        if cm_name not in images:
            cm = cms.get(cm_name)
            cfg = parse_injector_configmap(cm) if cm is not None else None
            images[cm_name] = cfg.expected_image() if cfg is not None else None
        image = images[cm_name]
        if image:
            targets[name_of(ns)] = (ns, image)
    return targets


def _pod_image(
    pod: dict[str, Any],
    targets: dict[str, tuple[dict[str, Any], str]],
    variants: _VariantResolver,
    mismatched: dict[str, list[str]],
) -> bool:
    """IST0158's per-pod part; True when the pod's proxy image does not match."""
    ns_name = namespace_of(pod)
    if ns_name not in targets or "sidecar.istio.io/proxyImage" in annotations_of(pod):
        return False
    expected = targets[ns_name][1]
    spec = spec_of(pod)
    variant: str | None = None
    for c in containers(spec) + containers(spec, "initContainers"):
        if c.get("name") != ISTIO_PROXY:
            continue
        if variant is None:
            variant = variants.variant(pod)
        image = as_str(c.get("image"))
        if image not in (expected, f"{expected}-{variant}"):
            mismatched.setdefault(ns_name, []).append(name_of(pod))
            return True
    return False


def _report_image(
    targets: dict[str, tuple[dict[str, Any], str]],
    mismatched: dict[str, list[str]],
    rep: Reporter,
) -> None:
    for ns_name, pods in mismatched.items():
        ns_obj, expected = targets[ns_name]
        rep.report(
            ns_obj,
            "IST0158",
            friendly_name(ns_obj, "Namespace"),
            f"The Istio proxy container image in the pod(s) {', '.join(sorted(pods))} of "
            f"namespace {ns_name} does not match the current injection image {expected}. "
            "Restart the pods to use the new image.",
            namespace=ns_name,
        )


def analyze_image(objs: ClusterObjects, rep: Reporter, root_ns: str) -> None:
    """IST0158, one message per namespace, with the analyzer's quirks (section 9)."""
    targets = _image_targets(objs)
    if not targets:
        return
    variants = _VariantResolver(objs, root_ns)
    mismatched: dict[str, list[str]] = {}
    for pod in objs.pods:
        _pod_image(pod, targets, variants, mismatched)
    _report_image(targets, mismatched, rep)


def _has_auto_image(spec: dict[str, Any]) -> bool:
    conts = spec.get("containers")
    if not isinstance(conts, list):
        return False
    return any(
        isinstance(c, dict) and c.get("name") == ISTIO_PROXY and c.get("image") == "auto"
        for c in conts
    )


def analyze_image_auto(objs: ClusterObjects, rep: Reporter) -> None:
    """IST0147 for Pods with ``image: auto``; IST0146 for Deployments whose template has
    ``image: auto`` and matches no Istio webhook (name ending in ``istio.io``)."""
    for pod in objs.pods:
        _pod_image_auto(pod, rep)
    _deployments_image_auto(objs, rep)


def _pod_image_auto(pod: dict[str, Any], rep: Reporter) -> bool:
    if not _has_auto_image(spec_of(pod)):
        return False
    rep.report(
        pod,
        "IST0147",
        friendly_name(pod, "Pod"),
        f"Pod {name_of(pod)} contains `image: auto` but does not match any Istio "
        "injection webhook selectors.",
        namespace=namespace_of(pod),
    )
    return True


def _deployments_image_auto(objs: ClusterObjects, rep: Reporter) -> None:
    hooks = [
        wh
        for cfg in objs.webhooks
        for wh in as_list(as_dict(cfg).get("webhooks"))
        if isinstance(wh, dict) and as_str(wh.get("name")).endswith("istio.io")
    ]
    ns_labels = {name_of(ns): labels_of(ns) for ns in objs.namespaces}
    for dep in objs.deployments:
        tmpl = as_dict(spec_of(dep).get("template"))
        if not _has_auto_image(spec_of(tmpl)):
            continue
        nsl = ns_labels.get(as_str(as_dict(dep.get("metadata")).get("namespace")), {})
        podl = labels_of(tmpl)
        if not any(
            selector_matches(wh.get("namespaceSelector"), nsl)
            and selector_matches(wh.get("objectSelector"), podl)
            for wh in hooks
        ):
            rep.report(
                dep,
                "IST0146",
                friendly_name(dep, "Deployment"),
                f"Deployment {name_of(dep)} contains `image: auto` but does not match any "
                "Istio injection webhook selectors.",
                namespace=namespace_of(dep),
                workload=f"Deployment/{name_of(dep)}",
            )


def _is_control_plane(obj: Any) -> bool:
    labels = labels_of(obj)
    return "istio" in labels or labels.get("release") == "istio"


def _uid_1337(spec: dict[str, Any]) -> bool:
    sc = spec.get("securityContext")
    if isinstance(sc, dict) and sc.get("runAsUser") == 1337:
        return True
    conts = spec.get("containers")
    if not isinstance(conts, list):
        return False
    for c in conts:
        if not isinstance(c, dict):
            continue
        sc = c.get("securityContext")
        if (
            isinstance(sc, dict)
            and sc.get("runAsUser") == 1337
            and c.get("name") not in (ISTIO_PROXY, "istio-operator")
        ):
            return True
    return False


def analyze_uid(objs: ClusterObjects, rep: Reporter) -> None:
    """IST0144 for Pods and Deployments (not Istio control plane)."""
    for pod in objs.pods:
        _pod_uid(pod, rep)
    _deployments_uid(objs, rep)


_UID_MSG = "User ID (UID) 1337 is reserved for the sidecar proxy."


def _pod_uid(pod: dict[str, Any], rep: Reporter) -> bool:
    if _uid_1337(spec_of(pod)) and not _is_control_plane(pod):
        rep.report(pod, "IST0144", friendly_name(pod, "Pod"), _UID_MSG, namespace=namespace_of(pod))
        return True
    return False


def _deployments_uid(objs: ClusterObjects, rep: Reporter) -> None:
    msg = _UID_MSG
    for dep in objs.deployments:
        tmpl_spec = spec_of(as_dict(spec_of(dep).get("template")))
        if _uid_1337(tmpl_spec) and not _is_control_plane(dep):
            rep.report(
                dep,
                "IST0144",
                friendly_name(dep, "Deployment"),
                msg,
                namespace=namespace_of(dep),
                workload=f"Deployment/{name_of(dep)}",
            )


def analyze_deprecation(objs: ClusterObjects, rep: Reporter) -> None:
    """IST0002 for VirtualService ``http[].fault.delay.percent`` and Sidecar
    ``outboundTrafficPolicy.egressProxy``."""
    for vs in objs.istio.get("virtualservices", []):
        for route in as_list(spec_of(vs).get("http")):
            delay = as_dict(as_dict(as_dict(route).get("fault")).get("delay"))
            if "percent" in delay:
                rep.report(
                    vs,
                    "IST0002",
                    friendly_name(vs, "VirtualService"),
                    'Deprecated: "HTTPFaultInjection.Delay.Percent" is deprecated; '
                    'use "percentage".',
                )
    for sc in objs.istio.get("sidecars", []):
        if as_dict(spec_of(sc).get("outboundTrafficPolicy")).get("egressProxy"):
            rep.report(
                sc,
                "IST0002",
                friendly_name(sc, "Sidecar"),
                'Deprecated: "OutboundTrafficPolicy.EgressProxy" is deprecated.',
            )


def analyze_webhooks(objs: ClusterObjects, rep: Reporter) -> None:
    """IST0139: Istio webhooks overlapping for a namespace/pod label permutation, and
    webhooks referring to a Service that does not exist (``webhook.go``)."""
    hooks: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    revisions: set[str] = set()
    for cfg in objs.webhooks:
        whs = [w for w in as_list(as_dict(cfg).get("webhooks")) if isinstance(w, dict)]
        revs = _extract_revisions(cfg, whs)
        if not revs and not any(as_str(w.get("name")).endswith("istio.io") for w in whs):
            continue
        revisions |= revs
        for w in whs:
            hooks.append((cfg, f"{name_of(cfg)}/{as_str(w.get('name'))}", w))
    ns_perms: list[dict[str, str]] = [
        {},
        {INJECTION_LABEL: "enabled"},
        {INJECTION_LABEL: "disabled"},
    ]
    obj_perms: list[dict[str, str]] = [{}, {INJECT_KEY: "true"}, {INJECT_KEY: "false"}]
    for rev in sorted(revisions):
        ns_perms += [{REV_KEY: rev}, {REV_KEY: rev, INJECTION_LABEL: "disabled"}]
        obj_perms += [{REV_KEY: rev}, {REV_KEY: rev, INJECT_KEY: "false"}]
    for nl in ns_perms:
        for ol in obj_perms:
            matches = sorted(
                {
                    key
                    for _, key, w in hooks
                    if selector_matches(w.get("namespaceSelector"), nl)
                    and selector_matches(w.get("objectSelector"), ol)
                }
            )
            if len(matches) > 1:
                for cfg, key, _ in hooks:
                    if key in matches:
                        others = [m for m in matches if m != key]
                        rep.report(
                            cfg,
                            "IST0139",
                            friendly_name(cfg, "MutatingWebhookConfiguration"),
                            f"Webhook overlaps with others: [{' '.join(others)}]. "
                            "This may cause injection to occur twice.",
                        )
    services = {(namespace_of(s, ""), name_of(s)) for s in objs.services}
    for cfg, _key, w in hooks:
        svc = as_dict(as_dict(w.get("clientConfig")).get("service"))
        if not svc:
            continue
        ref = (as_str(svc.get("namespace")), as_str(svc.get("name")))
        if ref not in services:
            rep.report(
                cfg,
                "IST0139",
                friendly_name(cfg, "MutatingWebhookConfiguration"),
                "Injector refers to a control plane service that does not exist: "
                f"{ref[0]}/{ref[1]}.",
            )


def _extract_revisions(cfg: dict[str, Any], whs: Iterable[dict[str, Any]]) -> set[str]:
    revs: set[str] = set()
    if REV_KEY in labels_of(cfg):
        revs.add(labels_of(cfg)[REV_KEY])
    for w in whs:
        for sel_key in ("namespaceSelector", "objectSelector"):
            sel = as_dict(w.get(sel_key))
            ml = as_dict(sel.get("matchLabels"))
            if REV_KEY in ml:
                revs.add(as_str(ml[REV_KEY]))
            for expr in as_list(sel.get("matchExpressions")):
                if isinstance(expr, dict) and expr.get("key") == REV_KEY:
                    revs.update(as_str(v) for v in as_list(expr.get("values")))
    return revs


def istio_messages(
    objs: ClusterObjects, root_ns: str = "istio-system"
) -> tuple[list[Diagnostic], set[tuple[str, str]]]:
    """All istioctl-compatible messages for the objects, and the IST0103 (ns, pod) pairs."""
    analysis = IstioAnalysis(objs, root_ns)
    for pod in objs.pods:
        analysis.pod(pod)
    return analysis.finish()


class IstioAnalysis:
    """`istio_messages` fed one pod at a time (the pods of ``objs`` are ignored): the
    namespace-level analysis runs up front, the per-pod analyzers keep only their findings,
    and `finish` assembles the messages in the same order as `istio_messages`."""

    def __init__(self, objs: ClusterObjects, root_ns: str = "istio-system") -> None:
        self.root_ns = root_ns
        self.namespace_rep = Reporter()
        self.injected = _injection_namespaces(objs, self.namespace_rep)
        self.targets = _image_targets(objs)
        self.variants = _VariantResolver(objs, root_ns) if self.targets else None
        # The analyzers of objects other than pods run now, so that nothing here holds on to
        # the workload, Istio and webhook lists (a streamed poll lets go of them before the
        # pods come).
        self.auto_deps, self.uid_deps, self.rest = Reporter(), Reporter(), Reporter()
        _deployments_image_auto(objs, self.auto_deps)
        _deployments_uid(objs, self.uid_deps)
        analyze_deprecation(objs, self.rest)
        analyze_webhooks(objs, self.rest)
        self.reset()

    def reset(self) -> None:
        """Forget every pod seen (the pod list restarts)."""
        self.missing_rep = Reporter()
        self.reported: set[tuple[str, str]] = set()
        self.mismatched: dict[str, list[str]] = {}
        self.auto_rep = Reporter()
        self.uid_rep = Reporter()

    def namespace_inputs(self, ns_name: str) -> tuple[bool, str | None] | None:
        """What the per-pod analyzers read of a namespace: whether IST0103 looks at it and the
        proxy image IST0158 expects there; None when they read more (a ProxyConfig of its own
        picks the image variant)."""
        variants = self.variants
        if variants is not None and any(namespace_of(pc) == ns_name for pc in variants.pcs):
            return None
        target = self.targets.get(ns_name)
        return ns_name in self.injected, target[1] if target is not None else None

    def pod(self, pod: dict[str, Any]) -> bool:
        """Analyze one pod; True when any per-pod analyzer found something (an IST0103,
        IST0158, IST0147 or IST0144 condition, whether or not the message was suppressed).
        The answer depends only on the pod's namespace, labels, Istio annotations and spec,
        never on its name: a pod with the same content finds the same (`Classifier` relies
        on it to skip the analyzers for pods like one already found clean)."""
        found = _pod_missing_proxy(pod, self.injected, self.missing_rep, self.reported)
        if self.variants is not None:
            found = _pod_image(pod, self.targets, self.variants, self.mismatched) or found
        found = _pod_image_auto(pod, self.auto_rep) or found
        return _pod_uid(pod, self.uid_rep) or found

    def finish(self) -> tuple[list[Diagnostic], set[tuple[str, str]]]:
        image_rep = Reporter()
        _report_image(self.targets, self.mismatched, image_rep)
        messages = [
            *self.namespace_rep.messages,
            *self.missing_rep.messages,
            *image_rep.messages,
            *self.auto_rep.messages,
            *self.auto_deps.messages,
            *self.uid_rep.messages,
            *self.uid_deps.messages,
            *self.rest.messages,
        ]
        return messages, set(self.reported)


def dumps(messages: Iterable[Diagnostic]) -> str:
    return json.dumps([m.as_dict() for m in messages], indent=2)
