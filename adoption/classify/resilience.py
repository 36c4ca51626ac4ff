"""Resilience features per workload (section 10): VirtualService timeout/retries/fault,
DestinationRule connectionPool/outlierDetection/retryBudget, PeerAuthentication mTLS.

Host matching mirrors ``ResolveShortnameToFQDN``: a host without a dot is relative to
the resource's namespace (``reviews`` → ``reviews.<ns>.svc.cluster.local``); any host
with a dot is taken as written; ``*`` and ``*.suffix`` are wildcards.  DestinationRules
in the root namespace (mesh-wide, e.g. host ``*.local``) match like any other.

A VirtualService applies to sidecars when ``spec.gateways`` is empty or contains
``mesh``; such VirtualServices are matched by ``hosts``.  Any VirtualService (also a
gateway-bound one) is matched by the destinations of its HTTP routes, restricted to the
routes that send to the workload.  ``retries`` counts only an explicit policy with
``attempts`` ≠ 0 (Istio retries twice by default).  Indexes are built once per cluster,
lookups are per service host: no quadratic loops.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from .kube import (
    as_dict,
    as_list,
    as_str,
    map_selector_matches,
    meta,
    name_of,
    namespace_of,
    spec_of,
)
from .model import Resilience

MTLS_MODES = ("UNSET", "PERMISSIVE", "STRICT", "DISABLE")


def normalize_host(host: Any, namespace: str, domain: str = "cluster.local") -> str | None:
    h = as_str(host).strip().lower()
    if not h:
        return None
    if h == "*" or "." in h:
        return h
    return f"{h}.{namespace}.svc.{domain}"


def _host_matches(pattern: str, host: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return host.endswith(pattern[1:])
    return pattern == host


class _HostIndex:
    """Resource indexes by host.  Indexes are added in increasing order, so an exact host's
    list holds each index once and `lookup` can hand it out as is: clusters rarely have
    wildcard hosts, and then a lookup builds nothing."""

    def __init__(self) -> None:
        self.exact: dict[str, list[int]] = {}
        self.wild: list[tuple[str, int]] = []

    def add(self, host: str, idx: int) -> None:
        if host.startswith("*"):
            self.wild.append((host, idx))
        else:
            found = self.exact.setdefault(host, [])
            if not found or found[-1] != idx:
                found.append(idx)

    def lookup(self, host: str) -> Collection[int]:
        """The indexes matching ``host``, each once; do not modify."""
        exact = self.exact.get(host, ())
        if not self.wild:
            return exact
        found = set(exact)
        for pattern, idx in self.wild:
            if _host_matches(pattern, host):
                found.add(idx)
        return found


@dataclass(slots=True)
class _Route:
    timeout: bool
    retries: bool
    fault: bool
    destinations: set[str] = field(default_factory=set)


def _route_features(route: dict[str, Any], ns: str, domain: str) -> _Route:
    timeout = as_str(route.get("timeout")) not in ("", "0s", "0")
    retries_val = route.get("retries")
    retries = False
    if isinstance(retries_val, dict):
        attempts = retries_val.get("attempts")
        retries = not (isinstance(attempts, int) and attempts <= 0)
    fault = as_dict(route.get("fault"))
    dests: set[str] = set()
    for r in as_list(route.get("route")):
        h = normalize_host(as_dict(as_dict(r).get("destination")).get("host"), ns, domain)
        if h:
            dests.add(h)
    return _Route(timeout, retries, bool(fault.get("delay") or fault.get("abort")), dests)


def _policy_has(policy: Any, key: str) -> bool:
    p = as_dict(policy)
    if p.get(key):
        return True
    return any(as_dict(pl).get(key) for pl in as_list(p.get("portLevelSettings")))


class ResilienceIndex:
    """Built once per cluster from ``ClusterObjects.istio``."""

    def __init__(
        self,
        istio: dict[str, list[dict[str, Any]]],
        root_namespace: str = "istio-system",
        domain: str = "cluster.local",
    ) -> None:
        self.domain = domain
        self.root = root_namespace
        self.vs_names: list[str] = []
        self.vs_routes: list[list[_Route]] = []
        # (timeout, retries, fault) of all routes: what a match by ``hosts`` contributes
        self.vs_flags: list[tuple[bool, bool, bool]] = []
        self.vs_by_host = _HostIndex()
        self.vs_by_dest = _HostIndex()
        for vs in istio.get("virtualservices", []):
            ns = namespace_of(vs)
            spec = spec_of(vs)
            idx = len(self.vs_names)
            self.vs_names.append(f"{ns}/{name_of(vs)}")
            routes = [_route_features(as_dict(r), ns, domain) for r in as_list(spec.get("http"))]
            self.vs_routes.append(routes)
            self.vs_flags.append(
                (
                    any(r.timeout for r in routes),
                    any(r.retries for r in routes),
                    any(r.fault for r in routes),
                )
            )
            gateways = [as_str(g) for g in as_list(spec.get("gateways"))]
            if not gateways or "mesh" in gateways:
                for host in as_list(spec.get("hosts")):
                    h = normalize_host(host, ns, domain)
                    if h:
                        self.vs_by_host.add(h, idx)
            for dest in {d for r in routes for d in r.destinations}:
                self.vs_by_dest.add(dest, idx)
        self.dr_names: list[str] = []
        self.dr_flags: list[tuple[bool, bool, bool]] = []
        self.dr_by_host = _HostIndex()
        for dr in istio.get("destinationrules", []):
            ns = namespace_of(dr)
            spec = spec_of(dr)
            idx = len(self.dr_names)
            self.dr_names.append(f"{ns}/{name_of(dr)}")
            policies = [spec.get("trafficPolicy")] + [
                as_dict(s).get("trafficPolicy") for s in as_list(spec.get("subsets"))
            ]
            self.dr_flags.append(
                (
                    any(_policy_has(p, "connectionPool") for p in policies),
                    any(_policy_has(p, "outlierDetection") for p in policies),
                    any(as_dict(p).get("retryBudget") for p in policies),
                )
            )
            h = normalize_host(spec.get("host"), ns, domain)
            if h:
                self.dr_by_host.add(h, idx)
        # PeerAuthentication: mesh (root ns, no selector), namespace, workload selectors.
        self.pa_mesh: str = "UNSET"
        self.pa_ns: dict[str, str] = {}
        self.pa_workload: dict[str, list[tuple[dict[str, Any], str]]] = {}
        for pa in istio.get("peerauthentications", []):
            ns = namespace_of(pa)
            spec = spec_of(pa)
            mode = as_str(as_dict(spec.get("mtls")).get("mode")).upper() or "UNSET"
            if mode not in MTLS_MODES:
                mode = "UNSET"
            sel = as_dict(as_dict(spec.get("selector")).get("matchLabels"))
            if sel:
                self.pa_workload.setdefault(ns, []).append((sel, mode))
            elif ns == root_namespace:
                self.pa_mesh = mode
            else:
                self.pa_ns[ns] = mode

    def mtls_mode(self, namespace: str, labels: dict[str, str]) -> str:
        """Workload selector > namespace > mesh; ``UNSET`` inherits from the next level."""
        for sel, mode in self.pa_workload.get(namespace, ()):
            if mode != "UNSET" and map_selector_matches(sel, labels):
                return mode
        mode = self.pa_ns.get(namespace, "UNSET")
        if mode != "UNSET":
            return mode
        return self.pa_mesh

    def for_hosts(self, hosts: Iterable[str], namespace: str, labels: dict[str, str]) -> Resilience:
        """Runs once per workload per poll, and most workloads have no Service (no hosts) or
        none that a VirtualService or DestinationRule names: those only need their mTLS
        mode, and get a record without the flags and sorted name lists."""
        mtls_mode = self.mtls_mode(namespace, labels)
        timeout = retries = fault = circuit_breaking = outlier_detection = retry_budget = False
        vs_seen: set[int] = set()
        dr_seen: set[int] = set()
        vs_flags, vs_routes, dr_flags = self.vs_flags, self.vs_routes, self.dr_flags
        for host in hosts:
            for idx in self.vs_by_host.lookup(host):
                vs_seen.add(idx)
                t, r, f = vs_flags[idx]
                timeout |= t
                retries |= r
                fault |= f
            for idx in self.vs_by_dest.lookup(host):
                vs_seen.add(idx)
                for route in vs_routes[idx]:
                    if host in route.destinations:
                        timeout |= route.timeout
                        retries |= route.retries
                        fault |= route.fault
            for idx in self.dr_by_host.lookup(host):
                dr_seen.add(idx)
                cp, od, rb = dr_flags[idx]
                circuit_breaking |= cp
                outlier_detection |= od
                retry_budget |= rb
        if not vs_seen and not dr_seen:
            return Resilience(mtls_mode=mtls_mode)
        return Resilience(
            has_virtualservice=bool(vs_seen),
            has_destinationrule=bool(dr_seen),
            timeout=timeout,
            retries=retries,
            fault=fault,
            circuit_breaking=circuit_breaking,
            outlier_detection=outlier_detection,
            retry_budget=retry_budget,
            mtls_mode=mtls_mode,
            virtualservices=sorted([self.vs_names[i] for i in vs_seen]),
            destinationrules=sorted([self.dr_names[i] for i in dr_seen]),
        )


class ServiceIndex:
    """Services per namespace, indexed by one anchor pair of their selector (its smallest
    key) so that matching a workload costs O(anchor keys of its namespace) — usually one,
    ``app`` — not O(services).  Nearly every selector is that single pair, and then finding
    the service under the workload's value of the key is the match: such entries carry no
    selector to check again."""

    def __init__(self, services: Iterable[dict[str, Any]]) -> None:
        # namespace -> anchor key -> anchor value -> [(name, selector to check, or None)]
        self.by_namespace: dict[
            str, dict[str, dict[str, list[tuple[str, dict[str, Any] | None]]]]
        ] = {}
        for svc in services:
            sel = as_dict(spec_of(svc).get("selector"))
            if not sel:
                continue
            keys = [k for k in sel if isinstance(k, str)]
            if not keys:
                continue
            key = min(keys)
            m = meta(svc)
            by_key = self.by_namespace.setdefault(as_str(m.get("namespace")) or "default", {})
            by_key.setdefault(key, {}).setdefault(as_str(sel[key]), []).append(
                (as_str(m.get("name")), None if len(sel) == 1 else sel)
            )

    def selecting(self, namespace: str, labels: dict[str, str]) -> list[str]:
        by_key = self.by_namespace.get(namespace)
        if by_key is None:
            return []
        found: list[str] = []
        for key in by_key if len(by_key) <= len(labels) else labels:
            by_value = by_key.get(key)
            value = labels.get(key)
            if by_value is None or value is None:
                continue
            for name, sel in by_value.get(value, ()):
                if sel is None or map_selector_matches(sel, labels):
                    found.append(name)
        return sorted(set(found)) if len(found) > 1 else found
