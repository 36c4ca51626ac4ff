"""The read-only REST API: auth, numbers equal to the pages' queries, 400s naming the
parameter, and a schemathesis fuzz of every operation against the OpenAPI schema."""

from __future__ import annotations

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from adoption import export, progress
from adoption.models import WorkloadObservation
from meshboard.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(django_user_model) -> str:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("robot", password="robot-pass-123")
    return Token.objects.create(user=user).key


def test_it_refuses_anonymous_and_bad_tokens(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/clusters/").status_code in (401, 403)
    assert client.get("/api/v1/clusters/", HTTP_AUTHORIZATION="Token nope").status_code == 401
    assert client.get("/api/schema/").status_code in (401, 403)


def test_it_lists_workloads_as_of_a_day_like_the_export(history, client, token) -> None:  # type: ignore[no-untyped-def]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    response = client.get("/api/v1/workloads/", {"state": "missing-proxy"}, **auth)
    assert response.status_code == 200
    body = response.json()
    expected = WorkloadObservation.objects.filter(
        snapshot_id__in=progress.latest_snapshot_ids(), state="missing-proxy"
    ).count()
    assert body["count"] == expected > 0
    assert {w["state"] for w in body["results"]} == {"missing-proxy"}


def test_it_serves_a_metric_series_equal_to_the_export(history, client, token) -> None:  # type: ignore[no-untyped-def]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    body = client.get("/api/v1/series/", {"metric": "pods_meshed"}, **auth).json()
    form = export.SeriesForm({"metric": "pods_meshed"})
    assert form.is_valid()
    rows = export.series_rows(form.scope(), form.cleaned_data["metric"], form.cleaned_data["start"],
                              form.cleaned_data["end"])  # fmt: skip
    assert [p["value"] for p in body] == [r[1] for r in rows]
    assert any(p["value"] is not None for p in body)


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/v1/workloads/?as_of=yesterday", "as_of"),
        ("/api/v1/series/?metric=nonsense", "metric"),
        ("/api/v1/series/?start=2026-06-01&end=2026-01-01", "start"),
        ("/api/v1/namespaces/?cluster=no-such", "cluster"),
        ("/api/v1/review/?before=2026-06-02&after=2026-06-01", "before"),
        ("/api/v1/targets/?tribe=no-such-tribe", "tribe"),
    ],
)
def test_it_answers_bad_parameters_with_a_400_naming_them(client, token, url, param) -> None:  # type: ignore[no-untyped-def]
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400
    assert param in response.json()["errors"]


# --- schemathesis: every operation, generated inputs, responses validated against the schema ---
_schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
_schema.app = application


@pytest.fixture
def in_test_transaction():  # type: ignore[no-untyped-def]
    """Calls through the raw WSGI app must not close the test's connection at request end
    (Django's test Client disconnects the same handlers)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_it_conforms_to_its_openapi_schema(case, token, in_test_transaction) -> None:  # type: ignore[no-untyped-def]
    # Two checks do not fit this API by design: empty query values mean "the default" (the
    # same forms serve the HTML filters), and names that do not exist (a tribe, a cluster) are a
    # documented 400 although any string is schema-valid. Every other check applies: no 5xx,
    # documented status codes and content types, responses conforming to the schema.
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        excluded_checks=[negative_data_rejection, positive_data_acceptance],
    )
