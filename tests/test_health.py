from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_answers_liveness_without_touching_the_database(client, django_assert_num_queries):  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_is_ready_when_database_and_redis_answer(client):  # type: ignore[no-untyped-def]
    response = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert any("Database" in k for k in body) and any("Redis" in k for k in body)


@pytest.mark.django_db
def test_it_is_not_ready_when_redis_is_gone(client, settings):  # type: ignore[no-untyped-def]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
