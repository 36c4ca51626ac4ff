"""Shared helpers for the classifier tests (no database, no Django)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "istio"


@pytest.fixture()
def fixtures() -> Path:
    return FIXTURES


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}}


def pod(
    name: str,
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    host_network: bool = False,
    phase: str = "Running",
    owner: tuple[str, str] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels or {},
        "annotations": annotations or {},
    }
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if created:
        meta["creationTimestamp"] = created
    spec: dict[str, Any] = {"containers": containers or [{"name": "app", "image": "app:1"}]}
    if init:
        spec["initContainers"] = init
    if host_network:
        spec["hostNetwork"] = True
    return {"kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": phase}}


def proxy(image: str = "docker.io/istio/proxyv2:1.27.1", **extra: Any) -> dict[str, Any]:
    return {"name": "istio-proxy", "image": image, "args": ["proxy", "sidecar"], **extra}


def app() -> dict[str, Any]:
    return {"name": "app", "image": "app:1"}
