"""The streamed poll: pods decoded with the typed schema and folded page by page into the
incremental classifier store exactly what the untyped, all-pods-in-memory path stores; a 410 in
the middle of the pod list counts nothing twice; memory does not grow with the pod count."""

from __future__ import annotations

import dataclasses
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from adoption import capacity, collect
from adoption.classify import ClassifyOptions, ClusterObjects, classify_cluster
from adoption.classify.cluster import Classifier
from adoption.classify.workloads import OwnerTable
from adoption.kube import listing
from adoption.models import SnapshotStatus, WorkloadObservation
from kubesim.fleet import Fleet
from kubesim.spec import demo_clusters

from .conftest import SIM_TIME


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    return sorted((vars(r) for r in rows), key=lambda r: sorted((k, str(v)) for k, v in r.items()))


@pytest.mark.django_db
def test_streamed_typed_poll_stores_what_the_untyped_whole_list_poll_stores(  # type: ignore[no-untyped-def]
    sim, cluster, settings, monkeypatch
):
    settings.MESHBOARD_KUBE_PAGE_SIZE = 13
    read, result, workloads, namespaces = collect.read_and_classify(cluster, SIM_TIME)
    assert read.objects["pods"] == [] and result.pods == []  # nothing kept per pod

    # the reference: untyped decode of every list, every pod in memory, classify_cluster on the
    # whole list
    monkeypatch.setattr(listing, "decode_pods", listing._decoder.decode)
    monkeypatch.setattr(listing, "decode_objects", listing._decoder.decode)
    monkeypatch.setattr(listing, "decode_services", listing._decoder.decode)
    monkeypatch.setattr(listing, "decode_owners", listing._decoder.decode)
    whole = collect.read_cluster(cluster)
    assert len(whole.objects["pods"]) > 13
    ref_result, ref_workloads, ref_namespaces = collect.classify_read(cluster, whole, SIM_TIME)

    assert _rows(workloads) == _rows(ref_workloads)
    assert _rows(namespaces) == _rows(ref_namespaces)
    assert result.control_planes == ref_result.control_planes
    assert [m.as_dict() for m in result.messages] == [m.as_dict() for m in ref_result.messages]
    assert read.capacity() == whole.capacity()
    assert read.stats.objects == whole.stats.objects


@pytest.mark.django_db
def test_a_410_in_the_middle_of_the_streamed_pod_list_counts_nothing_twice(  # type: ignore[no-untyped-def]
    sim, cluster, settings
):
    settings.MESHBOARD_KUBE_PAGE_SIZE = 11
    clean = collect.snapshot_cluster(cluster, started_at=SIM_TIME)
    assert clean.status == SnapshotStatus.OK, clean.error
    sim.add_fault("410", cluster=cluster.name, resource="pods", count=1, after_pages=3)

    snap = collect.snapshot_cluster(cluster, started_at=SIM_TIME.replace(minute=5))

    assert snap.status == SnapshotStatus.OK, snap.error
    pod_requests = [r for r in sim.request_log if r.path.endswith("/api/v1/pods")]
    assert 410 in [r.status for r in pod_requests]
    assert (snap.pods_total, snap.pods_meshed) == (clean.pods_total, clean.pods_meshed)
    assert snap.capacity == clean.capacity

    def stored(s: Any) -> dict[tuple[str, str, str], tuple[int, int, int]]:
        return {
            (w.namespace, w.kind, w.name): (w.pods_total, w.pods_meshed, w.pods_missing)
            for w in WorkloadObservation.objects.filter(snapshot=s)
        }

    assert stored(snap) == stored(clean)


# --- the incremental classifier on its own ---------------------------------------------------


