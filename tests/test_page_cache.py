"""Overview and tribe pages cache their rendered bodies per data version: a repeat costs three
queries, nothing of one user reaches another, and new data shows at once."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from adoption import collect, progress
from adoption.models import Target, WorkloadObservation

from .conftest import tribe_with_missing_proxies

pytestmark = pytest.mark.django_db


def _tribe() -> str:
    w = (
        WorkloadObservation.objects.filter(snapshot_id__in=progress.latest_snapshot_ids())
        .exclude(tribe="")
        .first()
    )
    assert w is not None
    return w.tribe


def _queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200, url
    return [q["sql"] for q in ctx.captured_queries]


def test_it_answers_a_repeated_view_with_the_session_user_and_data_version_only(
    history, viewer_client
) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", f"/tribes/{_tribe()}/", "/?start=2026-01-01&cluster=nope"):
        first = _queries(viewer_client, url)
        again = _queries(viewer_client, url)
        assert len(again) == 3, again  # session, user, data version
        assert len(first) > len(again)


STAFF_LINK = re.compile(r'href="/targets/(new/|\d+/edit/)"')


def _csrf(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_it_keeps_user_and_staff_parts_out_of_the_shared_body(
    history, client, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    Target.objects.create(
        scope="org", metric="workloads_meshed", value=90, start="2026-01-01", due="2027-01-01"
    )
    pages = {}
    for name, staff in (("alice", False), ("bob", False), ("carol", True)):
        user = django_user_model.objects.create_user(name, password="x-pass-123", is_staff=staff)
        c = Client()
        c.force_login(user)
        pages[name] = {url: c.get(url).content.decode() for url in ("/", f"/tribes/{_tribe()}/")}
    for url in pages["alice"]:
        alice, bob, carol = (pages[n][url] for n in ("alice", "bob", "carol"))
        assert "alice" in alice and "alice" not in bob and "alice" not in carol
        assert "bob" in bob and "bob" not in alice
        assert _csrf(alice) != _csrf(bob) != _csrf(carol)
        # staff see the target edit (or add) links and the admin link, the others never do
        assert STAFF_LINK.search(carol) and 'href="/admin/"' in carol, url
        for html in (alice, bob):
            assert not STAFF_LINK.search(html) and 'href="/admin/"' not in html, url


def test_it_shows_a_new_poll_at_once(history, sim, viewer_client) -> None:  # type: ignore[no-untyped-def]
    before = viewer_client.get("/").content.decode()
    version = progress.data_version()
    sim.set_time(sim.fleet.start_of_day(90))
    assert collect.snapshot_cluster(history[0]).status == "ok"
    assert progress.data_version() != version
    with CaptureQueriesContext(connection) as ctx:
        after = viewer_client.get("/").content.decode()
    assert len(ctx.captured_queries) > 3  # rebuilt, not served from the cache
    assert before != after


def test_it_builds_a_missing_body_once_and_answers_the_others_with_the_last_one() -> None:
    import threading

    from adoption.views.rendered import cached_or_build

    started, release = threading.Event(), threading.Event()
    builds: list[str] = []

    def slow() -> str:
        builds.append("v2")
        started.set()
        assert release.wait(10)
        return "v2"

    assert cached_or_build("t:v1", 60, lambda: "v1", latest="t:latest") == "v1"
    builder = threading.Thread(
        target=cached_or_build, args=("t:v2", 60, slow), kwargs={"latest": "t:latest"}
    )
    builder.start()
    assert started.wait(10)
    # while v2 is being built: the previous version, not a second build
    assert cached_or_build("t:v2", 60, slow, latest="t:latest") == "v1"
    release.set()
    builder.join(10)
    assert cached_or_build("t:v2", 60, slow, latest="t:latest") == "v2"
    assert builds == ["v2"]


def test_it_serves_a_to_do_list_alone_sorted_and_paginated(history, viewer_client) -> None:  # type: ignore[no-untyped-def]
    tribe = tribe_with_missing_proxies()
    names = sorted(
        WorkloadObservation.objects.filter(
            snapshot_id__in=progress.latest_snapshot_ids(),
            state="missing-proxy",
            tribe=tribe,
            system=False,
        ).values_list("namespace", "kind", "name"),
        reverse=True,
    )
    url = f"/tribes/{tribe}/todo/missing/"
    html = viewer_client.get(url, {"missing-sort": "-workload"}).content.decode()
    assert html.strip().startswith('<section id="todo-missing"') and "<html" not in html
    shown = re.findall(r'<td ><a href="/clusters/[^"]+">([^<]+)</a>', html)
    assert shown == ["/".join(n) for n in names[: len(shown)]] and shown
    assert f"Missing a proxy — restart these ({len(names)})" in html
    assert f'href="/export/workloads.csv?tribe={tribe}&amp;state=missing-proxy"' in html
    # the links: the whole page without JavaScript, this list alone with htmx
    assert f'href="/tribes/{tribe}/?missing-sort=workload#todo-missing"' in html
    assert f'hx-get="/tribes/{tribe}/todo/missing/?missing-sort=workload"' in html
    assert viewer_client.get(url, {"missing-page": "-1", "missing-sort": "x;"}).status_code == 200
    assert viewer_client.get(f"/tribes/{tribe}/todo/nope/").status_code == 404
    assert viewer_client.get("/tribes/no-such-tribe/todo/missing/").status_code == 404
