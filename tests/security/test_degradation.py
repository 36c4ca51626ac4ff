"""Graceful degradation: Redis down → pages render from Postgres with a "Polling paused"
banner and /readyz fails; Postgres down → /readyz fails, /healthz still passes.

Redis down is simulated in-process by pointing ``settings.REDIS_URL`` at a closed port (the
cached client is rebuilt). Postgres down cannot be simulated honestly inside the test process
(pytest-django holds the test database open), so a subprocess runs Django's test client
against a DATABASE_URL whose port is closed: a real connection refusal, no mock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.conftest import current_database_url

from ._support import body_of, history_pages

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:1"  # nothing listens on port 1: connections are refused at once
BANNER = "Polling paused"

pytestmark = pytest.mark.django_db


def test_redis_down_pages_render_from_postgres_with_a_banner(
    history, viewer_client: Client, settings
) -> None:
    from adoption.locks import redis_client

    pages = history_pages()
    # control: with Redis up there is no banner
    assert BANNER not in viewer_client.get("/").content.decode()
    settings.REDIS_URL = f"redis://{CLOSED}/0"
    redis_client.cache_clear()
    for name, url in pages.items():
        response = viewer_client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        html = response.content.decode()
        assert BANNER in html, name
    # the figures still come from Postgres
    assert history[0].name in viewer_client.get("/clusters/").content.decode()
    export = viewer_client.get("/export/workloads.csv")
    assert export.status_code == 200 and len(body_of(export)) > 1000


def test_redis_down_readyz_fails_and_healthz_passes(client: Client, settings) -> None:
    assert client.get("/readyz", HTTP_ACCEPT="application/json").status_code == 200  # control
    settings.REDIS_URL = f"redis://{CLOSED}/0"
    ready = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert ready.status_code == 500
    failing = [k for k, v in ready.json().items() if "Redis" in k]
    assert failing, ready.json()
    assert client.get("/healthz").status_code == 200


SCRIPT = """
import json, logging, django
django.setup()
from django.test import Client
c = Client(raise_request_exception=False)
out = {}
for name, url in (("healthz", "/healthz"), ("readyz", "/readyz")):
    r = c.get(url, HTTP_ACCEPT="application/json")
    out[name] = {"status": r.status_code, "body": r.content.decode()}
c.cookies["sessionid"] = "a-session-to-look-up"  # forces a database read for the page
r = c.get("/clusters/")
out["page"] = {"status": r.status_code, "body": r.content.decode()[:2000]}
print("RESULT " + json.dumps(out))
"""


def run_with_unreachable_services(db_url: str, redis_url: str) -> dict[str, Any]:
    """Run probes and a page in a fresh Django process with the given service URLs."""
    drop = ("MESHBOARD_", "SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env |= {
        "DJANGO_SETTINGS_MODULE": "meshboard.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "DATABASE_CONN_MAX_AGE": "0",
        "LOG_LEVEL": "DEBUG",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    out: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    out["stderr"] = result.stderr
    return out


def _real_redis() -> str:
    from django.conf import settings

    return str(settings.REDIS_URL)


def test_postgres_down_readyz_fails_and_healthz_passes() -> None:
    out = run_with_unreachable_services(f"postgres://postgres@{CLOSED}/meshboard", _real_redis())
    assert out["healthz"] == {"status": 200, "body": '{"status": "ok"}'}
    assert out["readyz"]["status"] == 500
    checks = json.loads(out["readyz"]["body"])
    assert any("Database" in k for k in checks) and any("Redis" in k for k in checks), checks
    # the page that needs the database fails as a plain 500 page (no debug traceback in it)
    assert out["page"]["status"] == 500
    assert "Traceback" not in out["page"]["body"] and "psycopg" not in out["page"]["body"]


def test_both_up_readyz_passes_in_the_same_harness() -> None:
    """Control for the subprocess harness: with the real services it reports ready."""
    out = run_with_unreachable_services(current_database_url(), _real_redis())
    assert out["readyz"]["status"] == 200, out["readyz"]
    assert out["healthz"]["status"] == 200
