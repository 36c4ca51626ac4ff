from __future__ import annotations

import time
from datetime import timedelta

import pytest
from kubernetes.client.exceptions import ApiException

from kubesim import Fleet
from kubesim.testing import Sim, running_kubesim
from tests.kubesim.conftest import core, list_all_pods, raw


def test_it_pages_through_exactly_the_fleets_pods(sim: Sim) -> None:
    before = len(sim.request_log)
    items, pages = list_all_pods(core(sim, "prod-eu"), limit=25)

    expected = sim.fleet.objects("prod-eu", sim.now())["pods"]
    assert pages >= 4
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        (p["metadata"]["namespace"], p["metadata"]["name"]) for p in expected
    ]
    assert len({i["metadata"]["uid"] for i in items}) == len(items)
    log = [r for r in sim.request_log[before:] if r["path"] == "/api/v1/pods"]
    assert [r["page"] for r in log] == list(range(pages))
    assert all(r["limit"] == 25 for r in log)


def test_it_reports_remaining_items_and_resource_version(sim: Sim) -> None:
    doc = raw(core(sim, "prod-eu").list_pod_for_all_namespaces(limit=10, _preload_content=False))
    total = len(sim.fleet.objects("prod-eu", sim.now())["pods"])
    assert doc["kind"] == "PodList" and doc["apiVersion"] == "v1"
    assert doc["metadata"]["remainingItemCount"] == total - 10
    assert int(doc["metadata"]["resourceVersion"]) > 0
    assert "kind" not in doc["items"][0] and "apiVersion" not in doc["items"][0]


def test_it_keeps_a_consistent_snapshot_across_pages_while_time_moves() -> None:
    fleet = Fleet(7)
    with running_kubesim(fleet, start=fleet.start_of_day(40)) as sim:
        api = core(sim, "prod-us")
        first = raw(api.list_pod_for_all_namespaces(limit=30, _preload_content=False))
        sim.set_time(fleet.start_of_day(40) + timedelta(hours=3))  # same day, later
        sim.app.continue_ttl = 10**9
        sim.set_time(fleet.start_of_day(80))  # the fleet changed a lot since
        rest = raw(
            api.list_pod_for_all_namespaces(
                limit=10_000, _continue=first["metadata"]["continue"], _preload_content=False
            )
        )
        names = [i["metadata"]["name"] for i in first["items"] + rest["items"]]
        day40 = [
            p["metadata"]["name"] for p in fleet.objects("prod-us", fleet.start_of_day(40))["pods"]
        ]
        assert names == day40
        assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_it_expires_old_continue_tokens_with_410() -> None:
    with running_kubesim(continue_ttl=0.2) as sim:
        api = core(sim, "prod-eu")
        first = raw(api.list_pod_for_all_namespaces(limit=10, _preload_content=False))
        time.sleep(0.3)
        with pytest.raises(ApiException) as err:
            api.list_pod_for_all_namespaces(
                limit=10, _continue=first["metadata"]["continue"], _preload_content=False
            )
        assert err.value.status == 410
        body = raw_body(err.value)
        assert body["reason"] == "Expired" and body["code"] == 410
        assert body["metadata"]["continue"]  # an inconsistent continuation, like the real server


def test_it_expires_a_token_when_the_simulated_clock_jumps(sim: Sim) -> None:
    api = core(sim, "prod-eu")
    now = sim.now()
    first = raw(api.list_pod_for_all_namespaces(limit=10, _preload_content=False))
    try:
        sim.set_time(now + timedelta(hours=1))
        with pytest.raises(ApiException) as err:
            api.list_pod_for_all_namespaces(
                limit=10, _continue=first["metadata"]["continue"], _preload_content=False
            )
        assert err.value.status == 410
    finally:
        sim.set_time(now)


def test_it_expires_the_token_mid_list_on_a_410_fault(sim: Sim) -> None:
    sim.add_fault("410", cluster="prod-eu", resource="pods", after_pages=2, count=1)
    api = core(sim, "prod-eu")
    with pytest.raises(ApiException) as err:
        list_all_pods(api, limit=10)
    assert err.value.status == 410
    assert [r["page"] for r in sim.request_log[-3:]] == [0, 1, 2]
    items, _ = list_all_pods(api, limit=10)  # restarting the list works
    assert len(items) == len(sim.fleet.objects("prod-eu", sim.now())["pods"])


def test_it_rejects_a_token_reused_with_other_selectors(sim: Sim) -> None:
    api = core(sim, "prod-eu")
    first = raw(api.list_pod_for_all_namespaces(limit=5, _preload_content=False))
    with pytest.raises(ApiException) as err:
        api.list_pod_for_all_namespaces(
            limit=5, _continue=first["metadata"]["continue"], label_selector="app=x"
        )
    assert err.value.status == 400


def raw_body(exc: ApiException) -> dict:
    import json

    return json.loads(exc.body)
