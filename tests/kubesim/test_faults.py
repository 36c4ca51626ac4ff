"""Injected faults, through the Python API and the admin endpoint."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from kubesim.testing import Sim
from tests.kubesim.conftest import core, raw


def admin(sim: Sim, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    req = urllib.request.Request(
        f"{sim.url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {token or sim.admin_token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def test_it_answers_429_with_retry_after(sim: Sim) -> None:
    sim.add_fault("429", cluster="prod-eu", resource="pods", retry_after=3)
    with pytest.raises(ApiException) as err:
        core(sim, "prod-eu", retries=False).list_pod_for_all_namespaces(limit=10)
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "3"
    # count=1 by default: the next call succeeds
    assert core(sim, "prod-eu").list_pod_for_all_namespaces(limit=10).items


def test_it_serves_malformed_json_with_200(sim: Sim) -> None:
    sim.add_fault("malformed", cluster="prod-eu", resource="pods")
    resp = core(sim, "prod-eu").list_pod_for_all_namespaces(limit=10, _preload_content=False)
    assert resp.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.data)


def test_it_truncates_a_body_mid_way(sim: Sim) -> None:
    sim.add_fault("truncated", cluster="prod-eu", resource="pods")
    resp = core(sim, "prod-eu", retries=False).list_pod_for_all_namespaces(
        limit=50, _preload_content=False
    )
    assert resp.status == 200
    with pytest.raises(urllib3.exceptions.ProtocolError, match="IncompleteRead"):
        resp.data  # noqa: B018 - the body is read lazily


def test_it_resets_the_connection(sim: Sim) -> None:
    sim.add_fault("reset", cluster="prod-eu", resource="namespaces", count=1)
    api = core(sim, "prod-eu", retries=False)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        api.list_namespace(_preload_content=False, _request_timeout=5)


@pytest.mark.parametrize("code", ["500", "503", "403"])
def test_it_answers_error_statuses(sim: Sim, code: str) -> None:
    sim.add_fault(code, cluster="*", resource="namespaces")
    with pytest.raises(ApiException) as err:
        core(sim, "staging").list_namespace()
    assert err.value.status == int(code)
    assert json.loads(err.value.body)["kind"] == "Status"


def test_it_lets_urllib3_honour_retry_after(sim: Sim) -> None:
    sim.add_fault("429", cluster="prod-eu", resource="pods", retry_after=0, count=1)
    assert core(sim, "prod-eu").list_pod_for_all_namespaces(limit=10).items
    assert [r.status for r in sim.request_log[-2:]] == [429, 200]


def test_it_faults_only_after_some_pages_and_only_the_given_cluster(sim: Sim) -> None:
    sim.add_fault("500", cluster="prod-eu", resource="pods", after_pages=1, count=-1)
    assert core(sim, "prod-us").list_pod_for_all_namespaces(limit=5).items
    first = raw(core(sim, "prod-eu").list_pod_for_all_namespaces(limit=5, _preload_content=False))
    with pytest.raises(ApiException):
        core(sim, "prod-eu").list_pod_for_all_namespaces(
            limit=5, _continue=first["metadata"]["continue"]
        )


def test_it_slows_responses(sim: Sim) -> None:
    sim.add_fault("slow", cluster="prod-eu", resource="namespaces", delay=0.3)
    t0 = time.monotonic()
    assert core(sim, "prod-eu").list_namespace().items
    assert time.monotonic() - t0 >= 0.3


def test_it_controls_faults_and_clock_over_the_admin_endpoint(sim: Sim) -> None:
    state = admin(
        sim,
        "POST",
        "/_sim/faults",
        {"cluster": "prod-eu", "resource": "pods", "fault": "503", "count": 2},
    )
    assert state["faults"][0]["count"] == 2
    with pytest.raises(ApiException):
        core(sim, "prod-eu").list_pod_for_all_namespaces()
    assert admin(sim, "GET", "/_sim/faults")["faults"][0]["count"] == 1
    assert admin(sim, "DELETE", "/_sim/faults")["faults"] == []
    assert core(sim, "prod-eu").list_pod_for_all_namespaces().items

    before = sim.now()
    try:
        state = admin(sim, "POST", "/_sim/clock", {"time": "2026-08-01T00:00:00Z"})
        assert state["time"].startswith("2026-08-01T00:00:00")
        assert admin(sim, "GET", "/_sim/state")["speed"] == 0
    finally:
        sim.set_time(before)
    with pytest.raises(urllib.error.HTTPError) as err:
        admin(sim, "GET", "/_sim/state", token="wrong")
    assert err.value.code == 401
