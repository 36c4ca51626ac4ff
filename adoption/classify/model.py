"""Records and enums of the mesh-membership classifier.

All records are slotted dataclasses with plain field types (str, int, bool, list, dict,
datetime) so that the collector can bulk-insert them without conversion.  Rule ids in
the docstrings refer to ``shared/docs/istio-mesh-membership.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

#: Namespaces the injector refuses to touch (rule N1 / stage B2).
IGNORED_NAMESPACES: frozenset[str] = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "local-path-storage"}
)
#: Default system namespaces of the dashboard (DESIGN §3): N1 plus istio-system.
DEFAULT_SYSTEM_NAMESPACES: frozenset[str] = IGNORED_NAMESPACES | {"istio-system"}


class NamespaceClass(StrEnum):
    """Namespace classification, rules N1–N7 (first match wins)."""

    SYSTEM_IGNORED = "system-ignored"  # N1 (and configured system namespaces)
    SIDECAR_DISABLED = "sidecar-disabled"  # N2
    SIDECAR_DEFAULT = "sidecar-default"  # N3
    SIDECAR_REVISION = "sidecar-revision"  # N4
    AMBIENT = "ambient"  # N5
    IMPLICIT_DEFAULT = "implicit-default"  # N6
    NOT_ENROLLED = "not-enrolled"  # N7


class PodState(StrEnum):
    """Exactly one state per pod (DESIGN §3, rules P1–P12, section 6 and 7)."""

    SIDECAR = "sidecar"
    NATIVE_SIDECAR = "native-sidecar"
    AMBIENT = "ambient"
    AMBIENT_PENDING = "ambient-pending"
    MISSING_PROXY = "missing-proxy"
    OPTED_OUT = "opted-out"
    INELIGIBLE = "ineligible"
    NOT_ENROLLED = "not-enrolled"


MESHED_POD_STATES: frozenset[PodState] = frozenset(
    {PodState.SIDECAR, PodState.NATIVE_SIDECAR, PodState.AMBIENT}
)


class WorkloadState(StrEnum):
    """Workload state: meshed/partial/idle, otherwise the state of its pods."""

    MESHED = "meshed"
    PARTIAL = "partial"
    IDLE = "idle"
    MISSING_PROXY = "missing-proxy"
    AMBIENT_PENDING = "ambient-pending"
    OPTED_OUT = "opted-out"
    INELIGIBLE = "ineligible"
    NOT_ENROLLED = "not-enrolled"


class MeshMode(StrEnum):
    SIDECAR = "sidecar"
    NATIVE_SIDECAR = "native-sidecar"
    AMBIENT = "ambient"
    NONE = "none"
    MIXED = "mixed"


class Level(StrEnum):
    """Diagnostic levels as used by ``istioctl analyze``."""

    INFO = "Info"
    WARNING = "Warning"
    ERROR = "Error"


LEVEL_RANK: dict[str, int] = {"Info": 0, "Warning": 1, "Error": 2}


def _list() -> list[dict[str, Any]]:
    return []


@dataclass(slots=True)
class ClusterObjects:
    """Parsed Kubernetes objects (plain dicts) of one cluster.

    ``replicasets`` and ``jobs`` may be metadata-only (PartialObjectMetadata): only
    ``metadata.name/namespace/ownerReferences`` (and Istio annotations) are relied upon.
    ``istio`` is keyed by lowercase plural kind (``virtualservices``, ``destinationrules``,
    ``peerauthentications``, ``sidecars``, ``proxyconfigs`` ...).  ``istiod`` holds istiod
    Deployments or pods (control-plane version per revision).
    """

    namespaces: list[dict[str, Any]] = field(default_factory=_list)
    pods: list[dict[str, Any]] = field(default_factory=_list)
    replicasets: list[dict[str, Any]] = field(default_factory=_list)
    jobs: list[dict[str, Any]] = field(default_factory=_list)
    deployments: list[dict[str, Any]] = field(default_factory=_list)
    statefulsets: list[dict[str, Any]] = field(default_factory=_list)
    daemonsets: list[dict[str, Any]] = field(default_factory=_list)
    cronjobs: list[dict[str, Any]] = field(default_factory=_list)
    replicationcontrollers: list[dict[str, Any]] = field(default_factory=_list)
    services: list[dict[str, Any]] = field(default_factory=_list)
    configmaps: list[dict[str, Any]] = field(default_factory=_list)
    webhooks: list[dict[str, Any]] = field(default_factory=_list)
    istio: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    istiod: list[dict[str, Any]] = field(default_factory=_list)

    def workloads_by_kind(self) -> dict[str, list[dict[str, Any]]]:
        """The objects that can own pods, by kind."""
        return {
            "Deployment": self.deployments,
            "StatefulSet": self.statefulsets,
            "DaemonSet": self.daemonsets,
            "CronJob": self.cronjobs,
            "ReplicationController": self.replicationcontrollers,
            "ReplicaSet": self.replicasets,
            "Job": self.jobs,
        }


@dataclass(slots=True)
class ClassifyOptions:
    """Knobs of :func:`classify_cluster`.

    ``enable_namespaces_by_default=None`` reads the flag from the injector ConfigMap
    (``values`` JSON) or, failing that, from the presence of the ``auto.`` webhook (N6/W8).
    ``template_pods=True`` makes a workload object without pods stand for the pod its
    template would create (used by ``meshboard analyze`` on manifests).
    """

    system_namespaces: frozenset[str] = DEFAULT_SYSTEM_NAMESPACES
    extra_system_namespaces: frozenset[str] = frozenset()
    root_namespace: str = "istio-system"
    enable_namespaces_by_default: bool | None = None
    now: datetime | None = None
    template_pods: bool = False
    cluster_domain: str = "cluster.local"


@dataclass(slots=True)
class Diagnostic:
    """One finding. ``origin`` is ``"istio"`` for istioctl-compatible IST codes and
    ``"meshboard"`` for meshboard's own stricter MB codes."""

    code: str
    code_name: str
    level: str
    resource: str
    message: str
    origin: str = "istio"
    namespace: str | None = None
    workload: str | None = None  # "Kind/name" when tied to a workload

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "code_name": self.code_name,
            "level": self.level,
            "resource": self.resource,
            "message": self.message,
            "origin": self.origin,
        }


