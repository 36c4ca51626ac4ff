"""The resources kubesim serves, and the discovery documents describing them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.spec import ClusterSpec


@dataclass(frozen=True, slots=True)
class Resource:
    group: str  # "" for the core group
    versions: tuple[str, ...]  # preferred first
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    requires: str = ""  # "" | "istio" | "metrics"
    data_key: str = ""  # key in the snapshot (defaults to plural)

    @property
    def key(self) -> str:
        return self.data_key or self.plural

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


NET = ("v1", "v1beta1", "v1alpha3")
SEC = ("v1", "v1beta1")
RESOURCES: tuple[Resource, ...] = (
    Resource("", ("v1",), "namespaces", "namespace", "Namespace", False, ("ns",)),
    Resource("", ("v1",), "pods", "pod", "Pod", True, ("po",)),
    Resource("", ("v1",), "services", "service", "Service", True, ("svc",)),
    Resource("", ("v1",), "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    Resource("apps", ("v1",), "deployments", "deployment", "Deployment", True, ("deploy",)),
    Resource("apps", ("v1",), "statefulsets", "statefulset", "StatefulSet", True, ("sts",)),
    Resource("apps", ("v1",), "daemonsets", "daemonset", "DaemonSet", True, ("ds",)),
    Resource("apps", ("v1",), "replicasets", "replicaset", "ReplicaSet", True, ("rs",)),
    Resource("batch", ("v1",), "jobs", "job", "Job"),
    Resource("batch", ("v1",), "cronjobs", "cronjob", "CronJob", True, ("cj",)),
    Resource(
        "admissionregistration.k8s.io",
        ("v1",),
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        False,
    ),
    *(
        Resource(g, vs, plural, kind.lower(), kind, True, short, "istio")
        for g, vs, plural, kind, short in (
            ("networking.istio.io", NET, "virtualservices", "VirtualService", ("vs",)),
            ("networking.istio.io", NET, "destinationrules", "DestinationRule", ("dr",)),
            ("networking.istio.io", NET, "gateways", "Gateway", ("gw",)),
            ("networking.istio.io", NET, "serviceentries", "ServiceEntry", ("se",)),
            ("networking.istio.io", NET, "sidecars", "Sidecar", ()),
            ("security.istio.io", SEC, "peerauthentications", "PeerAuthentication", ("pa",)),
            ("security.istio.io", SEC, "authorizationpolicies", "AuthorizationPolicy", ("ap",)),
        )
    ),
    Resource(
        "metrics.k8s.io", ("v1beta1",), "pods", "", "PodMetrics", True, (), "metrics", "podmetrics"
    ),
    Resource(
        "autoscaling",
        ("v2",),
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
    ),
)


def served(spec: ClusterSpec) -> list[Resource]:
    out = []
    for r in RESOURCES:
        if r.requires == "istio" and not spec.istio:
            continue
        if r.requires == "metrics" and not spec.metrics_api:
            continue
        out.append(r)
    return out


def find(spec: ClusterSpec, group: str, version: str, plural: str) -> Resource | None:
    for r in served(spec):
        if r.group == group and r.plural == plural and version in r.versions:
            return r
    return None


def groups(spec: ClusterSpec) -> dict[str, tuple[str, ...]]:
    """Served non-core groups and their versions (preferred first)."""
    out: dict[str, tuple[str, ...]] = {}
    for r in served(spec):
        if r.group:
            out.setdefault(r.group, r.versions)
    return out


def _group_doc(name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}
        ],
    }


def api_group_list(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, vs) for g, vs in groups(spec).items()],
    }


def api_group(spec: ClusterSpec, group: str) -> dict[str, Any] | None:
    vs = groups(spec).get(group)
    if vs is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, vs)}


def resource_list(spec: ClusterSpec, group: str, version: str) -> dict[str, Any] | None:
    items = [r for r in served(spec) if r.group == group and version in r.versions]
    if not items:
        return None
    resources = []
    for r in items:
        doc: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["get", "list"],
        }
        if r.short_names:
            doc["shortNames"] = list(r.short_names)
        resources.append(doc)
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def version_info(spec: ClusterSpec) -> dict[str, Any]:
    v = spec.kubernetes_version.lstrip("v")
    major, minor = v.split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "gitVersion": spec.kubernetes_version,
        "gitCommit": "0b6c9f4d55d3d5e0d0f4b8a2c1e7f3a9d8c6b5a4",
        "gitTreeState": "clean",
        "buildDate": "2026-08-12T10:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
