"""Public value types of the fleet generator: cluster specs, truth rows and state names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

# Namespace classes (istio-mesh-membership.md section 2, DESIGN.md section 3).
NS_SYSTEM = "system-ignored"
NS_DISABLED = "sidecar-disabled"
NS_DEFAULT = "sidecar-default"
NS_REVISION = "sidecar-revision"
NS_AMBIENT = "ambient"
NS_IMPLICIT = "implicit-default"
NS_NOT_ENROLLED = "not-enrolled"
NAMESPACE_CLASSES = (
    NS_SYSTEM,
    NS_DISABLED,
    NS_DEFAULT,
    NS_REVISION,
    NS_AMBIENT,
    NS_IMPLICIT,
    NS_NOT_ENROLLED,
)

# Pod states (DESIGN.md section 3).
SIDECAR = "sidecar"
NATIVE_SIDECAR = "native-sidecar"
AMBIENT = "ambient"
AMBIENT_PENDING = "ambient-pending"
MISSING_PROXY = "missing-proxy"
OPTED_OUT = "opted-out"
INELIGIBLE = "ineligible"
NOT_ENROLLED = "not-enrolled"
POD_STATES = (
    SIDECAR,
    NATIVE_SIDECAR,
    AMBIENT,
    AMBIENT_PENDING,
    MISSING_PROXY,
    OPTED_OUT,
    INELIGIBLE,
    NOT_ENROLLED,
)
IN_MESH = frozenset({SIDECAR, NATIVE_SIDECAR, AMBIENT})

# Workload-only states.
MESHED = "meshed"
PARTIAL = "partial"
IDLE = "idle"

# Namespaces the DESIGN treats as system (excluded from adoption figures).
SYSTEM_NAMESPACES = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "local-path-storage", "istio-system"}
)

DEFAULT_EPOCH = datetime(2026, 5, 1, tzinfo=UTC)

DEFAULT_TRIBES: dict[str, tuple[str, ...]] = {
    "payments": ("checkout", "billing", "fraud", "ledger"),
    "commerce": ("catalog", "search", "cart"),
    "logistics": ("shipping", "warehouse", "tracking"),
    "identity": ("auth", "profiles", "consent"),
    "data": ("ingest", "analytics", "ml-platform"),
    "platform": ("observability", "edge", "devex", "sre"),
}


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """One simulated cluster. Days are offsets from the fleet epoch (negative = before it)."""

    name: str
    environment: str = "production"
    pods_target: int = 120
    istio: bool = True
    metrics_api: bool = True
    kubernetes_version: str = "v1.33.4"
    # The default (unnamed) revision is upgraded in place from the first to the second version.
    istio_versions: tuple[str, str] = ("1.26.3", "1.27.1")
    upgrade_day: int = 35
    # A canary revision installed later; namespaces migrate to it through `revision_tag`.
    canary_revision: str | None = "1-28-0"
    canary_version: str = "1.28.0"
    canary_day: int = 60
    revision_tag: str | None = "prod"
    ambient: bool = True
    # Day from which the default injector has enableNamespacesByDefault=true (None: never).
    implicit_injection_day: int | None = None
    # "gradual": namespaces join the mesh over time, some never (a rollout in progress);
    # "complete": every application namespace has sidecar injection from its creation, so its
    # pods are injected pods (the poll benchmark's fleet, as the history-at-scale issue asks).
    enrolment: str = "gradual"
    tribes: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_TRIBES))


@dataclass(frozen=True, slots=True)
class TruthRow:
    """What a correct classifier must report for one namespace or workload at one time.

    Workload rows: kind is Deployment/StatefulSet/DaemonSet/CronJob/Job/Pod; pods_total counts the
    pods in phase Running/Pending, pods_meshed those in `sidecar`/`native-sidecar`/`ambient`.
    Namespace rows: kind == "Namespace", name == namespace, expected_state is the namespace class
    and pods_total == pods_meshed == 0 (so summing pods over all rows counts each pod once);
    `namespace_pods_total`/`namespace_pods_meshed` hold the namespace's sums.
    `tribe`/`squad` are label values (None when unlabelled, i.e. "Unassigned").
    """

    namespace: str
    kind: str
    name: str
    expected_state: str
    pods_total: int
    pods_meshed: int
    tribe: str | None
    squad: str | None
    namespace_system: bool = False
    namespace_class: str = ""
    revision: str | None = None
    proxy_versions: tuple[str, ...] = ()
    behind: bool = False
    pod_states: tuple[tuple[str, int], ...] = ()
    namespace_pods_total: int = 0
    namespace_pods_meshed: int = 0

    @property
    def is_namespace(self) -> bool:
        return self.kind == "Namespace"


def demo_clusters(*, no_istio_cluster: bool = False, scale: float = 1.0) -> list[ClusterSpec]:
    """The default demo fleet: two production clusters and staging (without the metrics API)."""
    clusters = [
        ClusterSpec(name="prod-eu", environment="production", pods_target=int(140 * scale)),
        ClusterSpec(
            name="prod-us",
            environment="production",
            pods_target=int(120 * scale),
            upgrade_day=45,
            canary_day=75,
        ),
        ClusterSpec(
            name="staging",
            environment="staging",
            pods_target=int(90 * scale),
            metrics_api=False,
            ambient=False,
            upgrade_day=20,
            canary_revision=None,
            revision_tag=None,
            implicit_injection_day=50,
        ),
    ]
    if no_istio_cluster:
        clusters.append(
            ClusterSpec(
                name="dev-sandbox",
                environment="development",
                pods_target=int(40 * scale),
                istio=False,
                ambient=False,
                canary_revision=None,
                revision_tag=None,
            )
        )
    return clusters
