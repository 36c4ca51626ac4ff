"""Capacity: what the proxies cost today and what meeting a target adds (pure arithmetic)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adoption.capacity import project, summarize
from adoption.classify.quantity import cpu_millicores, memory_bytes


def _pod(
    name: str, proxy: dict | None, app: dict, native: bool = False, phase: str = "Running"
) -> dict:
    containers = [{"name": "app", "resources": {"requests": app}}]
    init = []
    if proxy is not None:
        c = {"name": "istio-proxy", "resources": {"requests": proxy}}
        if native:
            init.append({**c, "restartPolicy": "Always"})
        else:
            containers.append(c)
    return {
        "metadata": {"name": name},
        "spec": {"containers": containers, "initContainers": init},
        "status": {"phase": phase},
    }


ISTIOD = {
    "metadata": {"name": "istiod", "labels": {"app": "istiod"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "discovery",
                        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
                    }
                ]
            }
        },
    },
}
HPA = {
    "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "istiod"},
        "minReplicas": 2,
        "maxReplicas": 5,
    }
}


def test_it_sums_proxy_requests_and_the_sidecars_share() -> None:
    pods = [
        _pod("a", {"cpu": "100m", "memory": "128Mi"}, {"cpu": "1", "memory": "1Gi"}),
        _pod(
            "b",
            {"cpu": "0.2", "memory": "134217728"},
            {"cpu": "500m", "memory": "512Mi"},
            native=True,
        ),
        _pod("c", None, {"cpu": "2", "memory": "2Gi"}),  # not meshed: app resources not counted
        _pod(
            "d", {"cpu": "100m", "memory": "128Mi"}, {"cpu": "1"}, phase="Succeeded"
        ),  # not counted
    ]
    cap = summarize(pods, [ISTIOD], [HPA], podmetrics=None)
    assert cap.proxies == 2
    assert (cap.proxy_cpu_request_m, cap.proxy_memory_request_b) == (300, 256 * 2**20)
    assert (cap.app_cpu_request_m, cap.app_memory_request_b) == (1500, 1536 * 2**20)
    assert cap.usage is None and cap.metrics_api is False  # no metrics API: requests only
    cp = cap.control_planes[0]
    assert (cp.replicas, cp.cpu_request_m, cp.hpa_min, cp.hpa_max) == (2, 500, 2, 5)
    assert cp.replicas_bounds == (2, 5)
    assert cap.proxies_per_replica == 1.0


def test_it_reads_usage_from_the_metrics_api() -> None:
    metrics = [
        {
            "metadata": {"name": f"p{i}"},
            "containers": [
                {
                    "name": "istio-proxy",
                    "usage": {"cpu": f"{10 * (i + 1)}m", "memory": f"{50 + i}Mi"},
                },
                {"name": "app", "usage": {"cpu": "1", "memory": "1Gi"}},
            ],
        }
        for i in range(20)
    ] + [
        {
            "metadata": {"name": "istiod-7d9f-abc"},
            "containers": [{"name": "discovery", "usage": {"cpu": "250m", "memory": "1Gi"}}],
        }
    ]
    cap = summarize([], [ISTIOD], [], podmetrics=metrics)
    assert cap.metrics_api and cap.usage is not None
    assert cap.usage.proxies == 20
    assert cap.usage.cpu_m == sum(10 * (i + 1) for i in range(20))
    assert cap.usage.cpu_p95_m == 190  # 19th of 20 sorted values
    assert cap.control_planes[0].cpu_usage_m == 250


def test_it_records_bad_quantities_instead_of_crashing() -> None:
    pods = [_pod("x", {"cpu": "lots", "memory": "12Qi"}, {"cpu": "1"})]
    cap = summarize(pods, [], [], None)
    assert cap.proxies == 1 and cap.proxy_cpu_request_m == 0
    assert any("bad CPU quantity 'lots'" in e for e in cap.errors)
    assert any("bad memory quantity '12Qi'" in e for e in cap.errors)


def test_it_projects_a_target_on_known_numbers() -> None:
    # 400 proxies today requesting 40 cores / 50 GiB; 600 pods outside; the target needs 50 %
    p = project(
        pods_outside=600,
        share_to_mesh=0.5,
        proxies_now=400,
        proxy_cpu_request_m=40_000,
        proxy_memory_request_b=50 * 2**30,
        istiod_replicas_max=1,
        istiod_cpu_request_m=500,
    )
    assert p.extra_proxies == 300
    assert p.extra_cpu_request_m == 30_000  # 100m per proxy
    assert p.extra_memory_request_b == round(300 * 50 * 2**30 / 400)
    assert p.proxies_after == 700
    assert p.proxies_per_replica_after == 700.0
    assert p.threshold_per_replica == 1000.0 and p.warning == ""


def test_it_warns_past_istiods_published_capacity_and_honours_the_hpa_max() -> None:
    args = {
        "pods_outside": 3000,
        "share_to_mesh": 1.0,
        "proxies_now": 1000,
        "proxy_cpu_request_m": 100_000,
        "proxy_memory_request_b": 0,
        "istiod_cpu_request_m": 500,
    }
    crowded = project(**args, istiod_replicas_max=2)  # 4000 / 2 = 2000 > 1000
    assert "2000 proxies per istiod replica" in crowded.warning
    roomy = project(**args, istiod_replicas_max=5)  # HPA max 5: 800 per replica
    assert roomy.proxies_per_replica_after == 800.0 and roomy.warning == ""


@given(st.integers(0, 10**6), st.floats(-1, 2), st.integers(0, 10**5), st.integers(0, 10))
def test_it_never_projects_negative_or_more_than_everything(outside, share, now, replicas) -> None:  # type: ignore[no-untyped-def]
    p = project(
        pods_outside=outside,
        share_to_mesh=share,
        proxies_now=now,
        proxy_cpu_request_m=now * 100,
        proxy_memory_request_b=now * 2**27,
        istiod_replicas_max=replicas,
        istiod_cpu_request_m=500,
    )
    assert 0 <= p.extra_proxies <= outside
    assert p.extra_cpu_request_m == p.extra_proxies * 100 if now else p.extra_cpu_request_m == 0


@given(st.integers(0, 10**6))
def test_it_parses_quantities_in_every_spelling(n: int) -> None:
    assert cpu_millicores(f"{n}m") == n
    assert cpu_millicores(str(n)) == n * 1000
    assert cpu_millicores(f"{n}e3") == n * 10**6
    assert memory_bytes(f"{n}Mi") == n * 2**20
    assert memory_bytes(str(n)) == n
    assert memory_bytes("1.5Gi") == 1610612736 and memory_bytes("128974848") == 128974848
    assert cpu_millicores("1e3") == 10**6


def test_pods_with_the_same_resources_are_added_once_each_and_bad_ones_named() -> None:
    from adoption.capacity import PodTotals

    same = [_pod(f"web-{i}", {"cpu": "100m"}, {"cpu": "1", "memory": "1Gi"}) for i in range(4)]
    native = [_pod(f"api-{i}", {"cpu": "50m"}, {"cpu": "2"}, native=True) for i in range(2)]
    bad = [_pod(f"bad-{i}", {"cpu": "lots"}, {"cpu": "1"}) for i in range(2)]
    done = [_pod("job-1", {"cpu": "100m"}, {"cpu": "1"}, phase="Succeeded")]
    totals = PodTotals()
    totals.add(same[:2] + native + bad)
    totals.add(same[2:] + done)
    assert totals.proxies == 8
    assert totals.proxy_cpu_request_m == 4 * 100 + 2 * 50
    assert totals.app_cpu_request_m == 4 * 1000 + 2 * 2000 + 2 * 1000
    assert totals.app_memory_request_b == 4 * 2**30
    assert [e.split(":")[0] for e in totals.errors] == ["pod bad-0", "pod bad-1"]


def test_pods_sharing_their_decoded_spec_count_as_the_untyped_decode_counts_them() -> None:
    """`decode_pods` gives a ReplicaSet's pods one spec and status object; `PodTotals` counts
    each such pod from the first one's figures, and still names every bad one."""
    import msgspec

    from adoption.capacity import PodTotals
    from adoption.kube import listing

    pods = [_pod(f"web-{i}", {"cpu": "100m"}, {"cpu": "1", "memory": "1Gi"}) for i in range(4)]
    pods += [_pod(f"bad-{i}", {"cpu": "lots"}, {"cpu": "1"}) for i in range(3)]
    pods += [_pod(f"job-{i}", {"cpu": "100m"}, {"cpu": "1"}, phase="Succeeded") for i in range(2)]
    pods += [_pod(f"api-{i}", {"cpu": "50m"}, {"cpu": "2"}, native=True) for i in range(2)]
    raw = msgspec.json.encode({"items": pods})
    typed = listing.decode_pods(raw).items or []
    assert typed[1]["spec"] is typed[0]["spec"] and typed[5]["spec"] is typed[4]["spec"]
    shared, plain = PodTotals(), PodTotals()
    shared.add(typed)
    plain.add(listing._decoder.decode(raw).items or [])
    assert shared.proxies == plain.proxies == 9
    assert shared.proxy_cpu_request_m == plain.proxy_cpu_request_m == 4 * 100 + 2 * 50
    assert shared.app_cpu_request_m == plain.app_cpu_request_m
    assert shared.errors == plain.errors and len(shared.errors) == 3
