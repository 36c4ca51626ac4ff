"""Every page needs a login, except the probes and the login page itself."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"healthz", "readyz", "accounts/login/", "admin/login/"}
SAMPLE_ARGS = {
    "name": "demo",
    "object_id": "1",
    "app_label": "adoption",
    "model_name": "cluster",
    "content_type_id": "1",
    "pk": "1",
    "path": "x",
    "id": "1",
}


def _walk(resolver: URLResolver, prefix: str = "") -> list[str]:
    urls = []
    for p in resolver.url_patterns:
        pattern = str(p.pattern)
        if isinstance(p, URLResolver):
            urls += _walk(p, prefix + pattern)
        elif isinstance(p, URLPattern):
            urls.append(prefix + pattern)
    return urls


def _concrete(route: str) -> str:
    import re

    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\/", "/")
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_ARGS.get(m.group(1), "1"), route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_ARGS.get(m.group(1), "1"), route)
    return "/" + route


ROUTES = sorted({_concrete(r) for r in _walk(get_resolver())})


@pytest.mark.django_db
@pytest.mark.parametrize("url", ROUTES)
def test_it_requires_login_everywhere_but_probes_and_login(client, url):  # type: ignore[no-untyped-def]
    response = client.get(url)
    if url.lstrip("/") in PUBLIC:
        assert response.status_code in (200, 500), url  # readyz may fail without services
    elif url.startswith(("/api/", "/metrics")):
        # machine clients: authentication is asked for (token or session), not a login redirect
        assert response.status_code in (401, 403), url
    else:
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


def test_it_walks_a_meaningful_number_of_routes() -> None:
    assert len(ROUTES) > 20 and "/" in ROUTES and "/healthz" in ROUTES
