"""A real headless Chromium (Debian's /usr/bin/chromium) logs in and reads the dashboard:
charts render with data points, the tribe's to-do list has rows. Screenshots are saved as
test artefacts (MESHBOARD_SCREENSHOT_DIR, default a pytest tmp dir)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import tribe_with_missing_proxies

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


@pytest.fixture
def shots(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    target = os.environ.get("MESHBOARD_SCREENSHOT_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.django_db(transaction=True)
def test_it_logs_in_and_reads_overview_tribe_and_cluster(
    live_server, browser, history, django_user_model, shots
):  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user("lead", password="lead-pass-123")
    tribe = tribe_with_missing_proxies()
    assert tribe, "the simulated fleet has a tribe with workloads missing a proxy"
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "lead")
    page.fill("#id_password", "lead-pass-123")
    page.click("button[type=submit]")

    page.wait_for_selector("[data-plotly-src=chart-trend] svg.main-svg", timeout=20_000)
    assert page.locator("[data-plotly-src=chart-trend] g.points path.point").count() > 3
    assert page.locator("[data-plotly-src=chart-bars] g.point").count() >= 1
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    page.goto(f"{live_server.url}/tribes/{tribe}/")
    page.wait_for_selector("[data-plotly-src=chart-trend] svg.main-svg", timeout=20_000)
    todo_rows = page.locator("#todo-missing table tbody tr")
    assert todo_rows.count() >= 1 and "rollout restart" in todo_rows.first.inner_text()
    page.screenshot(path=str(shots / "tribe.png"), full_page=True)
    # sorting the to-do list swaps that table in place (htmx), without leaving the page
    page.click("#todo-missing thead a:text-is('Workload')")
    page.wait_for_selector("#todo-missing th[aria-sort=descending] a:text-is('Workload')")
    assert page.url == f"{live_server.url}/tribes/{tribe}/"
    assert page.locator("#todo-missing table tbody tr").count() >= 1

    page.goto(f"{live_server.url}/clusters/{history[0].name}/")
    page.wait_for_selector("[data-plotly-src=chart-pod-share] svg.main-svg", timeout=20_000)
    assert page.locator("[data-plotly-src=chart-pod-share] g.points path.point").count() >= 1
    assert page.locator("[data-plotly-src=chart-versions] g.point").count() >= 1
    page.screenshot(path=str(shots / "cluster.png"), full_page=True)

    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert all(
        (shots / n).stat().st_size > 10_000 for n in ("overview.png", "tribe.png", "cluster.png")
    )
