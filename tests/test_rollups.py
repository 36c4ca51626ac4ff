"""Rollups equal direct counts over observations (property test over random fleets)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adoption.store import COUNT_FIELDS, NamespaceRow, WorkloadRow, rollup_counts

STATES = [
    "meshed",
    "partial",
    "missing-proxy",
    "opted-out",
    "ineligible",
    "not-enrolled",
    "ambient-pending",
    "idle",
]

workloads = st.builds(
    WorkloadRow,
    namespace=st.sampled_from(["a", "b", "c"]),
    kind=st.just("Deployment"),
    name=st.text(min_size=1, max_size=5),
    tribe=st.sampled_from(["", "t1", "t2"]),
    squad=st.sampled_from(["", "s1", "s2"]),
    system=st.booleans(),
    state=st.sampled_from(STATES),
    pods_total=st.integers(0, 5),
    pods_meshed=st.integers(0, 5),
    behind=st.booleans(),
    services=st.lists(st.just("svc"), max_size=1),
    timeout=st.booleans(),
    retries=st.booleans(),
    circuit_breaking=st.booleans(),
    outlier_detection=st.booleans(),
    proxy_cpu_request_m=st.integers(0, 500),
    proxy_memory_request_b=st.integers(0, 10**9),
)
namespaces = st.builds(
    NamespaceRow,
    namespace=st.text(min_size=1, max_size=4),
    tribe=st.sampled_from(["", "t1", "t2"]),
    injection=st.sampled_from(["sidecar-default", "not-enrolled", "ambient", "sidecar-disabled"]),
    revision=st.just(""),
    system=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(workloads, max_size=40), st.lists(namespaces, max_size=10))
def test_it_sums_to_direct_counts(wls, nss) -> None:  # type: ignore[no-untyped-def]
    groups = rollup_counts(wls, nss)
    total = {f: sum(g[f] for g in groups.values()) for f in COUNT_FIELDS}
    app = [w for w in wls if not w.system]
    active = [w for w in app if w.pods_total > 0 and w.state != "idle"]
    meshed = [w for w in active if w.state == "meshed"]
    assert total["workloads_total"] == len(active)
    assert total["workloads_idle"] == len(app) - len(active)
    assert total["workloads_meshed"] == len(meshed)
    assert total["workloads_missing"] == sum(w.state == "missing-proxy" for w in active)
    assert total["workloads_behind"] == sum(w.behind for w in meshed)
    assert total["meshed_with_service"] == sum(bool(w.services) for w in meshed)
    assert total["resilience_timeouts"] == sum(w.timeout for w in meshed if w.services)
    assert total["pods_total"] == sum(w.pods_total for w in app)
    assert total["proxy_cpu_request_m"] == sum(w.proxy_cpu_request_m for w in app)
    assert total["namespaces_total"] == sum(not n.system for n in nss)
    assert total["namespaces_enabled"] == sum(
        (not n.system) and n.injection in ("sidecar-default", "ambient") for n in nss
    )
    # every workload lands in exactly one bucket
    buckets = [
        "workloads_meshed",
        "workloads_partial",
        "workloads_missing",
        "workloads_opted_out",
        "workloads_ineligible",
        "workloads_not_enrolled",
        "workloads_ambient_pending",
    ]
    assert sum(total[b] for b in buckets) == total["workloads_total"]
