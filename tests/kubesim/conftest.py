from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from kubesim import Fleet, demo_clusters
from kubesim.testing import Sim, running_kubesim


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    """The demo fleet plus a cluster without Istio, frozen at epoch + 60 days."""
    fleet = Fleet(42, demo_clusters(no_istio_cluster=True))
    with running_kubesim(fleet) as s:
        yield s


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").clear_faults()


def api_client(sim: Sim, cluster: str, *, retries: bool = True) -> client.ApiClient:
    """A client for one cluster, built from the kubeconfig kubesim wrote."""
    cfg = client.Configuration()
    if not retries:
        cfg.retries = False  # see faults as they are, without urllib3's own retries
    return config.new_client_from_config(
        config_file=str(sim.kubeconfig_path), context=sim.context(cluster), client_configuration=cfg
    )


def core(sim: Sim, cluster: str, *, retries: bool = True) -> client.CoreV1Api:
    return client.CoreV1Api(api_client(sim, cluster, retries=retries))


def raw(resp: Any) -> dict[str, Any]:
    return json.loads(resp.data)


def list_all_pods(api: client.CoreV1Api, limit: int, **kw: Any) -> tuple[list[dict[str, Any]], int]:
    """Follow continue tokens; returns (items, number of pages)."""
    items: list[dict[str, Any]] = []
    cont: str | None = None
    pages = 0
    while True:
        doc = raw(
            api.list_pod_for_all_namespaces(
                limit=limit, _continue=cont, _preload_content=False, **kw
            )
        )
        pages += 1
        items += doc["items"]
        cont = doc["metadata"].get("continue")
        if not cont:
            return items, pages
