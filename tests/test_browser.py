"""A real headless Chromium (Debian's /usr/bin/chromium) logs in and sees the chart drawn."""

from __future__ import annotations

import os
import shutil

import pytest

from adoption import collect

CHROMIUM = os.environ.get("MESHBOARD_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM) and os.environ.get("CI") is None,
        reason=f"{CHROMIUM} is not installed (apt-get install chromium); CI always runs this",
    ),
]


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()
        # Playwright's sync API runs the test inside a greenlet, where Django's connection
        # handler (asgiref Local) hands out separate connections; close them here, in that
        # context, or the test database cannot be dropped at the end of the session.
        from django.db import connections

        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_it_logs_in_and_renders_the_adoption_chart(
    live_server, browser, sim, cluster, django_user_model
):  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user("lead", password="lead-pass-123")
    assert collect.snapshot_cluster(cluster).status == "ok"
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "lead")
    page.fill("#id_password", "lead-pass-123")
    page.click("button[type=submit]")
    page.wait_for_selector("svg.main-svg", timeout=20_000)

    assert page.locator("g.trace.scatter").count() >= 1
    assert page.locator("g.points path.point").count() >= 1
    assert "Workloads meshed" in page.content()
    # the per-namespace pod share on the cluster page
    page.goto(f"{live_server.url}/clusters/{cluster.name}/")
    page.wait_for_selector("[data-plotly-src=chart-pod-share] svg.main-svg", timeout=20_000)
    assert page.locator("[data-plotly-src=chart-pod-share] g.points path.point").count() >= 1
    assert not [e for e in errors if "Content Security Policy" in e]
