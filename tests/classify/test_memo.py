"""Reusing the verdict of a pod whose content was classified before (``Classifier(memo=True)``,
the poller's hot path) gives exactly what classifying every pod in full gives: the same
workloads, namespaces, messages and, when kept, per-pod records — on every Istio fixture, on the
simulated fleet and on random pods, each replicated so that most pods hit the memo."""

from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoption.classify import ClassifyOptions, ClusterObjects
from adoption.classify.cluster import Classifier
from adoption.classify.manifests import load_paths
from adoption.classify.workloads import _NO_COUNTS, synthetic_pod, workload_objects
from adoption.kube import listing
from kubesim.fleet import Fleet
from kubesim.spec import demo_clusters

from .conftest import FIXTURES, app, ns, pod, proxy
from .test_properties import JSONISH, STR_MAPS

FIXTURE_FILES = sorted(
    p
    for p in (FIXTURES / "inject").iterdir()
    if p.suffix in (".yaml", ".injected") and not p.name.endswith(".iop.yaml")
) + sorted((FIXTURES / "analyzers").glob("*.yaml"))


def _replicas(p: dict[str, Any], copies: int, cni: bool = True) -> list[dict[str, Any]]:
    """``copies`` pods with ``p``'s content under other names, creation times and (``cni``)
    per-pod annotations outside Istio's (as a CNI plugin adds them): all but the first hit the
    memo."""
    out = []
    for i in range(copies):
        q = copy.deepcopy(p)
        m = q.setdefault("metadata", {})
        if i:
            m["name"] = f"{m.get('name', 'pod')}-r{i}"
            m["creationTimestamp"] = f"2026-0{1 + i % 9}-01T00:00:00Z"
            annos = m.get("annotations")
            if cni and isinstance(annos, dict):
                annos["cni.projectcalico.org/podIP"] = f"10.0.0.{i}/32"
        out.append(q)
    return out


def _classify(
    objs: ClusterObjects, memo: bool, keep_pods: bool = True, page: int = 7
) -> tuple[Any, Classifier]:
    c = Classifier(
        dataclasses.replace(objs, pods=[]), ClassifyOptions(), keep_pods=keep_pods, memo=memo
    )
    for start in range(0, len(objs.pods), page):
        c.add_pods(objs.pods[start : start + page])
    return c.finish(), c


def _view(res: Any) -> Any:
    return (
        [dataclasses.asdict(w) for w in res.workloads],
        [dataclasses.asdict(n) for n in res.namespaces],
        [m.as_dict() | {"workload": m.workload} for m in res.messages],
        res.control_planes,
        sorted(
            (dataclasses.asdict(p) for p in res.pods), key=lambda p: (p["namespace"], p["name"])
        ),
    )


def _assert_same(objs: ClusterObjects, *, min_hits: int = 1) -> None:
    for keep_pods in (True, False):
        full, _ = _classify(objs, memo=False, keep_pods=keep_pods)
        memo, c = _classify(objs, memo=True, keep_pods=keep_pods)
        assert _view(memo) == _view(full)
        assert c.memo_hits >= min_hits


def _with_template_pods(objs: ClusterObjects, copies: int) -> ClusterObjects:
    """The fixture's pods and a pod per workload template, owned by it, each replicated."""
    pods = [q for p in objs.pods for q in _replicas(p, copies)]
    for _, kind, name, obj in workload_objects(objs.workloads_by_kind()):
        p = synthetic_pod(obj, kind)
        p["metadata"]["ownerReferences"] = [{"kind": kind, "name": name, "controller": True}]
        p["status"] = {"phase": "Running"}
        pods += _replicas(p, copies)
    return dataclasses.replace(objs, pods=pods)


@functools.cache
def _fleet_objects(day: int = 150) -> dict[str, Any]:
    """The demo fleet's first cluster on ``day`` (read-only: the classifier modifies nothing)."""
    fleet = Fleet(42, demo_clusters())
    return fleet.objects(fleet.cluster_names[0], fleet.start_of_day(day))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_memo_changes_nothing_on_the_istio_fixtures(path: Path) -> None:
    objs = _with_template_pods(load_paths([str(path)]), copies=4)
    _assert_same(objs, min_hits=0)  # pods with analyzer findings are classified one by one


