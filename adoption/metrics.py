"""The adoption metrics of DESIGN §3, defined once over rollup sums.

Every page, chart, target and export computes a metric from the same summed rollup counts with
`value(metric, sums)`, so all views agree. Percentages are 0–100; cost metrics are absolute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

Sums = Mapping[str, int | float]


class Metric(StrEnum):
    WORKLOADS_MESHED = "workloads_meshed"
    WORKLOADS_MESHED_ELIGIBLE = "workloads_meshed_eligible"
    PODS_MESHED = "pods_meshed"
    NAMESPACES_ENABLED = "namespaces_enabled"
    RESILIENCE_TIMEOUTS = "resilience_timeouts"
    RESILIENCE_RETRIES = "resilience_retries"
    RESILIENCE_CIRCUIT_BREAKING = "resilience_circuit_breaking"
    RESILIENCE_OUTLIER_DETECTION = "resilience_outlier_detection"
    PROXY_UP_TO_DATE = "proxy_up_to_date"
    PROXY_CPU_REQUEST = "proxy_cpu_request"
    PROXY_MEMORY_REQUEST = "proxy_memory_request"


@dataclass(frozen=True)
class MetricDef:
    key: Metric
    label: str
    help: str
    numerator: Callable[[Sums], float]
    denominator: Callable[[Sums], float] | None  # None: absolute value
    unit: str = "%"
    direction: str = "up"  # targets on cost metrics may point down

    @property
    def is_percentage(self) -> bool:
        return self.denominator is not None

    @property
    def bounds(self) -> tuple[float, float | None]:
        return (0.0, 100.0) if self.is_percentage else (0.0, None)


def _adoption_denominator(s: Sums) -> float:
    # Honest coverage: opted-out workloads stay in; infrastructure (ineligible) does not.
    return s["workloads_total"] - s["workloads_ineligible"]


def _eligible_denominator(s: Sums) -> float:
    return (
        s["workloads_total"]
        - s["workloads_ineligible"]
        - s["workloads_opted_out"]
        - s.get("workloads_waived", 0)
    )


DEFS: dict[Metric, MetricDef] = {
    d.key: d
    for d in [
        MetricDef(
            Metric.WORKLOADS_MESHED, "Workloads meshed",
            "Workloads with every pod in the mesh, of workloads outside system namespaces "
            "(idle and mesh-infrastructure workloads left out; opt-outs count against).",
            lambda s: s["workloads_meshed"], _adoption_denominator,
        ),
        MetricDef(
            Metric.WORKLOADS_MESHED_ELIGIBLE, "Workloads meshed, of eligible",
            "As above, without opted-out and waived workloads in the denominator.",
            lambda s: s["workloads_meshed"], _eligible_denominator,
        ),
        MetricDef(
            Metric.PODS_MESHED, "Pods meshed",
            "Pods with an Istio proxy (sidecar, native, ambient).",
            lambda s: s["pods_meshed"], lambda s: s["pods_total"],
        ),
        MetricDef(
            Metric.NAMESPACES_ENABLED, "Namespaces enabled",
            "Namespaces enrolled for sidecar injection or ambient.",
            lambda s: s["namespaces_enabled"], lambda s: s["namespaces_total"],
        ),
        MetricDef(
            Metric.RESILIENCE_TIMEOUTS, "Timeouts set",
            "Meshed workloads behind a Service with an explicit VirtualService timeout.",
            lambda s: s["resilience_timeouts"], lambda s: s["meshed_with_service"],
        ),
        MetricDef(
            Metric.RESILIENCE_RETRIES, "Retries set",
            "Meshed workloads behind a Service with an explicit retry policy (Istio's default "
            "two retries do not count).",
            lambda s: s["resilience_retries"], lambda s: s["meshed_with_service"],
        ),
        MetricDef(
            Metric.RESILIENCE_CIRCUIT_BREAKING, "Circuit breaking",
            "Meshed workloads behind a Service with a DestinationRule connectionPool.",
            lambda s: s["resilience_circuit_breaking"], lambda s: s["meshed_with_service"],
        ),
        MetricDef(
            Metric.RESILIENCE_OUTLIER_DETECTION, "Outlier detection",
            "Meshed workloads behind a Service with DestinationRule outlierDetection.",
            lambda s: s["resilience_outlier_detection"], lambda s: s["meshed_with_service"],
        ),
        MetricDef(
            Metric.PROXY_UP_TO_DATE, "Proxies up to date",
            "Meshed workloads whose proxy runs the version of their revision's control plane.",
            lambda s: s["workloads_meshed"] - s["workloads_behind"],
            lambda s: s["workloads_meshed"],
        ),
        MetricDef(
            Metric.PROXY_CPU_REQUEST, "Proxy CPU requests",
            "Sum of istio-proxy CPU requests (cores).",
            lambda s: s["proxy_cpu_request_m"] / 1000.0, None, unit="cores", direction="down",
        ),
        MetricDef(
            Metric.PROXY_MEMORY_REQUEST, "Proxy memory requests",
            "Sum of istio-proxy memory requests (GiB).",
            lambda s: s["proxy_memory_request_b"] / 2**30, None, unit="GiB", direction="down",
        ),
    ]
}  # fmt: skip

CHOICES = [(d.key.value, d.label) for d in DEFS.values()]


def value(metric: Metric | str, sums: Sums) -> float | None:
    """The metric's value for summed rollup counts; None when the denominator is zero."""
    d = DEFS[Metric(metric)]
    if d.denominator is None:
        return float(d.numerator(sums))
    denominator = d.denominator(sums)
    if denominator <= 0:
        return None
    return 100.0 * d.numerator(sums) / denominator
