"""Pod state: proxy presence (P1–P12), ambient intent, opt-out (section 6) and missing
proxy (section 7), revision and proxy version (section 8).

State precedence (first match wins):

1. P1–P4 Istio infrastructure (ztunnel, istiod, waypoint, gateway) → ``ineligible``.
   Gateways and waypoints carry ``inject=false`` by design and are never ``opted-out``.
2. Proxy present: P6 → ``native-sidecar``; P7/P7a/P8 → ``sidecar``; P9 → ``ambient``.
3. System namespace or ``hostNetwork`` (B1) → ``ineligible``.
4. P10 → ``ambient-pending``; P11 (injected by a template without proxy) → ``ineligible``.
5. Injection expected (stage A and B) or ambient intended, no proxy → ``missing-proxy``.
6. Explicit opt-out (B3 ``false``, W2/W5 label, B4 ``neverInjectSelector``, ambient
   ``dataplane-mode=none``) → ``opted-out``.
7. A revision is requested that no injector webhook serves (known only when webhooks are
   in the input) → ``missing-proxy`` (intent without a control plane).
8. Otherwise ``not-enrolled``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .injection import DATAPLANE_MODE, INJECT_KEY, REV_KEY, InjectionPolicy, explicit_choice
from .kube import ISTIO_PROXY, as_dict, as_list, as_str, containers
from .model import PodState
from .namespaces import NamespaceInfo
from .quantity import cpu_millicores, memory_bytes
from .versions import proxy_version

STATUS_ANNOTATION = "sidecar.istio.io/status"
REDIRECTION = "ambient.istio.io/redirection"
MANAGED = "gateway.istio.io/managed"
TEMPLATES = "inject.istio.io/templates"
PROXY_IMAGE = "sidecar.istio.io/proxyImage"


@dataclass(slots=True)
class ProxyInfo:
    rule: str  # P1..P12
    present: bool
    mode: str  # sidecar / native-sidecar / ambient / none
    infrastructure: str | None = None  # ztunnel / istiod / waypoint / gateway / agentgateway
    image: str | None = None
    container: dict[str, Any] | None = None
    note: str = ""


def _find(conts: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for c in conts:
        if c.get("name") == name:
            return c
    return None


def proxy_args(c: dict[str, Any] | None) -> list[str]:
    if c is None:
        return []
    return [a for a in as_list(c.get("args")) if isinstance(a, str)]


def env_true(c: dict[str, Any], key: str) -> bool:
    for e in as_list(c.get("env")):
        if isinstance(e, dict) and e.get("name") == key:
            return as_str(e.get("value")).lower() == "true"
    return False


#: Where a ``ztunnel`` pod is Istio infrastructure (rule P1), besides the root namespace.
ZTUNNEL_NAMESPACES = frozenset({"istio-system", "kube-system"})


def detect_proxy(
    namespace: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
    root_namespace: str = "istio-system",
) -> ProxyInfo:
    """Rules P1–P12 of section 5, evaluated top to bottom."""
    # Not a tracked read (kube.TrackedMap): only "istiod"/"ztunnel" matter here, and the
    # classifier's memo keys exactly that (cluster.INFRA_APPS).
    app = dict.get(labels, "app") if isinstance(labels, dict) else labels.get("app")
    if app == "istiod" or (
        app == "ztunnel" and (namespace == root_namespace or namespace in ZTUNNEL_NAMESPACES)
    ):
        return ProxyInfo("P1", False, "none", infrastructure=app)
    conts = containers(spec)
    inits = containers(spec, "initContainers")
    proxy_c = _find(conts, ISTIO_PROXY)
    proxy_i = _find(inits, ISTIO_PROXY) if proxy_c is None else None
    proxy = proxy_c or proxy_i
    image = as_str(proxy.get("image")) if proxy is not None else ""
    args = proxy_args(proxy)
    managed = labels.get(MANAGED)
    templates = [t.strip() for t in annotations.get(TEMPLATES, "").split(",") if t.strip()]
    if managed == "istio.io-mesh-controller" or args[:2] == ["proxy", "waypoint"]:
        return ProxyInfo("P2", bool(image), "none", "waypoint", image or None, proxy)
    if (
        managed == "istio.io-gateway-controller"
        or args[:2] == ["proxy", "router"]
        or (proxy is not None and "gateway" in templates)
    ):
        return ProxyInfo(
            "P3", bool(image) and image != "auto", "none", "gateway", image or None, proxy
        )
    if _find(conts, "agentgateway") is not None and (
        managed or "gateway.networking.k8s.io/gateway-name" in labels
    ):
        return ProxyInfo("P4", True, "none", "agentgateway")
    if proxy_c is not None and image == "auto":
        return ProxyInfo(
            "P5",
            False,
            "none",
            image="auto",
            container=proxy_c,
            note="istio-proxy still has the image: auto placeholder",
        )
    agent = proxy is not None and env_true(proxy, "DISABLE_ENVOY")
    agent_note = "proxyless gRPC agent (DISABLE_ENVOY=true)" if agent else ""
    if proxy_i is not None and image:
        if proxy_i.get("restartPolicy") == "Always":
            return ProxyInfo(
                "P7a" if agent else "P6", True, "native-sidecar", None, image, proxy_i, agent_note
            )
        return ProxyInfo(
            "P8",
            True,
            "sidecar",
            None,
            image,
            proxy_i,
            "istio-proxy is an init container without restartPolicy: Always",
        )
    if proxy_c is not None and image:
        return ProxyInfo(
            "P7a" if agent else "P7", True, "sidecar", None, image, proxy_c, agent_note
        )
    redirection = annotations.get(REDIRECTION)
    if redirection == "enabled":
        return ProxyInfo("P9", True, "ambient")
    if redirection == "pending":
        return ProxyInfo("P10", False, "none")
    if STATUS_ANNOTATION in annotations:
        return ProxyInfo("P11", False, "none", note=f"templates {templates or ['sidecar']}")
    return ProxyInfo("P12", False, "none")


def injection_status(annotations: dict[str, str]) -> dict[str, Any]:
    """``sidecar.istio.io/status`` JSON; empty dict when absent or unparsable."""
    raw = annotations.get(STATUS_ANNOTATION)
    if not raw:
        return {}
    try:
        return as_dict(json.loads(raw))
    except (ValueError, RecursionError):
        return {}


def revision_used(annotations: dict[str, str]) -> str | None:
    """Section 8: ``revision`` of the status JSON, else the ``istio.io/rev`` annotation."""
    rev = as_str(injection_status(annotations).get("revision"))
    if rev:
        return rev
    return annotations.get(REV_KEY) or None


def ambient_intended(
    ns: NamespaceInfo, labels: dict[str, str], annotations: dict[str, str], host_network: bool
) -> bool:
    """Ambient intent table of section 5 (default istio-cni enablement selectors)."""
    pod_mode = labels.get(DATAPLANE_MODE)
    if pod_mode == "none":
        return False
    wanted = pod_mode == "ambient" or ns.labels.get(DATAPLANE_MODE) == "ambient"
    if not wanted:
        return False
    return not (host_network or STATUS_ANNOTATION in annotations or ns.name == "kube-system")


@dataclass(slots=True)
class PodVerdict:
    state: PodState
    reason: str
    injection_expected: bool
    revision_requested: str | None
    revision_resolved: str | None
    revision_used: str | None
    proxy: ProxyInfo
    ambient_intended: bool
    invalid_inject_value: str | None
    unknown_revision: bool


def _enrolment(rule: str, requested: str | None) -> str:
    return {
        "W1": "namespace has istio-injection=enabled",
        "W4": f"namespace has istio.io/rev={requested}",
        "W6": f"pod has label istio.io/rev={requested}",
        "W7": "pod has label sidecar.istio.io/inject=true",
        "W8": "the injector enables namespaces by default",
    }.get(rule, "an Istio injection webhook matches the pod")


def decide_pod(
    ns: NamespaceInfo,
    labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
    policy: InjectionPolicy,
    root_namespace: str,
) -> PodVerdict:
    host_network = spec.get("hostNetwork") is True
    proxy = detect_proxy(ns.name, labels, annotations, spec, root_namespace)
    a = policy.stage_a(ns.name, ns.labels, labels)
    b = policy.stage_b(ns.name, labels, annotations, host_network, a.revision or a.requested)
    expected = a.fired and b.inject
    amb = ambient_intended(ns, labels, annotations, host_network)
    used = revision_used(annotations)
    requested = a.requested
    resolved = a.revision if a.fired else policy.resolve(requested)
    unknown = a.requested is not None and not a.fired and policy.revision_exists(requested) is False
    v = PodVerdict(
        PodState.NOT_ENROLLED,
        "",
        expected,
        requested,
        resolved,
        used,
        proxy,
        amb,
        b.invalid_value,
        unknown,
    )
    if proxy.infrastructure is not None:
        v.state = PodState.INELIGIBLE
        v.reason = f"Istio infrastructure ({proxy.infrastructure}, {proxy.rule}); not an opt-out"
        v.injection_expected = False
        return v
    if proxy.present:
        if proxy.mode == "ambient":
            v.state, v.reason = (
                PodState.AMBIENT,
                "captured by ztunnel (ambient.istio.io/redirection=enabled, P9)",
            )
        elif proxy.mode == "native-sidecar":
            v.state, v.reason = (
                PodState.NATIVE_SIDECAR,
                "istio-proxy runs as a native sidecar init container (P6)",
            )
        else:
            v.state, v.reason = (
                PodState.SIDECAR,
                "istio-proxy runs as a classic sidecar container (P7)",
            )
        if proxy.note:
            v.reason += f"; {proxy.note}"
        return v
    if ns.system:
        v.state, v.reason = PodState.INELIGIBLE, f"system namespace {ns.name} (excluded)"
        v.injection_expected = False
        return v
    if host_network:
        v.state, v.reason = (
            PodState.INELIGIBLE,
            "pod uses hostNetwork; never injected nor captured (B1)",
        )
        v.injection_expected = False
        return v
    if proxy.rule == "P10":
        v.state = PodState.AMBIENT_PENDING
        v.reason = "ambient enrolment pending (ambient.istio.io/redirection=pending, P10)"
        return v
    if proxy.rule == "P11":
        v.state = PodState.INELIGIBLE
        v.reason = f"injected by a template that adds no Envoy proxy ({proxy.note}; P11)"
        return v
    if expected:
        why = _enrolment(a.rule, requested)
        if proxy.rule == "P5":
            v.reason = (
                f"{why} but istio-proxy still has image: auto — the injection webhook did "
                "not run; restart the pod once the injector is reachable"
            )
        else:
            v.reason = (
                f"{why} but the pod has no istio-proxy container; it was created before "
                "injection was enabled (or while the injector was unavailable) — restart it"
            )
        if b.invalid_value is not None:
            v.reason += (
                f" (note: {INJECT_KEY}={b.invalid_value!r} is not a valid value and is ignored)"
            )
        v.state = PodState.MISSING_PROXY
        return v
    if amb:
        v.state = PodState.MISSING_PROXY
        v.reason = (
            "ambient mode is requested (istio.io/dataplane-mode=ambient) but the pod is not "
            "captured by ztunnel (no ambient.istio.io/redirection annotation) — check "
            "istio-cni and restart it"
        )
        return v
    choice, _ = explicit_choice(labels, annotations)
    if choice is False or b.rule == "B4":
        v.state = PodState.OPTED_OUT
        if b.rule == "B4" and labels.get(INJECT_KEY) != "false":
            v.reason = "pod matches the injector's neverInjectSelector (B4)"
        elif INJECT_KEY in labels:
            v.reason = "pod has label sidecar.istio.io/inject=false"
        else:
            v.reason = "pod has annotation sidecar.istio.io/inject=false (deprecated form)"
        return v
    if labels.get(DATAPLANE_MODE) == "none" and ns.labels.get(DATAPLANE_MODE) == "ambient":
        v.state, v.reason = (
            PodState.OPTED_OUT,
            "pod has label istio.io/dataplane-mode=none in an ambient namespace",
        )
        return v
    if unknown:
        v.state = PodState.MISSING_PROXY
        v.reason = (
            f"revision {requested!r} is requested but no injector webhook serves this "
            "revision or tag; nothing will inject the pod"
        )
        return v
    if a.fired and not b.inject:
        v.reason = (
            f"injector policy {b.rule}: injection only on explicit sidecar.istio.io/inject=true"
        )
        return v
    v.reason = f"nothing asks for the mesh ({ns.reason or ns.klass.value})"
    return v


def proxy_resources(
    proxy: ProxyInfo, annotations: dict[str, str]
) -> tuple[int | None, int | None, int | None, int | None]:
    """(cpu request m, cpu limit m, memory request B, memory limit B) of a present proxy, from
    the ``istio-proxy`` container resources, else the ``sidecar.istio.io/proxyCPU``,
    ``proxyCPULimit``, ``proxyMemory``, ``proxyMemoryLimit`` annotations."""
    if not proxy.present or proxy.mode == "ambient" or proxy.container is None:
        return None, None, None, None
    res = as_dict(proxy.container.get("resources")) if proxy.container else {}
    req, lim = as_dict(res.get("requests")), as_dict(res.get("limits"))
    cpu_r = cpu_millicores(req.get("cpu"))
    cpu_l = cpu_millicores(lim.get("cpu"))
    mem_r = memory_bytes(req.get("memory"))
    mem_l = memory_bytes(lim.get("memory"))
    if cpu_r is None:
        cpu_r = cpu_millicores(annotations.get("sidecar.istio.io/proxyCPU"))
    if cpu_l is None:
        cpu_l = cpu_millicores(annotations.get("sidecar.istio.io/proxyCPULimit"))
    if mem_r is None:
        mem_r = memory_bytes(annotations.get("sidecar.istio.io/proxyMemory"))
    if mem_l is None:
        mem_l = memory_bytes(annotations.get("sidecar.istio.io/proxyMemoryLimit"))
    return cpu_r, cpu_l, mem_r, mem_l


def pod_proxy_version(proxy: ProxyInfo, annotations: dict[str, str]) -> str | None:
    """Version from the proxy image tag; None when overridden by ``proxyImage`` (section 8)."""
    if not proxy.image or PROXY_IMAGE in annotations:
        return None
    return proxy_version(proxy.image)


def created_at(meta: dict[str, Any]) -> datetime | None:
    from .kube import parse_time

    return parse_time(meta.get("creationTimestamp"))
