"""A read whose database connection is killed under it is answered, not a 500."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_read_after_its_connection_was_killed(viewer_client) -> None:  # type: ignore[no-untyped-def]
    viewer_client.get("/clusters/")  # session and connection are up
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    viewer_client.raise_request_exception = False  # as in production: errors become responses
    response = viewer_client.get("/clusters/")

    assert response.status_code == 200
    assert b"Clusters and polling health" in response.content
