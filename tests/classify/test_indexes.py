"""The per-cluster Service and resilience indexes agree with a plain scan of all objects:
they only exist to make the per-workload lookups cheap (wildcard hosts, multi-key and odd
selectors, duplicates and repeated hosts included)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adoption.classify.kube import (
    as_dict,
    as_list,
    as_str,
    map_selector_matches,
    name_of,
    namespace_of,
    spec_of,
)
from adoption.classify.model import Resilience
from adoption.classify.resilience import (
    ResilienceIndex,
    ServiceIndex,
    _host_matches,
    _policy_has,
    _route_features,
    normalize_host,
)

NAMESPACES = st.sampled_from(["x", "y"])
LABEL_MAPS = st.dictionaries(
    st.sampled_from(["app", "version", "tier", "zone"]), st.sampled_from(["a", "b"]), max_size=4
)
SELECTORS = st.none() | st.dictionaries(
    st.sampled_from(["app", "version", "tier", "zone"]) | st.just(1),  # a non-str key never matches
    st.sampled_from(["a", "b"]) | st.just(True),  # YAML bool: compared as "true"
    max_size=3,
)
SERVICES = st.lists(
    st.builds(
        lambda name, ns, sel: {
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": sel},
        },
        st.sampled_from(["s1", "s2", "s3"]),
        NAMESPACES,
        SELECTORS,
    ),
    max_size=8,
)
HOST_PATTERNS = st.sampled_from(
    [
        "a",
        "b",
        "a.x.svc.cluster.local",
        "b.y.svc.cluster.local",
        "*.local",
        "*",
        "*.x.svc.cluster.local",
    ]
)
QUERY_HOSTS = st.lists(
    st.sampled_from(["a.x.svc.cluster.local", "b.x.svc.cluster.local", "b.y.svc.cluster.local"]),
    max_size=3,
)
ROUTES = st.fixed_dictionaries(
    {
        "timeout": st.sampled_from(["", "0s", "2s"]),
        "retries": st.sampled_from([None, {"attempts": 0}, {"attempts": 3}]),
        "fault": st.sampled_from([None, {"abort": {"httpStatus": 500}}]),
        "route": st.lists(
            st.fixed_dictionaries({"destination": st.fixed_dictionaries({"host": HOST_PATTERNS})}),
            max_size=2,
        ),
    }
)
VIRTUAL_SERVICES = st.builds(
    lambda name, ns, hosts, gateways, http: {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"hosts": hosts, "gateways": gateways, "http": http},
    },
    st.sampled_from(["v1", "v2"]),
    NAMESPACES,
    st.lists(HOST_PATTERNS, max_size=3),
    st.sampled_from([[], ["mesh"], ["gw"], ["gw", "mesh"]]),
    st.lists(ROUTES, max_size=2),
)
DESTINATION_RULES = st.builds(
    lambda name, ns, host, policy: {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"host": host, "trafficPolicy": policy},
    },
    st.sampled_from(["d1", "d2"]),
    NAMESPACES,
    HOST_PATTERNS,
    st.sampled_from(
        [
            {},
            {"connectionPool": {"tcp": {}}},
            {"outlierDetection": {"x": 1}},
            {"retryBudget": {"p": 1}},
        ]
    ),
)


def _scan_selecting(
    services: list[dict[str, Any]], namespace: str, labels: dict[str, str]
) -> list[str]:
    return sorted(
        {
            name_of(s)
            for s in services
            if namespace_of(s) == namespace
            and map_selector_matches(as_dict(spec_of(s).get("selector")), labels)
        }
    )


def _scan_for_hosts(istio: dict[str, list[dict[str, Any]]], hosts: list[str]) -> Resilience:
    res = Resilience()
    vs_seen: set[int] = set()
    dr_seen: set[int] = set()
    vss, drs = istio["virtualservices"], istio["destinationrules"]
    for idx, vs in enumerate(vss):
        ns, spec = namespace_of(vs), spec_of(vs)
        routes = [
            _route_features(as_dict(r), ns, "cluster.local") for r in as_list(spec.get("http"))
        ]
        gateways = [as_str(g) for g in as_list(spec.get("gateways"))]
        patterns = [normalize_host(h, ns) for h in as_list(spec.get("hosts"))]
        bound = not gateways or "mesh" in gateways
        for host in hosts:
            by_host = bound and any(p and _host_matches(p, host) for p in patterns)
            by_dest = any(_host_matches(d, host) for r in routes for d in r.destinations)
            if by_host or by_dest:
                vs_seen.add(idx)
            for r in routes:
                if by_host or (by_dest and host in r.destinations):
                    res.timeout |= r.timeout
                    res.retries |= r.retries
                    res.fault |= r.fault
    for idx, dr in enumerate(drs):
        ns, spec = namespace_of(dr), spec_of(dr)
        pattern = normalize_host(spec.get("host"), ns)
        if pattern and any(_host_matches(pattern, host) for host in hosts):
            dr_seen.add(idx)
            policy = spec.get("trafficPolicy")
            res.circuit_breaking |= _policy_has(policy, "connectionPool")
            res.outlier_detection |= _policy_has(policy, "outlierDetection")
            res.retry_budget |= bool(as_dict(policy).get("retryBudget"))
    res.has_virtualservice, res.has_destinationrule = bool(vs_seen), bool(dr_seen)
    # one entry per matching resource, as written (duplicate names included)
    res.virtualservices = sorted(f"{namespace_of(vss[i])}/{name_of(vss[i])}" for i in vs_seen)
    res.destinationrules = sorted(f"{namespace_of(drs[i])}/{name_of(drs[i])}" for i in dr_seen)
    return res


@settings(max_examples=300, deadline=None)
@given(SERVICES, NAMESPACES, LABEL_MAPS)
def test_service_index_matches_a_scan_of_all_services(
    services: list[dict[str, Any]], namespace: str, labels: dict[str, str]
) -> None:
    assert ServiceIndex(services).selecting(namespace, labels) == _scan_selecting(
        services, namespace, labels
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(VIRTUAL_SERVICES, max_size=4), st.lists(DESTINATION_RULES, max_size=3), QUERY_HOSTS)
def test_resilience_index_matches_a_scan_of_all_resources(
    vss: list[dict[str, Any]], drs: list[dict[str, Any]], hosts: list[str]
) -> None:
    istio = {"virtualservices": vss, "destinationrules": drs}
    got = ResilienceIndex(istio).for_hosts(hosts, "x", {})
    assert got.as_dict() == _scan_for_hosts(istio, hosts).as_dict()
