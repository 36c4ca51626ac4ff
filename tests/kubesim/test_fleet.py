"""The fleet generator: determinism, evolution over time, ground truth, scale."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from kubesim import ClusterSpec, Fleet, demo_clusters
from kubesim.spec import NAMESPACE_CLASSES, POD_STATES, SYSTEM_NAMESPACES
from kubesim.testing import running_kubesim
from tests.kubesim.conftest import core


def _proxied(pod: dict) -> bool:
    containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    return any(c["name"] == "istio-proxy" for c in containers)


def test_it_serves_identical_bytes_for_the_same_seed_and_time() -> None:
    bodies = []
    for _ in range(2):
        fleet = Fleet(123)
        with running_kubesim(fleet, start=fleet.start_of_day(45) + timedelta(hours=5)) as sim:
            # no limit: a paged response embeds a continue token, which records when it was issued
            resp = core(sim, "prod-eu").list_pod_for_all_namespaces(_preload_content=False)
            bodies.append(resp.data)
    assert bodies[0] == bodies[1]
    other = Fleet(124)
    with running_kubesim(other, start=other.start_of_day(45)) as sim:
        resp = core(sim, "prod-eu").list_pod_for_all_namespaces(_preload_content=False)
        assert resp.data != bodies[0]


def test_it_is_a_pure_function_of_seed_and_day() -> None:
    a, b = Fleet(5), Fleet(5)
    at = a.start_of_day(70) + timedelta(hours=13)
    b.objects("prod-us", a.start_of_day(20))  # visiting another day first changes nothing
    assert a.objects("prod-us", at) == b.objects("prod-us", at)
    assert a.truth("prod-us", at) == b.truth("prod-us", at)


def test_it_grows_the_share_of_pods_with_a_proxy_over_time() -> None:
    fleet = Fleet(42)
    for cluster in ("prod-eu", "prod-us", "staging"):
        early = fleet.objects(cluster, fleet.start_of_day(0))["pods"]
        late = fleet.objects(cluster, fleet.start_of_day(110))["pods"]
        share_early = sum(map(_proxied, early)) / len(early)
        share_late = sum(map(_proxied, late)) / len(late)
        assert share_late > share_early + 0.1, cluster


def test_it_shows_the_growth_through_the_server_clock() -> None:
    fleet = Fleet(42)
    with running_kubesim(fleet, start=fleet.start_of_day(5)) as sim:
        api = core(sim, "prod-eu")
        before = api.list_pod_for_all_namespaces()
        sim.set_time(fleet.start_of_day(100))
        after = api.list_pod_for_all_namespaces()

    def share(pods):  # type: ignore[no-untyped-def]
        return sum(
            any(
                c.name == "istio-proxy"
                for c in (p.spec.containers or []) + (p.spec.init_containers or [])
            )
            for p in pods.items
        ) / len(pods.items)

    assert share(after) > share(before)


def test_it_has_every_truth_state_over_the_demo_fleets_evolution() -> None:
    fleet = Fleet(42, demo_clusters())
    pod_states: Counter[str] = Counter()
    workload_states: Counter[str] = Counter()
    ns_classes: Counter[str] = Counter()
    for cluster in fleet.cluster_names:
        for day in range(-10, 130, 6):
            for pod in fleet.pods_on(cluster, day):
                pod_states[pod.state] += 1
            for row in fleet.truth(cluster, fleet.start_of_day(day)):
                (ns_classes if row.is_namespace else workload_states)[row.expected_state] += 1
    assert set(pod_states) == set(POD_STATES)
    assert set(ns_classes) == set(NAMESPACE_CLASSES)
    assert {
        "meshed",
        "partial",
        "idle",
        "missing-proxy",
        "opted-out",
        "not-enrolled",
        "ineligible",
    } <= set(workload_states)


def test_it_keeps_truth_consistent_with_the_served_objects() -> None:
    fleet = Fleet(42)
    at = fleet.start_of_day(80)
    for cluster in fleet.cluster_names:
        rows = fleet.truth(cluster, at)
        pods = fleet.objects(cluster, at)["pods"]
        counted = [p for p in pods if p["status"]["phase"] in ("Running", "Pending")]
        assert sum(r.pods_total for r in rows) == len(counted)
        namespaces = {r.name for r in rows if r.is_namespace}
        assert {p["metadata"]["namespace"] for p in pods} <= namespaces
        meshed = sum(r.pods_meshed for r in rows if not r.namespace_system)
        assert 0 < meshed <= sum(r.pods_total for r in rows if not r.namespace_system)
        tribes = {r.tribe for r in rows if r.is_namespace and not r.namespace_system}
        assert None in tribes or len(tribes) >= 3
        for r in rows:
            if r.expected_state == "idle":
                assert r.pods_total == 0
            if r.expected_state == "meshed":
                assert r.pods_meshed == r.pods_total > 0


def test_it_upgrades_istio_and_leaves_proxies_behind() -> None:
    fleet = Fleet(42)
    spec = fleet.spec("prod-eu")
    rows = fleet.truth("prod-eu", fleet.start_of_day(spec.upgrade_day + 3))
    versions = {v for r in rows for v in r.proxy_versions}
    assert set(spec.istio_versions) <= versions
    assert any(r.behind for r in rows)
    istiod = [
        p for p in fleet.objects("prod-eu", fleet.start_of_day(spec.canary_day + 1))["pods"]
        if p["metadata"]["labels"].get("app") == "istiod"
    ]  # fmt: skip
    images = {p["spec"]["containers"][0]["image"].rsplit(":", 1)[1] for p in istiod}
    assert images == {spec.istio_versions[1], spec.canary_version}


def test_it_publishes_injector_webhooks_and_revision_tags() -> None:
    fleet = Fleet(42)
    spec = fleet.spec("prod-eu")
    objs = fleet.objects("prod-eu", fleet.start_of_day(spec.canary_day + 1))
    hooks = {m["metadata"]["name"]: m for m in objs["mutatingwebhookconfigurations"]}
    assert {
        "istio-sidecar-injector",
        f"istio-sidecar-injector-{spec.canary_revision}",
        f"istio-revision-tag-{spec.revision_tag}",
    } <= set(hooks)
    tag = hooks[f"istio-revision-tag-{spec.revision_tag}"]["metadata"]["labels"]
    assert tag == {
        "app": "sidecar-injector",
        "istio.io/rev": spec.canary_revision,
        "istio.io/tag": spec.revision_tag,
    }
    cms = {(c["metadata"]["namespace"], c["metadata"]["name"]) for c in objs["configmaps"]}
    assert ("istio-system", "istio-sidecar-injector") in cms


def test_it_adds_resilience_config_over_time() -> None:
    fleet = Fleet(42)
    early = fleet.objects("prod-eu", fleet.start_of_day(-20))
    late = fleet.objects("prod-eu", fleet.start_of_day(120))
    assert len(late["virtualservices"]) > len(early["virtualservices"])
    assert len(late["destinationrules"]) > len(early["destinationrules"])
    http = [r for vs in late["virtualservices"] for r in vs["spec"]["http"]]
    assert any("timeout" in r for r in http) and any("retries" in r for r in http)
    policies = [dr["spec"]["trafficPolicy"] for dr in late["destinationrules"]]
    assert any("connectionPool" in p for p in policies) and any(
        "outlierDetection" in p for p in policies
    )


def test_it_generates_a_50k_pod_cluster() -> None:
    fleet = Fleet(3, [ClusterSpec(name="huge", pods_target=50_000)])
    day = 60
    pods = fleet.pods_on("huge", day)
    assert 45_000 <= len(pods) <= 60_000
    snap = fleet.snapshot("huge", day)
    first_page = snap.resources["pods"][:500]
    assert all(e.body().startswith(b'{"metadata":') for e in first_page)
    rows = fleet.truth("huge", fleet.start_of_day(day))
    assert sum(r.pods_total for r in rows) == sum(1 for p in pods if p.phase == "Running")


def test_it_serves_a_cluster_without_istio_with_plain_pods() -> None:
    fleet = Fleet(42, demo_clusters(no_istio_cluster=True))
    rows = fleet.truth("dev-sandbox", fleet.start_of_day(100))
    assert {r.expected_state for r in rows if not r.is_namespace} <= {
        "not-enrolled",
        "ineligible",
        "idle",
    }
    assert not any(map(_proxied, fleet.objects("dev-sandbox", fleet.start_of_day(100))["pods"]))


def test_a_completely_enrolled_fleet_has_injected_pods_everywhere_but_where_they_opt_out() -> None:
    """``enrolment="complete"`` (the poll benchmark's fleet): every application namespace has
    sidecar injection from its creation; only opt-outs, system pods and infrastructure stay
    without a proxy, and the truth agrees with the served pods."""
    spec = ClusterSpec(name="all-in", pods_target=1500, enrolment="complete")
    fleet = Fleet(7, [spec])
    at = fleet.start_of_day(60)
    rows = fleet.truth("all-in", at)
    outside = {
        r.namespace
        for r in rows
        if r.is_namespace and r.expected_state not in ("sidecar-default", "sidecar-revision")
    }
    # the cluster's own: system namespaces, `default` and the ingress gateway's
    assert outside <= {*SYSTEM_NAMESPACES, "default", "istio-ingress"}
    assert sum(r.is_namespace for r in rows) > len(outside) + 50
    pods = fleet.objects("all-in", at)["pods"]
    assert sum(map(_proxied, pods)) / len(pods) > 0.75
    gradual = Fleet(7, [ClusterSpec(name="all-in", pods_target=1500)]).objects("all-in", at)
    assert sum(map(_proxied, gradual["pods"])) / len(gradual["pods"]) < 0.6


def test_pods_carry_managed_fields_for_every_container_field() -> None:
    """As an API server writes them: the controller's entry lists the injected istio-proxy's
    fields too (a third or more of an injected pod's JSON)."""
    fleet = Fleet(42)
    pods = fleet.objects("prod-eu", fleet.start_of_day(100))["pods"]
    pod = next(p for p in pods if _proxied(p))
    entry = next(m for m in pod["metadata"]["managedFields"] if m["manager"] != "kubelet")
    spec_fields = entry["fieldsV1"]["f:spec"]
    proxies = [
        fields
        for key in ("f:containers", "f:initContainers")
        for ident, fields in spec_fields.get(key, {}).items()
        if ident == 'k:{"name":"istio-proxy"}'
    ]
    assert len(proxies) == 1 and "f:env" in proxies[0] and "f:image" in proxies[0]
    # and the kubelet reports each container's resources, as v1.33 does
    app = pod["spec"]["containers"][0]
    status = pod["status"]["containerStatuses"][0]
    assert status["name"] == app["name"] and app["resources"]["requests"]
    assert status["resources"] == app["resources"]
    assert status["allocatedResources"] == app["resources"]["requests"]