def _namespaces(enabled: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = []
    for i in range(20):
        labels = (
            (enabled or {"istio-injection": "enabled"})
            if i % 2
            else {"istio.io/dataplane-mode": "ambient"}
        )
        out.append({"metadata": {"name": f"ns{i}", "labels": labels}})
    return out


def _pod(i: int, workloads: int = 200) -> dict[str, Any]:
    w = f"w{i % workloads}"
    containers: list[dict[str, Any]] = [
        {"name": "app", "image": "app:1", "resources": {"requests": {"cpu": "100m"}}}
    ]
    if i % 3:
        containers.append(
            {
                "name": "istio-proxy",
                "image": "docker.io/istio/proxyv2:1.22.1",
                "resources": {"requests": {"cpu": "10m", "memory": "40Mi"}},
            }
        )
    return {
        "metadata": {
            "name": f"{w}-abc-{i}",
            "namespace": f"ns{i % 20}",
            "labels": {"app": w, "pod-template-hash": "abc"},
            "annotations": {"ambient.istio.io/redirection": "enabled"} if i % 7 == 0 else {},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{w}-abc", "controller": True}],
            "creationTimestamp": "2026-05-01T00:00:00Z",
        },
        "spec": {"containers": containers},
        "status": {"phase": "Succeeded" if i % 11 == 0 else "Running"},
    }


def _pages(pods: int, size: int = 500) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, pods, size):
        yield [_pod(i) for i in range(start, min(start + size, pods))]


def _result_view(res: Any) -> Any:
    return (
        [dataclasses.asdict(w) for w in res.workloads],
        [dataclasses.asdict(n) for n in res.namespaces],
        [m.as_dict() | {"workload": m.workload} for m in res.messages],
        res.control_planes,
    )


def test_the_incremental_classifier_equals_classify_cluster_and_resets() -> None:
    objs = ClusterObjects(namespaces=_namespaces(), pods=[_pod(i) for i in range(1_500)])
    reference = classify_cluster(objs, ClassifyOptions())

    streamed = Classifier(dataclasses.replace(objs, pods=[]), ClassifyOptions(), keep_pods=False)
    pages = list(_pages(1_500, 400))
    streamed.add_pods(pages[0])
    streamed.add_pods(pages[1])
    streamed.reset_pods()  # a 410: the list starts again
    for page in pages:
        streamed.add_pods(page)
    result = streamed.finish()

    assert _result_view(result) == _result_view(reference)
    assert result.pods == [] and len(reference.pods) == 1_500
    assert sum(n.pods_total for n in result.namespaces) == sum(p.counted for p in reference.pods)


def test_the_typed_pod_decode_falls_back_for_a_page_that_breaks_the_schema() -> None:
    import msgspec

    good = msgspec.json.encode({"items": [_pod(1)], "metadata": {"continue": "t"}})
    page = listing.decode_pods(good)
    assert page.items == [_pod(1)] and page.metadata.continue_ == "t"
    bad = msgspec.json.encode({"items": [{"metadata": ["x"]}, _pod(2)]})
    assert listing.decode_pods(bad).items == [{"metadata": ["x"]}, _pod(2)]


def _peak(pods: int) -> int:
    # revision-labelled namespaces: istioctl's IST0103 (checked in istio-injection=enabled
    # namespaces only) names every pod missing its proxy, and those messages do grow with pods
    objs = ClusterObjects(namespaces=_namespaces({"istio.io/rev": "default"}))
    tracemalloc.start()
    try:
        classifier = Classifier(objs, ClassifyOptions(), keep_pods=False)
        totals = capacity.PodTotals()
        for page in _pages(pods):
            classifier.add_pods(page)
            totals.add(page)
            del page
        classifier.finish()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_streamed_polls_memory_does_not_grow_with_the_pod_count() -> None:
    small, large = _peak(2_000), _peak(8_000)
    # 4× the pods over the same 200 workloads: the peak is one page plus the aggregates
    assert large < 1.5 * small, (small, large)


