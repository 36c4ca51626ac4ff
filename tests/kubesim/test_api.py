"""Discovery, auth, selectors and object shapes, through the real kubernetes client."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubesim.testing import Sim
from tests.kubesim.conftest import api_client, core, raw


def test_it_rejects_a_wrong_token_with_401(sim: Sim, tmp_path: Path) -> None:
    doc = yaml.safe_load(sim.kubeconfig_path.read_text())
    for user in doc["users"]:
        user["user"]["token"] = "not-the-token"
    (tmp_path / "kc").write_text(yaml.safe_dump(doc))
    api = config.new_client_from_config(config_file=str(tmp_path / "kc"), context="prod-eu")
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 401
    assert json.loads(err.value.body)["reason"] == "Unauthorized"


def test_it_does_not_accept_another_clusters_token(sim: Sim) -> None:
    req = urllib.request.Request(
        f"{sim.cluster_url('prod-eu')}/api/v1/namespaces",
        headers={"Authorization": f"Bearer {sim.token('prod-us')}"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 401
    assert err.value.headers["Content-Type"] == "application/json"


def test_it_refuses_writes_with_405(sim: Sim) -> None:
    body = {"metadata": {"name": "new-ns"}}
    with pytest.raises(ApiException) as err:
        core(sim, "prod-eu").create_namespace(body)
    assert err.value.status == 405


def test_it_serves_istio_groups_with_preferred_versions(sim: Sim) -> None:
    groups = {
        g.name: g for g in client.ApisApi(api_client(sim, "prod-eu")).get_api_versions().groups
    }
    net, sec = groups["networking.istio.io"], groups["security.istio.io"]
    assert net.preferred_version.version == "v1"
    assert [v.version for v in net.versions] == ["v1", "v1beta1", "v1alpha3"]
    assert sec.preferred_version.version == "v1"
    assert {"apps", "batch", "admissionregistration.k8s.io", "metrics.k8s.io"} <= set(groups)
    custom = client.CustomObjectsApi(api_client(sim, "prod-eu"))
    for version in ("v1", "v1beta1", "v1alpha3"):
        vs = custom.list_cluster_custom_object("networking.istio.io", version, "virtualservices")
        assert vs["apiVersion"] == f"networking.istio.io/{version}"
        assert vs["kind"] == "VirtualServiceList"
    pas = custom.list_cluster_custom_object("security.istio.io", "v1", "peerauthentications")
    assert any(p["metadata"]["namespace"] == "istio-system" for p in pas["items"])


def test_it_returns_404_for_istio_groups_on_a_cluster_without_istio(sim: Sim) -> None:
    api = api_client(sim, "dev-sandbox")
    names = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert "networking.istio.io" not in names and "security.istio.io" not in names
    with pytest.raises(ApiException) as err:
        client.CustomObjectsApi(api).list_cluster_custom_object(
            "networking.istio.io", "v1", "virtualservices"
        )
    assert err.value.status == 404
    assert json.loads(err.value.body)["reason"] == "NotFound"


def test_it_omits_the_metrics_api_where_it_is_not_served(sim: Sim) -> None:
    names = {g.name for g in client.ApisApi(api_client(sim, "staging")).get_api_versions().groups}
    assert "metrics.k8s.io" not in names
    metrics = client.CustomObjectsApi(api_client(sim, "prod-eu")).list_cluster_custom_object(
        "metrics.k8s.io", "v1beta1", "pods"
    )
    assert metrics["kind"] == "PodMetricsList"
    usage = metrics["items"][0]["containers"][0]["usage"]
    assert usage["cpu"].endswith("n") and usage["memory"].endswith("Ki")


def test_it_serves_discovery_resource_lists(sim: Sim) -> None:
    api = api_client(sim, "prod-eu")
    core_res = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"namespaces", "pods", "services", "configmaps"} <= core_res
    apps = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
    assert apps == {"deployments", "statefulsets", "daemonsets", "replicasets"}
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")


def test_it_filters_by_label_selector(sim: Sim) -> None:
    api = core(sim, "prod-eu")
    pods = sim.fleet.objects("prod-eu", sim.now())["pods"]
    squad = next(
        p["metadata"]["labels"]["squad"] for p in pods if "squad" in p["metadata"]["labels"]
    )
    expected = [
        p["metadata"]["name"] for p in pods if p["metadata"]["labels"].get("squad") == squad
    ]
    got = raw(
        api.list_pod_for_all_namespaces(label_selector=f"squad={squad}", _preload_content=False)
    )
    assert [i["metadata"]["name"] for i in got["items"]] == expected

    other = raw(
        api.list_pod_for_all_namespaces(label_selector=f"squad!={squad}", _preload_content=False)
    )
    assert len(other["items"]) == len(pods) - len(expected)
    both = raw(
        api.list_pod_for_all_namespaces(
            label_selector=f"squad in ({squad},nobody),!sidecar.istio.io/inject",
            _preload_content=False,
        )
    )
    assert {i["metadata"]["name"] for i in both["items"]} <= set(expected)
    exists = raw(api.list_pod_for_all_namespaces(label_selector="squad", _preload_content=False))
    assert all("squad" in i["metadata"]["labels"] for i in exists["items"])


def test_it_filters_by_field_selector(sim: Sim) -> None:
    api = core(sim, "prod-eu")
    running = raw(
        api.list_pod_for_all_namespaces(
            field_selector="status.phase=Running", _preload_content=False
        )
    )
    assert running["items"] and all(i["status"]["phase"] == "Running" for i in running["items"])
    name = running["items"][0]["metadata"]["name"]
    one = raw(
        api.list_pod_for_all_namespaces(
            field_selector=f"metadata.name={name}", _preload_content=False
        )
    )
    assert [i["metadata"]["name"] for i in one["items"]] == [name]
    ks = raw(
        api.list_pod_for_all_namespaces(
            field_selector="metadata.namespace=kube-system", _preload_content=False
        )
    )
    assert {i["metadata"]["namespace"] for i in ks["items"]} == {"kube-system"}


def test_it_returns_partial_object_metadata_lists(sim: Sim) -> None:
    apps = client.AppsV1Api(api_client(sim, "prod-eu"))
    resp = apps.list_replica_set_for_all_namespaces(
        limit=5,
        _headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"},
        _preload_content=False,
    )
    doc = json.loads(resp.data)
    assert doc["kind"] == "PartialObjectMetadataList"
    assert doc["apiVersion"] == "meta.k8s.io/v1"
    assert len(doc["items"]) == 5 and doc["metadata"]["continue"]
    item = doc["items"][0]
    assert set(item) == {"kind", "apiVersion", "metadata"}
    assert item["metadata"]["ownerReferences"][0]["kind"] == "Deployment"


def test_it_gets_single_objects_with_kind(sim: Sim) -> None:
    api = core(sim, "prod-eu")
    ns = api.read_namespace("kube-system")
    assert ns.metadata.name == "kube-system"
    pods = raw(api.list_namespaced_pod("istio-system", _preload_content=False))["items"]
    one = raw(
        api.read_namespaced_pod(pods[0]["metadata"]["name"], "istio-system", _preload_content=False)
    )
    assert one["kind"] == "Pod" and one["apiVersion"] == "v1"
    with pytest.raises(ApiException) as err:
        api.read_namespaced_pod("nope", "istio-system")
    assert err.value.status == 404


def test_it_links_pods_to_their_owners(sim: Sim) -> None:
    objs = sim.fleet.objects("prod-eu", sim.now())
    uids = {
        o["metadata"]["uid"]: o
        for k in ("replicasets", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")
        for o in objs[k]
    }
    for pod in objs["pods"]:
        for ref in pod["metadata"].get("ownerReferences", []):
            owner = uids[ref["uid"]]
            assert (owner["kind"], owner["metadata"]["name"]) == (ref["kind"], ref["name"])
    for rs in objs["replicasets"]:
        assert uids[rs["metadata"]["ownerReferences"][0]["uid"]]["kind"] == "Deployment"


def test_it_serves_realistic_injected_pods(sim: Sim) -> None:
    pods = sim.fleet.objects("prod-eu", sim.fleet.start_of_day(100))["pods"]
    native = [
        p
        for p in pods
        for c in p["spec"].get("initContainers", [])
        if c["name"] == "istio-proxy" and c.get("restartPolicy") == "Always"
    ]
    assert native
    pod = native[0]
    proxy = next(c for c in pod["spec"]["initContainers"] if c["name"] == "istio-proxy")
    assert proxy["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert proxy["image"].startswith("docker.io/istio/proxyv2:1.")
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert "istio-proxy" in status["initContainers"]
    assert pod["status"]["phase"] == "Running" and pod["status"]["containerStatuses"]
    assert len(json.dumps(pod)) > 8000
