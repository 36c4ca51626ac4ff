"""Access control over the whole URL map: login everywhere but probes and login pages,
staff-only editors and admin, and CSRF on every POST."""

from __future__ import annotations

import pytest
from django.test import Client

from ._support import PUBLIC, all_routes, is_machine, is_staff_only, make_target

ROUTES = all_routes()
URLS = [r.url for r in ROUTES]
PRIVATE = [u for u in URLS if u not in PUBLIC]
STAFF_ONLY = [u for u in URLS if is_staff_only(u)]
VIEWER_OK = [u for u in PRIVATE if not is_staff_only(u)]

#: Views that accept POST (named so a refactor that drops one from the URL map fails here).
POST_VIEWS = [
    "/accounts/login/",
    "/accounts/logout/",
    "/targets/new/",
    "/targets/1/edit/",
    "/waivers/new/",
    "/admin/login/",
    "/admin/logout/",
    "/admin/password_change/",
    "/admin/adoption/cluster/",  # changelist actions ("poll now")
    "/admin/adoption/cluster/add/",
    "/admin/adoption/cluster/1/change/",
    "/admin/adoption/cluster/1/delete/",
    "/admin/auth/user/add/",
]

pytestmark = pytest.mark.django_db


def test_the_walk_covers_the_whole_url_map() -> None:
    names = {r.name for r in ROUTES}
    for expected in (
        "adoption:overview",
        "adoption:target-new",
        "adoption:waiver-new",
        "export:series",
        "healthz",
        "readyz",
        "login",
        "logout",
        "admin:index",
        "admin:adoption_cluster_change",
        "admin:adoption_snapshot_changelist",
    ):
        assert expected in names, expected
    assert len(URLS) > 40, "admin routes are part of the walk"
    assert set(POST_VIEWS) <= set(URLS)
    assert {"/targets/new/", "/waivers/new/", "/admin/"} <= set(STAFF_ONLY)


def test_anonymous_is_sent_to_a_login_page(client: Client) -> None:
    wrong = {}
    for url in PRIVATE:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if is_machine(url):
                ok = response.status_code in (401, 403, 405)
            else:
                ok = response.status_code == 302 and "/login/" in response["Location"]
            if not ok:
                wrong[f"{method} {url}"] = response.status_code
    assert wrong == {}


def test_probes_and_login_pages_answer_anonymously(client: Client) -> None:
    assert {url: client.get(url).status_code for url in PUBLIC} == dict.fromkeys(PUBLIC, 200)


def test_anonymous_sees_no_data_on_the_public_pages(client: Client, history) -> None:
    cluster = history[0].name
    for url in PUBLIC:
        body = client.get(url).content.decode()
        assert cluster not in body, url


def test_a_viewer_is_refused_staff_pages(viewer_client: Client) -> None:
    wrong = {}
    for url in STAFF_ONLY:
        response = viewer_client.get(url, follow=True)
        final = response.request["PATH_INFO"]
        # admin pages bounce to the admin login ("not authorised"); /admin/logout/ is POST-only
        if response.status_code == 405 and url == "/admin/logout/":
            continue
        if not (response.status_code == 200 and final == "/admin/login/"):
            wrong[url] = (response.status_code, final)
    assert wrong == {}
    assert viewer_client.get("/").status_code == 200, "the viewer is still logged in"


def test_a_viewer_cannot_post_to_staff_editors_even_with_a_csrf_token(
    viewer_client: Client,
) -> None:
    from adoption.models import Cluster, Target, Waiver

    target = make_target()
    for url, data in (
        ("/targets/new/", {"scope": "org", "metric": "workloads_meshed", "value": "1"}),
        (f"/targets/{target.pk}/edit/", {"scope": "org", "value": "1", "owner": "mallory"}),  # type: ignore[attr-defined]
        ("/waivers/new/", {"namespace": "x", "reason": "r", "approver": "a"}),
        ("/admin/adoption/cluster/add/", {"name": "evil", "auth_method": "in_cluster"}),
    ):
        response = viewer_client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Target.objects.count() == 1 and Target.objects.get().owner == "platform"
    assert not Waiver.objects.exists() and not Cluster.objects.exists()


def test_a_viewer_reaches_every_other_page(viewer_client: Client) -> None:
    """The positive control of the refusals above: not everything is a redirect."""
    wrong = {}
    for url in VIEWER_OK:
        status = viewer_client.get(url).status_code
        if status not in (200, 404, 405):
            wrong[url] = status
    assert wrong == {}


def test_staff_reach_the_staff_pages(staff_client: Client) -> None:
    for url in ("/targets/new/", "/waivers/new/", "/admin/"):
        assert staff_client.get(url).status_code == 200, url


def _csrf_client(django_user_model, staff: bool = True) -> Client:
    user = django_user_model.objects.create_user(
        "csrf-staff", password="csrf-pass-123", is_staff=staff, is_superuser=staff
    )
    c = Client(enforce_csrf_checks=True)
    c.force_login(user)
    return c


def test_every_route_refuses_a_post_without_csrf_token(django_user_model) -> None:
    make_target()
    c = _csrf_client(django_user_model)
    refused = {}
    for url in URLS:
        response = c.post(url, {"x": "1"})
        refused[url] = response.status_code
        if response.status_code == 403:
            assert b"CSRF" in response.content, url
    not_refused = {u: s for u, s in refused.items() if s != 403}
    assert not_refused == {}, not_refused
    # still logged in: nothing (e.g. the logout view) ran
    assert c.get("/").status_code == 200


def test_login_refuses_a_post_without_csrf_token(django_user_model) -> None:
    django_user_model.objects.create_user("someone", password="someone-pass-123")
    c = Client(enforce_csrf_checks=True)
    for url in ("/accounts/login/", "/admin/login/"):
        response = c.post(url, {"username": "someone", "password": "someone-pass-123"})
        assert response.status_code == 403 and b"CSRF" in response.content, url
    assert "_auth_user_id" not in c.session


def test_a_post_with_the_csrf_token_is_accepted(django_user_model) -> None:
    """Positive control: the 403s above are CSRF, not something else refusing POSTs."""
    from adoption.models import Target

    c = _csrf_client(django_user_model)
    c.get("/targets/new/")
    token = c.cookies["csrftoken"].value
    response = c.post(
        "/targets/new/",
        {
            "csrfmiddlewaretoken": token,
            "scope": "org",
            "metric": "workloads_meshed",
            "value": "75",
            "start": "2026-01-01",
            "due": "2026-12-31",
            "owner": "cto",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Target.objects.filter(owner="cto", value=75).exists()
    response = c.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert c.get("/").status_code == 302