@dataclass(slots=True)
class NamespaceRecord:
    name: str
    klass: str
    revision: str | None = None
    revision_resolved: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    system: bool = False
    conflicts: list[str] = field(default_factory=list)
    pods_total: int = 0
    pods_meshed: int = 0
    workloads_total: int = 0
    workloads_meshed: int = 0
    reason: str = ""


@dataclass(slots=True)
class PodRecord:
    namespace: str
    name: str
    workload_kind: str
    workload_name: str
    state: str
    reason: str
    counted: bool = True
    injection_expected: bool = False
    revision_requested: str | None = None
    revision_used: str | None = None
    proxy_image: str | None = None
    proxy_version: str | None = None
    created: datetime | None = None
    mesh_mode: str = "none"
    labels: dict[str, str] = field(default_factory=dict)
    proxy_cpu_request_m: int | None = None
    proxy_cpu_limit_m: int | None = None
    proxy_memory_request_b: int | None = None
    proxy_memory_limit_b: int | None = None
    diagnostics: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Resilience:
    has_virtualservice: bool = False
    has_destinationrule: bool = False
    timeout: bool = False
    retries: bool = False
    fault: bool = False
    circuit_breaking: bool = False
    outlier_detection: bool = False
    retry_budget: bool = False
    mtls_mode: str = "UNSET"
    virtualservices: list[str] = field(default_factory=list)
    destinationrules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "has_virtualservice": self.has_virtualservice,
            "has_destinationrule": self.has_destinationrule,
            "timeout": self.timeout,
            "retries": self.retries,
            "fault": self.fault,
            "circuit_breaking": self.circuit_breaking,
            "outlier_detection": self.outlier_detection,
            "retry_budget": self.retry_budget,
            "mtls_mode": self.mtls_mode,
            "virtualservices": list(self.virtualservices),
            "destinationrules": list(self.destinationrules),
        }


@dataclass(slots=True)
class WorkloadRecord:
    namespace: str
    kind: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    state: str = WorkloadState.IDLE.value
    reason: str = ""
    system: bool = False
    pods_total: int = 0
    pods_meshed: int = 0
    pods_missing: int = 0
    pods_by_state: dict[str, int] = field(default_factory=dict)
    mesh_mode: str = MeshMode.NONE.value
    injection_expected: bool = False
    revision_requested: str | None = None
    revision_used: str | None = None
    proxy_versions: list[str] = field(default_factory=list)
    control_plane_version: str | None = None
    behind: bool = False
    proxy_cpu_request_m: int = 0
    proxy_cpu_limit_m: int = 0
    proxy_memory_request_b: int = 0
    proxy_memory_limit_b: int = 0
    missing_since: datetime | None = None
    services: list[str] = field(default_factory=list)
    # resilience (flattened for bulk insert)
    has_virtualservice: bool = False
    has_destinationrule: bool = False
    timeout: bool = False
    retries: bool = False
    fault: bool = False
    circuit_breaking: bool = False
    outlier_detection: bool = False
    mtls_mode: str = "UNSET"
    diagnostics: list[str] = field(default_factory=list)

    def proxy_dict(self) -> dict[str, Any]:
        return {
            "mesh_mode": self.mesh_mode,
            "revision_requested": self.revision_requested,
            "revision_used": self.revision_used,
            "versions": list(self.proxy_versions),
            "control_plane_version": self.control_plane_version,
            "behind": self.behind,
            "cpu_request_m": self.proxy_cpu_request_m,
            "cpu_limit_m": self.proxy_cpu_limit_m,
            "memory_request_b": self.proxy_memory_request_b,
            "memory_limit_b": self.proxy_memory_limit_b,
        }

    def resilience_dict(self) -> dict[str, Any]:
        return {
            "has_virtualservice": self.has_virtualservice,
            "has_destinationrule": self.has_destinationrule,
            "timeout": self.timeout,
            "retries": self.retries,
            "fault": self.fault,
            "circuit_breaking": self.circuit_breaking,
            "outlier_detection": self.outlier_detection,
            "mtls_mode": self.mtls_mode,
            "services": list(self.services),
        }


@dataclass(slots=True)
class ClusterResult:
    namespaces: list[NamespaceRecord] = field(default_factory=list)
    workloads: list[WorkloadRecord] = field(default_factory=list)
    pods: list[PodRecord] = field(default_factory=list)
    messages: list[Diagnostic] = field(default_factory=list)
    control_planes: dict[str, str] = field(default_factory=dict)
