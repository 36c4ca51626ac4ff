"""A failed poll records a clear error and no partial data; the last good figures stay."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from adoption import collect
from adoption.models import AuthMethod, Cluster, NamespaceObservation, Snapshot, SnapshotStatus

pytestmark = pytest.mark.django_db


def _rewrite_kubeconfig(
    src: Path, dst: Path, *, token: str | None = None, server: str | None = None
) -> Path:
    doc = yaml.safe_load(src.read_text())
    for user in doc["users"]:
        if token is not None:
            user["user"]["token"] = token
    for c in doc["clusters"]:
        if server is not None:
            c["cluster"]["server"] = server
    dst.write_text(yaml.safe_dump(doc))
    return dst


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_it_records_a_wrong_token_as_unauthorized(sim, cluster, tmp_path):  # type: ignore[no-untyped-def]
    cluster.kubeconfig_path = str(
        _rewrite_kubeconfig(sim.kubeconfig_path, tmp_path / "kc", token="wrong")
    )
    snap = collect.snapshot_cluster(cluster)

    assert snap.status == SnapshotStatus.FAILED
    assert "401 Unauthorized" in snap.error
    assert "wrong" not in snap.error  # the token itself never lands in the error
    assert not NamespaceObservation.objects.exists()


def test_it_records_an_unreachable_server(sim, cluster, tmp_path):  # type: ignore[no-untyped-def]
    server = f"http://127.0.0.1:{_closed_port()}"
    cluster.kubeconfig_path = str(
        _rewrite_kubeconfig(sim.kubeconfig_path, tmp_path / "kc", server=server)
    )
    snap = collect.snapshot_cluster(cluster)

    assert snap.status == SnapshotStatus.FAILED
    assert "cannot reach" in snap.error and server in snap.error


def test_it_records_a_broken_kubeconfig(db, tmp_path):  # type: ignore[no-untyped-def]
    bad = tmp_path / "kc"
    bad.write_text("apiVersion: v1\nclusters: [oops\n")
    cluster = Cluster.objects.create(
        name="broken", auth_method=AuthMethod.KUBECONFIG, kubeconfig_path=str(bad)
    )
    snap = collect.snapshot_cluster(cluster)

    assert snap.status == SnapshotStatus.FAILED
    assert "kubeconfig" in snap.error


def test_it_keeps_the_previous_good_snapshot_on_a_malformed_body(sim, cluster, viewer_client):  # type: ignore[no-untyped-def]
    good = collect.snapshot_cluster(cluster)
    assert good.status == SnapshotStatus.OK
    sim.add_fault(cluster=cluster.name, resource="pods", fault="malformed", count=-1)

    bad = collect.snapshot_cluster(cluster)

    assert bad.status == SnapshotStatus.FAILED
    assert "malformed response listing pods" in bad.error
    assert NamespaceObservation.objects.filter(snapshot=bad).count() == 0
    assert Snapshot.objects.filter(status=SnapshotStatus.OK).get() == good
    page = viewer_client.get(f"/clusters/{cluster.name}/").content.decode()
    assert f"{good.pods_meshed} of {good.pods_total} pods" in page
    assert "malformed response listing pods" in page  # poll health shows the last error
