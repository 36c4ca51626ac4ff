"""Security headers on every response, no inline scripts, no third-party assets, and secure
cookies in production settings.

``manage.py check --deploy --fail-level WARNING`` with production env is proven by
``tests/test_settings.py::test_it_passes_check_deploy_with_production_settings`` (not repeated).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from ._support import EXPORTS, audit_html, body_of, history_pages, make_target

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _csp(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [w.lower() for w in words[1:]]
    return directives


def assert_secure_headers(url: str, response) -> None:
    csp = _csp(response)
    assert csp, f"{url}: no Content-Security-Policy"
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts == ["'self'"], f"{url}: script-src {scripts}"
    assert "'unsafe-inline'" not in csp.get("default-src", []), url
    assert csp.get("frame-ancestors") == ["'none'"], url
    assert "object-src" in csp or csp.get("default-src") == ["'self'"], url
    assert response.get("X-Content-Type-Options") == "nosniff", url
    assert response.get("X-Frame-Options") == "DENY", url
    assert response.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), url


def test_every_page_carries_the_security_headers_and_no_inline_script(
    history, django_user_model
) -> None:
    from adoption.models import Snapshot

    make_target()
    superuser = django_user_model.objects.create_superuser("root", password="root-pass-123")
    staff = Client()
    staff.force_login(superuser)
    viewer = Client()
    viewer.force_login(django_user_model.objects.create_user("v", password="v-pass-12345"))
    snap = Snapshot.objects.order_by("pk").first()
    assert snap is not None
    cluster = history[0]

    pages = {name: (viewer, url) for name, url in history_pages().items()}
    pages |= {f"staff {n}": (staff, u) for n, u in history_pages(viewer=False).items()}
    pages |= {
        "login": (Client(), "/accounts/login/"),
        "admin login": (Client(), "/admin/login/"),
        "admin index": (staff, "/admin/"),
        "admin cluster": (staff, f"/admin/adoption/cluster/{cluster.pk}/change/"),
        "admin snapshots": (staff, "/admin/adoption/snapshot/"),
        "admin snapshot": (staff, f"/admin/adoption/snapshot/{snap.pk}/change/"),
        "404": (viewer, "/clusters/no-such-cluster/"),
        "healthz": (Client(), "/healthz"),
        "redirect": (Client(), "/"),
    }
    pages |= {f"export {n}": (viewer, u) for n, u in EXPORTS.items()}
    problems: dict[str, object] = {}
    html_pages = 0
    for name, (client, url) in pages.items():
        response = client.get(url)
        assert response.status_code in (200, 302, 404), (name, url, response.status_code)
        assert_secure_headers(url, response)
        if "text/html" not in response.get("Content-Type", "") or response.status_code == 302:
            continue
        html_pages += 1
        body = body_of(response)
        audit = audit_html(body.decode())
        found = {
            "inline scripts": audit.inline_scripts,
            "event handlers": audit.event_handlers,
            "javascript: URLs": audit.js_urls,
            "third-party assets": audit.external,
        }
        found = {k: v for k, v in found.items() if v}
        if found:
            problems[f"{name} {url}"] = found
    assert problems == {}
    assert html_pages >= 15


def test_chart_data_ships_as_json_blocks_not_scripts(history, viewer_client) -> None:
    html = viewer_client.get("/").content.decode()
    blocks = audit_html(html).json_blocks
    assert {"chart-trend", "chart-bars"} <= set(blocks)
    for body in blocks.values():
        assert isinstance(json.loads(body), dict)  # data, not code
        assert "<" not in body  # json_script escapes "<", so no </script> break-out


URL_RE = re.compile(r"""(?:https?:)?//([a-z0-9-]+(?:\.[a-z0-9-]+)+)""", re.I)
CDN_HINTS = ("cdn", "unpkg", "jsdelivr", "googleapis", "cloudflare", "gstatic", "bootstrap")


def _our_assets() -> list[Path]:
    files: list[Path] = []
    for d in (ROOT / "templates", ROOT / "static", ROOT / "adoption" / "templates"):
        if d.is_dir():
            files += [
                p
                for p in d.rglob("*")
                if p.is_file() and p.suffix in (".html", ".js", ".css", ".txt", ".svg")
            ]
    return files


def test_no_template_or_static_file_loads_from_a_cdn() -> None:
    files = _our_assets()
    assert any(p.name == "base.html" for p in files) and any(p.suffix == ".js" for p in files)
    hits: dict[str, list[str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        # vendored files keep their licence headers (URLs in comments); look at loads only
        for m in re.finditer(
            r"""(?:src|href|url|import|from)\s*[=(:]?\s*["']?((?:https?:)?//[^"')\s>]+)""",
            text,
            re.I,
        ):
            hits.setdefault(str(path.relative_to(ROOT)), []).append(m.group(1))
        for host in URL_RE.findall(text):
            if any(h in host.lower() for h in CDN_HINTS):
                hits.setdefault(str(path.relative_to(ROOT)), []).append(host)
    assert hits == {}


PROD_ENV = {
    "MESHBOARD_ENV": "production",
    "SECRET_KEY": "x7Lq!v9#pR2wT8zK4mN6bC1dF3gH5jY0uE-aS_oIqWeRtYuIoPaSdFgHjKl",
    "ALLOWED_HOSTS": "testserver",
    "DATABASE_URL": "postgres://meshboard@127.0.0.1:1/meshboard",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "DJANGO_SETTINGS_MODULE": "meshboard.settings",
}

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# No collectstatic in a test checkout: serve static URLs unhashed (cookies are unaffected).
storages = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=storages):
    r = Client().get("/accounts/login/", secure=True)
cookie = r.cookies.get("csrftoken")
print(json.dumps({
    "settings": {k: getattr(settings, k) for k in (
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "DEBUG",
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS")},
    "status": r.status_code,
    "csrf_cookie": {"secure": bool(cookie["secure"]), "httponly": bool(cookie["httponly"])}
        if cookie else None,
    "hsts": r.get("Strict-Transport-Security"),
}))
"""


def test_production_cookies_are_secure_and_http_only() -> None:
    drop = ("MESHBOARD_", "SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "SECURE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} | PROD_ENV
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    s = out["settings"]
    assert s["SESSION_COOKIE_SECURE"] and s["SESSION_COOKIE_HTTPONLY"], s
    assert s["CSRF_COOKIE_SECURE"] and s["CSRF_COOKIE_HTTPONLY"], s
    assert s["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict") and not s["DEBUG"], s
    assert s["SECURE_SSL_REDIRECT"] and s["SECURE_HSTS_SECONDS"] >= 31536000, s
    # the real Set-Cookie of the login page (which needs no database) carries the flags
    assert out["status"] == 200, out
    assert out["csrf_cookie"] == {"secure": True, "httponly": True}, out
    assert out["hsts"] and "max-age=31536000" in out["hsts"], out


def test_development_settings_are_not_mistaken_for_production(settings) -> None:
    """The flag the production test relies on is really environment-driven."""
    assert settings.PRODUCTION is False and settings.SESSION_COOKIE_SECURE is False
