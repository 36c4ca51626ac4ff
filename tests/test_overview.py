from __future__ import annotations

import json

import pytest

from adoption import collect

pytestmark = pytest.mark.django_db


def test_it_draws_the_pod_share_per_namespace(sim, cluster, viewer_client):  # type: ignore[no-untyped-def]
    snap = collect.snapshot_cluster(cluster)
    response = viewer_client.get(f"/clusters/{cluster.name}/")

    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('id="chart-pod-share"')
    spec = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    names = {t["name"] for t in spec["data"]}
    observed = set(
        snap.namespaces.filter(system=False, pods_total__gt=0).values_list("namespace", flat=True)
    )
    assert names == observed
    assert spec["layout"]["yaxis"]["range"] == [0, 100]
    assert "cdn" not in html.lower()
    assert "/static/vendor/plotly/plotly.min.js" in html


def test_it_shows_an_empty_state_before_any_poll(viewer_client):  # type: ignore[no-untyped-def]
    html = viewer_client.get("/").content.decode()
    assert "No poll has succeeded yet" in html