@pytest.mark.parametrize("day", [3, 40, 150])
def test_the_memo_changes_nothing_on_the_simulated_fleet(day: int) -> None:
    raw = _fleet_objects(day)
    fields = {f.name for f in dataclasses.fields(ClusterObjects)}
    objs = ClusterObjects(
        **{k: v for k, v in raw.items() if k in fields},
        webhooks=raw.get("mutatingwebhookconfigurations", []),
        istio={k: v for k, v in raw.items() if k not in fields},
    )
    assert len(objs.pods) > 100
    # whole pod objects (as an untyped page gives them): per-pod fields such as nodeName make
    # most keys unique, and the result is the same
    _assert_same(objs, min_hits=0)
    # as the poll decodes them (`listing.decode_pods`: the classifier's fields only), the pods
    # of one ReplicaSet share their content and most pods reuse a verdict
    typed = listing.decode_pods(msgspec.json.encode({"items": objs.pods})).items or []
    _assert_same(dataclasses.replace(objs, pods=typed), min_hits=len(typed) // 3)
    assert _NO_COUNTS == {}  # the aggregates' shared empty tally is never written to


def test_pods_with_analyzer_findings_are_reported_one_by_one() -> None:
    """IST0103 names every pod missing its proxy, memo or not."""
    objs = ClusterObjects(
        namespaces=[ns("shop", **{"istio-injection": "enabled"})],
        pods=_replicas(pod("web-abc-1", "shop", owner=("ReplicaSet", "web-abc")), 5)
        + _replicas(pod("api-1", "shop", containers=[proxy()], owner=("ReplicaSet", "api")), 5),
    )
    _assert_same(objs)
    memo, c = _classify(objs, memo=True)
    assert sum(m.code == "IST0103" for m in memo.messages) == 5
    assert c.memo_hits == 4  # the five meshed pods: one classified, four reused


def test_a_pod_is_keyed_by_what_its_verdict_depends_on_only() -> None:
    c = Classifier(ClusterObjects(namespaces=[ns("shop")]), ClassifyOptions())
    key = c.content_key
    p = pod("a", "shop", labels={"app": "a"}, annotations={"sidecar.istio.io/inject": "true"})
    assert c.annotation_keys == ()
    c.add_pods([p])  # its verdict reads the inject annotation (and label): both join the key
    assert "sidecar.istio.io/inject" in c.annotation_keys
    assert "sidecar.istio.io/inject" in c.label_keys
    q = _replicas(p, 2)[1]
    assert key(p) == key(q)  # name, time, CNI annotation differ
    q["metadata"]["labels"]["app"] = "b"
    q["spec"]["containers"][0]["image"] = "b:2"
    assert key(p) == key(q)  # another application: same verdict
    q["metadata"]["labels"]["app"] = "istiod"
    assert key(p) != key(q)  # rule P1
    q = _replicas(p, 2)[1]
    q["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    assert key(p) != key(q)
    q = _replicas(p, 2)[1]
    q["spec"]["containers"].append(proxy())
    assert key(p) != key(q)
    assert key({"metadata": ["odd"]}) is None
    assert key({"metadata": {"labels": ["odd"]}}) is None
    # a key read but absent differs from one present with a null value (`str_map` makes it "")
    q = _replicas(p, 2)[1]
    q["metadata"]["annotations"].pop("sidecar.istio.io/inject")
    r = _replicas(q, 2)[1]
    r["metadata"]["annotations"]["sidecar.istio.io/inject"] = None
    assert key(q) != key(r)


def test_a_label_read_by_a_verdict_joins_the_key() -> None:
    """A webhook selecting pods by ``team`` makes ``team`` part of the key."""
    webhook = {
        "metadata": {"name": "istio-sidecar-injector"},
        "webhooks": [
            {
                "name": "object.sidecar-injector.istio.io",
                "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
                "objectSelector": {"matchLabels": {"team": "blue"}},
            }
        ],
    }
    pods = [pod(f"p{i}", "shop", labels={"team": "blue" if i % 2 else "red"}) for i in range(8)]
    objs = ClusterObjects(namespaces=[ns("shop")], pods=pods, webhooks=[webhook])
    _assert_same(objs)
    _, c = _classify(objs, memo=True)
    assert "team" in c.label_keys
    assert sum(p.injection_expected for p in _classify(objs, memo=True)[0].pods) == 4


POD_SHAPES = st.fixed_dictionaries(
    {
        "labels": STR_MAPS,
        "annotations": STR_MAPS,
        "proxy": st.sampled_from([None, "docker.io/istio/proxyv2:1.22.1", "auto", ""]),
        "init": st.booleans(),
        "host": st.booleans(),
        "phase": st.sampled_from(["Running", "Succeeded", "Pending"]),
        "owner": st.sampled_from([None, ("ReplicaSet", "web-abc"), ("Job", "batch-1")]),
        "ns": st.sampled_from(["injected", "ambient", "plain", "istio-system"]),
        "extra": JSONISH,
    }
)


def _shaped(i: int, shape: dict[str, Any]) -> dict[str, Any]:
    conts: list[dict[str, Any]] = [{"name": "app", "image": "app:1", "env": shape["extra"]}]
    init: list[dict[str, Any]] = []
    if shape["proxy"] is not None:
        c = proxy(shape["proxy"], securityContext={"runAsUser": 1337})
        (init if shape["init"] else conts).append(c | {"restartPolicy": "Always"})
    return pod(
        f"p{i}",
        shape["ns"],
        labels=shape["labels"],
        annotations=shape["annotations"],
        containers=conts,
        init=init or None,
        host_network=shape["host"],
        phase=shape["phase"],
        owner=shape["owner"],
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(POD_SHAPES, min_size=1, max_size=6), st.integers(min_value=1, max_value=4))
def test_the_memo_changes_nothing_on_random_pods(shapes: list[dict[str, Any]], copies: int) -> None:
    pods = [q for i, s in enumerate(shapes) for q in _replicas(_shaped(i, s), copies)]
    objs = ClusterObjects(
        namespaces=[
            ns("injected", **{"istio-injection": "enabled"}),
            ns("ambient", **{"istio.io/dataplane-mode": "ambient"}),
            ns("plain"),
            ns("istio-system"),
        ],
        pods=pods,
    )
    _assert_same(objs, min_hits=0)


def _clones(p: dict[str, Any], copies: int) -> list[dict[str, Any]]:
    """``copies`` pods alike in all but their name and creation time, one after another: the
    pods of one ReplicaSet as the API server lists them."""
    return _replicas(p, copies, cni=False)


def _decoded(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return listing.decode_pods(msgspec.json.encode({"items": pods})).items or []


def test_the_pods_of_one_replicaset_share_their_decoded_content_and_verdict() -> None:
    rs = {"labels": {"app": "web", "pod-template-hash": "abc"}, "owner": ("ReplicaSet", "web-abc")}
    meshed = pod("web-abc-1", "shop", containers=[proxy()], **rs)
    missing = pod("api-x-1", "shop", labels={"app": "api"}, owner=("ReplicaSet", "api-x"))
    bare = pod("solo", "shop")  # no owner: each such pod is a workload of its own
    istiod = pod("istiod-1", "shop", labels={"app": "istiod"}, owner=("ReplicaSet", "istiod-1"))
    pods = _clones(meshed, 5) + _clones(missing, 3) + _clones(bare, 2) + _clones(istiod, 2)
    page = _decoded(pods)
    assert page[1]["spec"] is page[0]["spec"] and page[1]["metadata"] is not page[0]["metadata"]
    assert page[1]["metadata"]["labels"] is page[0]["metadata"]["labels"]
    assert [p["metadata"]["name"] for p in page[:2]] == ["web-abc-1", "web-abc-1-r1"]
    assert page[1]["metadata"]["creationTimestamp"] == "2026-02-01T00:00:00Z"
    assert page[5]["spec"] is not page[4]["spec"]  # another ReplicaSet

    objs = ClusterObjects(namespaces=[ns("shop", **{"istio-injection": "enabled"})], pods=page)
    _assert_same(objs)
    result, c = _classify(objs, memo=True, keep_pods=False, page=100)
    workloads = {(w.kind, w.name): w for w in result.workloads}
    assert workloads[("ReplicaSet", "web-abc")].pods_meshed == 5
    assert workloads[("ReplicaSet", "api-x")].pods_missing == 3
    assert {("Pod", "solo"), ("Pod", "solo-r1")} <= set(workloads)
    ist0103 = {m.resource for m in result.messages if m.code == "IST0103"}
    assert {"Pod shop/api-x-1", "Pod shop/api-x-1-r1", "Pod shop/api-x-1-r2"} <= ist0103
    assert len(c.istiod) == 2
    assert c.memo_hits >= 4


def test_a_page_with_values_of_another_type_is_decoded_as_it_is() -> None:
    """``hostNetwork: 1`` is not the API's boolean: the page falls back to the untyped decode,
    nothing is shared, and ``1`` reaches the classifier as given (it is not ``True``)."""
    odd = pod("web-abc-1", "shop", owner=("ReplicaSet", "web-abc"))
    odd["spec"]["hostNetwork"] = 1
    page = _decoded(_clones(odd, 3))
    assert page[0]["spec"]["hostNetwork"] == 1 and page[0]["spec"]["hostNetwork"] is not True
    assert page[1]["spec"] is not page[0]["spec"]
    _assert_same(ClusterObjects(namespaces=[ns("shop")], pods=page), min_hits=0)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_decoded_runs_of_alike_pods_change_nothing_on_the_istio_fixtures(path: Path) -> None:
    objs = _with_template_pods(load_paths([str(path)]), copies=1)
    pods = _decoded([q for p in objs.pods for q in _clones(p, 3)])
    _assert_same(dataclasses.replace(objs, pods=pods), min_hits=0)


# Namespaces in twos alike in all but their name (a verdict may be shared between the two), and
# ones the rules read more of: the root namespace, a system one, one with a ProxyConfig of its
# own (IST0158's image variant), one only known through its pods.
TWIN_NAMESPACES = [
    ns("shop-a", **{"istio-injection": "enabled", "tribe": "a"}),
    ns("shop-b", **{"istio-injection": "enabled", "tribe": "b"}),
    ns("tagged-a", **{"istio.io/rev": "prod"}),
    ns("tagged-b", **{"istio.io/rev": "prod"}),
    ns("canary-a", **{"istio.io/rev": "1-28-0"}),
    ns("canary-b", **{"istio.io/rev": "1-28-0"}),
    ns("mesh-a", **{"istio.io/dataplane-mode": "ambient"}),
    ns("mesh-b", **{"istio.io/dataplane-mode": "ambient"}),
    ns("plain-a"),
    ns("plain-b"),
    ns("off-a", **{"istio-injection": "disabled"}),
    ns("distroless", **{"istio-injection": "enabled"}),
    ns("istio-system"),
    ns("kube-system"),
]
NAMESPACE_NAMES = [n["metadata"]["name"] for n in TWIN_NAMESPACES] + ["undeclared"]
DISTROLESS = {
    "kind": "ProxyConfig",
    "metadata": {"name": "images", "namespace": "distroless"},
    "spec": {"image": {"imageType": "distroless"}},
}


def _in_twin_namespaces(pods: list[dict[str, Any]]) -> ClusterObjects:
    """``pods`` in `TWIN_NAMESPACES`, with the demo fleet's injector webhooks and ConfigMaps."""
    raw = _fleet_objects()
    return ClusterObjects(
        namespaces=TWIN_NAMESPACES,
        pods=pods,
        configmaps=raw["configmaps"],
        webhooks=raw["mutatingwebhookconfigurations"],
        istio={"proxyconfigs": [DISTROLESS]},
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(POD_SHAPES, st.lists(st.sampled_from(NAMESPACE_NAMES), min_size=1, max_size=4)),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_pods_alike_in_namespaces_alike_share_a_verdict_and_change_nothing(
    shapes: list[tuple[dict[str, Any], list[str]]], copies: int
) -> None:
    """With the fleet's injector webhooks (namespace selectors on injection labels), a pod
    template deployed to many namespaces: the memo's verdicts cross namespaces of one class and
    the result is what classifying every pod in full gives."""
    pods = [
        q
        for i, (shape, namespaces) in enumerate(shapes)
        for namespace in namespaces
        for q in _replicas(_shaped(i, shape | {"ns": namespace}), copies)
    ]
    objs = _in_twin_namespaces(pods)
    _assert_same(objs, min_hits=0)


def test_a_verdict_crosses_namespaces_of_one_class_only() -> None:
    template = pod("web-1", "x", containers=[app(), proxy()], owner=("ReplicaSet", "web-1"))
    pods = [
        dict(template, metadata=dict(template["metadata"], namespace=n)) for n in NAMESPACE_NAMES
    ]
    objs = _in_twin_namespaces(pods)
    _assert_same(objs, min_hits=1)
    result, c = _classify(objs, memo=True, keep_pods=False)
    token = c.namespace_token
    assert token("shop-a") == token("shop-b") != token("tagged-a") == token("tagged-b")
    assert token("canary-a") == token("canary-b") != token("tagged-a")
    assert token("plain-a") == token("plain-b") != token("off-a")
    assert token("mesh-a") == token("mesh-b")
    for own in ("istio-system", "kube-system", "distroless"):
        assert token(own) == own
    # each record stands in its own namespace
    assert {w.namespace for w in result.workloads} == set(NAMESPACE_NAMES)