def test_the_typed_object_decode_keeps_what_is_read_and_falls_back() -> None:
    import msgspec

    deployment = {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u-1",
            "labels": {"app": "web"},
            "annotations": {
                "galley.istio.io/analyze-suppress": "IST0144",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            },
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "web:1",
                            "env": [{"name": "A", "value": "1"}],
                            "resources": {"requests": {"cpu": "1"}},
                            "livenessProbe": {"httpGet": {"path": "/"}},
                        }
                    ],
                    "nodeSelector": {"pool": "a"},
                },
            },
        },
        "status": {"replicas": 3, "conditions": [{"type": "Available"}]},
    }
    page = listing.decode_objects(msgspec.json.encode({"items": [deployment]}))
    assert page.items == [
        {
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "labels": {"app": "web"},
                "annotations": {"galley.istio.io/analyze-suppress": "IST0144"},
            },
            "spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
            },
        }
    ]
    item = page.items[0]  # the template's labels are the object's (one dict)
    assert item["spec"]["template"]["metadata"]["labels"] is item["metadata"]["labels"]
    # istiod's container requests are kept (the capacity figures read them)
    deployment["metadata"]["labels"] = {"app": "istiod"}
    istiod = listing.decode_objects(msgspec.json.encode({"items": [deployment]})).items or []
    containers = istiod[0]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["resources"] == {"requests": {"cpu": "1"}}
    service = {
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], "clusterIP": "10.0.0.1"},
    }
    assert listing.decode_services(msgspec.json.encode({"items": [service]})).items == [
        {
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}},
        }
    ]
    rs = {
        "metadata": {
            "name": "web-1",
            "ownerReferences": [
                {"kind": "Deployment", "name": "web", "controller": True, "uid": "u"}
            ],
        }
    }
    assert listing.decode_objects(msgspec.json.encode({"items": [rs]})).items == [
        {
            "metadata": {
                "name": "web-1",
                "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
            }
        }
    ]
    odd = {"metadata": {"name": "x", "ownerReferences": "not-a-list"}}
    assert listing.decode_objects(msgspec.json.encode({"items": [odd, rs]})).items == [odd, rs]


def test_replicasets_and_jobs_indexed_page_by_page_resolve_owners_as_the_lists_do() -> None:
    """The poll keeps ReplicaSets and Jobs as `OwnerTable`s, fed a page at a time; those without
    a controller are kept whole, for they are workloads of their own."""
    fleet = Fleet(42, demo_clusters())
    raw = fleet.objects(fleet.cluster_names[0], fleet.start_of_day(40))
    fields = {f.name for f in dataclasses.fields(ClusterObjects)}
    objs = ClusterObjects(
        **{k: v for k, v in raw.items() if k in fields},
        webhooks=raw.get("mutatingwebhookconfigurations", []),
        istio={k: v for k, v in raw.items() if k not in fields},
    )
    rs = objs.replicasets + [{"metadata": {"name": "solo-rs", "namespace": "ns0"}}]
    objs = dataclasses.replace(objs, replicasets=rs)
    assert len(objs.replicasets) > 10 and objs.jobs
    reference = classify_cluster(objs, ClassifyOptions())

    tables = (OwnerTable(), OwnerTable())
    for table, items in zip(tables, (objs.replicasets, objs.jobs), strict=True):
        table.add(items[:3])
        table.reset()  # a 410: the list starts again
        for start in range(0, len(items), 7):
            table.add(items[start : start + 7])
    assert [o["metadata"]["name"] for o in tables[0].standalone] == ["solo-rs"]
    indexed = dataclasses.replace(objs, replicasets=tables[0].standalone, jobs=tables[1].standalone)
    classifier = Classifier(indexed, ClassifyOptions(), owner_tables=tables)
    classifier.add_pods(objs.pods)
    assert _result_view(classifier.finish()) == _result_view(reference)


def test_an_owner_table_reads_odd_objects_as_the_accessors_do() -> None:
    from adoption.classify.kube import controller_ref, name_of, namespace_of

    ref = {"kind": "Deployment", "name": "web"}
    objs: list[Any] = [
        {"metadata": {"name": "a", "namespace": "ns", "ownerReferences": [ref]}},
        {"metadata": {"name": "b", "ownerReferences": [ref]}},  # no namespace: "default"
        {"metadata": {"name": "c", "namespace": "ns", "ownerReferences": [{"kind": "X"}]}},
        {
            "metadata": {
                "name": "d",
                "namespace": "ns",
                "ownerReferences": [ref, {**ref, "name": "api", "controller": True}],
            }
        },
        {
            "metadata": {
                "name": "e",
                "namespace": "ns",
                "ownerReferences": [{"kind": 1, "name": "x"}],
            }
        },
        {"metadata": {"name": "f", "namespace": "ns", "ownerReferences": []}},
        {"metadata": {"name": 7, "namespace": "ns"}},
        {"metadata": ["odd"]},
        "odd",
    ]
    table = OwnerTable(objs)
    assert table.controllers == {(namespace_of(o), name_of(o)): controller_ref(o) for o in objs}
    assert table.controllers[("ns", "d")] == ("Deployment", "api")
    assert [o for o in table.standalone] == [o for o in objs if controller_ref(o) is None]
