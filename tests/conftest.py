"""Shared fixtures: roles (viewer, admin), a running kubesim, registered clusters.

Real services only: Postgres (DATABASE_URL or embedded), Redis (REDIS_URL or embedded), the
kubesim HTTP server driven by the real kubernetes client through a kubeconfig.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

# Playwright's sync API runs an event loop in the test thread (microsoft/playwright-pytest#29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ("celery.contrib.pytest",)


def current_database_url() -> str:
    """A URL of the database the tests run on (pytest-django's ``test_<name>``), for processes
    the tests start. The embedded PostgreSQL listens on a Unix socket only: its directory goes
    in ``?host=`` (the form ``DATABASE_URL`` takes it in), never a TCP host it does not serve."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    # a URL's ?host= lands in OPTIONS (dj-database-url), a TCP host in HOST
    host = s.get("HOST") or (s.get("OPTIONS") or {}).get("host") or ""
    port = s.get("PORT") or ""
    name = quote(s["NAME"], safe="")
    if host.startswith("/"):
        query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgres://{auth}@/{name}{query}"
    return f"postgres://{auth}@{host or '127.0.0.1'}{f':{port}' if port else ''}/{name}"


SIM_TIME = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_page_cache() -> Iterator[None]:
    """Pages cache their bodies per process and data version; an empty database has the same
    version in every test, so no test may read a page another test rendered."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("viewer", password="viewer-pass-123")


@pytest.fixture
def viewer_client(client, viewer):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    return client


@pytest.fixture
def sim() -> Iterator[object]:
    """A kubesim server on a free loopback port, its clock frozen at SIM_TIME."""
    from kubesim.testing import running_kubesim

    with running_kubesim(speed=0, start=SIM_TIME) as s:
        yield s


@pytest.fixture
def cluster(db, sim):  # type: ignore[no-untyped-def]
    """The first cluster of the simulated fleet, registered through its kubeconfig context."""
    from adoption.models import AuthMethod, Cluster

    name = sim.cluster_names[0]
    return Cluster.objects.create(
        name=name,
        auth_method=AuthMethod.KUBECONFIG,
        kubeconfig_path=str(sim.kubeconfig_path),
        context=name,
        poll_interval=60,
    )


@pytest.fixture
def staff_client(client, django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(
        "platform", password="platform-pass-123", is_staff=True
    )
    client.force_login(user)
    return client


HISTORY_DAYS = (30, 45, 60)


@pytest.fixture
def history(db, sim):  # type: ignore[no-untyped-def]
    """Every simulated cluster polled on three days, stored at recent real dates (30, 15 and
    0 days ago) so that default date ranges include them."""
    from datetime import timedelta

    from django.utils import timezone

    from adoption import collect
    from adoption.models import AuthMethod, Cluster

    clusters = [
        Cluster.objects.create(
            name=n,
            auth_method=AuthMethod.KUBECONFIG,
            kubeconfig_path=str(sim.kubeconfig_path),
            context=n,
        )
        for n in sim.cluster_names
    ]
    now = timezone.now().replace(microsecond=0)
    for day in HISTORY_DAYS:
        sim.set_time(sim.fleet.start_of_day(day))
        for c in clusters:
            snap = collect.snapshot_cluster(
                c, started_at=now - timedelta(days=HISTORY_DAYS[-1] - day)
            )
            assert snap.status == "ok", snap.error
    return clusters


def tribe_with_missing_proxies() -> str:
    """A tribe whose latest snapshots have a workload missing its proxy (a to-do list to show);
    ``history`` makes one."""
    from adoption import progress
    from adoption.models import WorkloadObservation

    tribe = (
        WorkloadObservation.objects.filter(
            snapshot_id__in=progress.latest_snapshot_ids(), state="missing-proxy"
        )
        .exclude(tribe="")
        .values_list("tribe", flat=True)
        .first()
    )
    assert tribe, "the simulated history has no workload missing its proxy"
    return tribe
