"""Workload resolution (DESIGN §3), proxy overhead, resilience (section 10) and speed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from adoption.classify import ClassifyOptions, ClusterObjects, classify_cluster

from .conftest import FIXTURES, app, ns, pod, proxy

ENABLED = {"istio-injection": "enabled"}


def _docs(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FIXTURES / path).read_text()) if d]


def _meta_only(
    kind: str, name: str, owner: tuple[str, str] | None, namespace: str = "shop"
) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner:
        m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"kind": kind, "metadata": m}


def test_it_resolves_owners_through_replicasets_and_jobs() -> None:
    objs = ClusterObjects(
        namespaces=[ns("shop", **ENABLED)],
        pods=[
            pod("web-6d4-x", "shop", owner=("ReplicaSet", "web-6d4"), containers=[app(), proxy()]),
            pod("nightly-123-x", "shop", owner=("Job", "nightly-123"), phase="Succeeded"),
            pod("db-0", "shop", owner=("StatefulSet", "db"), containers=[app(), proxy()]),
            pod("bare", "shop"),
        ],
        replicasets=[_meta_only("ReplicaSet", "web-6d4", ("Deployment", "web"))],
        jobs=[_meta_only("Job", "nightly-123", ("CronJob", "nightly"))],
    )
    got = {(w.kind, w.name): w.state for w in classify_cluster(objs).workloads}
    assert got == {
        ("Deployment", "web"): "meshed",
        ("CronJob", "nightly"): "idle",
        ("StatefulSet", "db"): "meshed",
        ("Pod", "bare"): "missing-proxy",
    }


def test_it_falls_back_to_the_pod_owner_when_the_replicaset_is_unknown() -> None:
    p1 = pod("a-1", "shop", owner=("ReplicaSet", "api-7f9"), labels={"pod-template-hash": "7f9"})
    p2 = pod("b-1", "shop", owner=("ReplicaSet", "web-5c5"), labels={"pod-template-hash": "5c5"})
    dep = {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"metadata": {"labels": {"squad": "blue"}}}},
    }
    objs = ClusterObjects(namespaces=[ns("shop")], pods=[p1, p2], deployments=[dep])
    got = {(w.kind, w.name): w for w in classify_cluster(objs).workloads}
    assert set(got) == {("ReplicaSet", "api-7f9"), ("Deployment", "web")}  # verified strip only
    assert got[("Deployment", "web")].labels == {"squad": "blue"}


def test_it_shows_zero_pod_workloads_as_idle_never_meshed() -> None:
    dep = {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}}},
    }
    res = classify_cluster(ClusterObjects(namespaces=[ns("shop", **ENABLED)], deployments=[dep]))
    (w,) = res.workloads
    assert (w.state, w.pods_total, w.pods_meshed) == ("idle", 0, 0)
    assert "MB0002" in w.diagnostics
    (n,) = res.namespaces
    assert (n.workloads_total, n.pods_total) == (0, 0)


def test_it_aggregates_partial_workloads_with_counts_overhead_and_age() -> None:
    owner = ("ReplicaSet", "web-1")
    res_proxy = proxy(
        resources={
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        }
    )
    pods = [
        pod("w1", "shop", owner=owner, containers=[app(), res_proxy]),
        pod("w2", "shop", owner=owner, containers=[app(), res_proxy]),
        pod("w3", "shop", owner=owner, created="2026-05-01T00:00:00Z"),
        pod("w4", "shop", owner=owner, phase="Failed"),
    ]
    res = classify_cluster(
        ClusterObjects(
            namespaces=[ns("shop", **ENABLED)],
            pods=pods,
            replicasets=[_meta_only("ReplicaSet", "web-1", ("Deployment", "web"))],
        )
    )
    (w,) = res.workloads
    assert (w.state, w.pods_total, w.pods_meshed, w.pods_missing) == ("partial", 3, 2, 1)
    assert w.pods_by_state == {"missing-proxy": 1, "sidecar": 2}
    assert (w.proxy_cpu_request_m, w.proxy_cpu_limit_m) == (200, 4000)
    assert (w.proxy_memory_request_b, w.proxy_memory_limit_b) == (256 * 2**20, 2 * 2**30)
    assert w.missing_since == datetime(2026, 5, 1, tzinfo=UTC)
    assert w.mesh_mode == "sidecar" and w.injection_expected
    (n,) = res.namespaces
    assert (n.klass, n.pods_total, n.pods_meshed, n.workloads_total, n.workloads_meshed) == (
        "sidecar-default",
        3,
        2,
        1,
        0,
    )


def test_it_reports_mixed_mesh_modes() -> None:
    owner = ("DaemonSet", "agent")
    native = {"name": "istio-proxy", "image": "x/proxyv2:1.27.1", "restartPolicy": "Always"}
    pods = [
        pod("a", "shop", owner=owner, containers=[app(), proxy()]),
        pod("b", "shop", owner=owner, init=[native]),
    ]
    (w,) = classify_cluster(ClusterObjects(namespaces=[ns("shop", **ENABLED)], pods=pods)).workloads
    assert (w.state, w.mesh_mode) == ("meshed", "mixed")


def _bookinfo_objects(*extra: str) -> ClusterObjects:
    docs: list[dict[str, Any]] = []
    for path in extra:
        docs += _docs(path)
    istio: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        plural = {
            "VirtualService": "virtualservices",
            "DestinationRule": "destinationrules",
            "PeerAuthentication": "peerauthentications",
        }.get(d["kind"])
        if plural:
            d.setdefault("metadata", {}).setdefault("namespace", "default")
            istio.setdefault(plural, []).append(d)
    services, pods = [], []
    for name in ("ratings", "reviews", "productpage", "details", "destall"):
        services.append(
            {
                "kind": "Service",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": {"app": name}},
            }
        )
        pods.append(
            pod(
                f"{name}-1",
                "default",
                labels={"app": name, "version": "v1"},
                containers=[app(), proxy()],
            )
        )
    return ClusterObjects(
        namespaces=[ns("default", **ENABLED)], pods=pods, services=services, istio=istio
    )


def _by_name(objs: ClusterObjects) -> dict[str, Any]:
    return {w.name: w for w in classify_cluster(objs).workloads}


def test_it_detects_fault_injection_by_short_host_name() -> None:
    w = _by_name(_bookinfo_objects("networking/bookinfo/virtual-service-ratings-test-delay.yaml"))
    assert w["ratings-1"].has_virtualservice and w["ratings-1"].fault
    assert not w["reviews-1"].has_virtualservice
    assert w["ratings-1"].services == ["ratings"]


def test_it_detects_connection_pool_and_outlier_detection_at_any_level() -> None:
    w = _by_name(_bookinfo_objects("networking/tests-testdata-config/destination-rule-all.yaml"))
    assert w["destall-1"].has_destinationrule  # FQDN host in another namespace
    assert w["destall-1"].circuit_breaking and w["destall-1"].outlier_detection
    w = _by_name(_bookinfo_objects("networking/bookinfo/destination-rule-all.yaml"))
    assert w["reviews-1"].has_destinationrule and not w["reviews-1"].circuit_breaking


def test_it_counts_only_explicit_retries_and_timeouts() -> None:
    vs = {
        "kind": "VirtualService",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {
            "hosts": ["reviews"],
            "http": [
                {
                    "timeout": "2s",
                    "retries": {"attempts": 3},
                    "route": [{"destination": {"host": "reviews"}}],
                }
            ],
        },
    }
    off = {
        "kind": "VirtualService",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "hosts": ["details.default.svc.cluster.local"],
            "http": [{"retries": {"attempts": 0}, "route": [{"destination": {"host": "details"}}]}],
        },
    }
    mesh_dr = {
        "kind": "DestinationRule",
        "metadata": {"name": "all", "namespace": "istio-system"},
        "spec": {
            "host": "*.local",
            "trafficPolicy": {
                "portLevelSettings": [
                    {"port": {"number": 80}, "outlierDetection": {"consecutive5xxErrors": 5}}
                ]
            },
        },
    }
    objs = _bookinfo_objects()
    objs.istio = {"virtualservices": [vs, off], "destinationrules": [mesh_dr]}
    w = _by_name(objs)
    assert (w["reviews-1"].timeout, w["reviews-1"].retries) == (True, True)
    assert (w["details-1"].has_virtualservice, w["details-1"].retries) == (True, False)
    assert all(x.outlier_detection for x in w.values())  # mesh-wide DR in the root namespace


def test_it_resolves_mtls_mode_from_peer_authentications() -> None:
    def pa(
        name: str, namespace: str, mode: str, selector: dict[str, str] | None = None
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"mtls": {"mode": mode}}
        if selector:
            spec["selector"] = {"matchLabels": selector}
        return {
            "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }

    objs = _bookinfo_objects()
    objs.istio = {
        "peerauthentications": [
            pa("mesh", "istio-system", "STRICT"),
            pa("ns", "default", "UNSET"),
            pa("w", "default", "PERMISSIVE", {"app": "ratings"}),
        ]
    }
    w = _by_name(objs)
    assert (w["ratings-1"].mtls_mode, w["reviews-1"].mtls_mode) == ("PERMISSIVE", "STRICT")


def test_it_classifies_50k_pods_at_scale() -> None:
    """Scale, not speed: 50k pods classify without error (timings live in benchmarks/)."""
    namespaces = [
        ns(f"ns{i}", **(ENABLED if i % 2 else {"istio.io/dataplane-mode": "ambient"}))
        for i in range(500)
    ]
    pods, rss, services = [], [], []
    for i in range(50_000):
        n = f"ns{i % 500}"
        w = f"w{i % 5000}"
        rs = f"{w}-abc"
        pods.append(
            pod(
                f"{w}-{i}",
                n,
                owner=("ReplicaSet", rs),
                labels={"app": w, "pod-template-hash": "abc"},
                containers=[app(), proxy()] if i % 3 else [app()],
                annotations={"ambient.istio.io/redirection": "enabled"} if i % 7 == 0 else {},
            )
        )
        if i < 5000:
            rss.append(_meta_only("ReplicaSet", rs, ("Deployment", w), n))
            services.append(
                {"metadata": {"name": w, "namespace": n}, "spec": {"selector": {"app": w}}}
            )
    objs = ClusterObjects(namespaces=namespaces, pods=pods, replicasets=rss, services=services)
    res = classify_cluster(objs, ClassifyOptions())
    assert len(res.pods) == 50_000
    assert sum(w.pods_total for w in res.workloads) == 50_000
