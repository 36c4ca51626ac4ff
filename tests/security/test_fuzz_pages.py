"""Every page and export on real polled history, with generated query strings (arbitrary keys
and values: unicode, NUL, huge, repeated, broken percent-encoding): never a 500. Pages answer
200 (a bad value is a form error); exports answer 200 or 400 (``bad parameter ...``)."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._support import EXPORTS, body_of, history_pages, make_target

EXAMPLES = int(os.environ.get("MESHBOARD_FUZZ_PAGE_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("MESHBOARD_FUZZ_RANDOM") != "1",
)
KNOWN = ["start", "end", "since", "environment", "cluster", "tribe", "squad", "namespace",
         "state", "kind", "sort", "page", "per_page", "as_of", "group", "metric", "bom",
         "before", "after", "stuck_days", "q", "name", "mesh_mode", "behind", "waived"]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["", "\x00", "a\x00b", "2026-02-30", "9999-12-31", "0001-01-01", "-1", "0",
                     "1e309", "NaN", "99999999999999999999999", "Unassigned", "tribe", "squad",
                     "cluster", "namespace", "workloads_meshed", "-name", "name", "__all__",
                     "'; DROP TABLE adoption_cluster; --", "<script>alert(1)</script>",
                     "%", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
                     "\u202e", "🦄" * 10, "x" * 10_000, "1" * 5000, "2026-01-01T00:00:00Z"]),
    st.dates().map(str),
    st.integers(-(2**63), 2**63).map(str),
)  # fmt: skip
KEYS = st.one_of(st.sampled_from(KNOWN), st.text(max_size=15))
QUERIES = st.lists(st.tuples(KEYS, VALUES), max_size=6)
RAW = st.sampled_from(["%ff%fe=%00", "start=%E0%A4%A", "&&&==&", "a=%", "%00=%00", "page=%C0%AF",
                       "sort=" + "-" * 3000, "start[]=1", "cluster=" + "%41" * 5000])  # fmt: skip


def _encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _get(client: Client, url: str, query: str) -> tuple[int, bytes]:
    response = client.get(f"{url}?{query}")
    body = body_of(response)
    return response.status_code, body


@pytest.fixture
def urls(history, viewer_client):
    make_target()
    pages = history_pages()
    # a control: the pages and exports answer 200 without parameters
    for url in [*pages.values(), *EXPORTS.values()]:
        assert _get(viewer_client, url, "")[0] == 200, url
    return pages


@pytest.mark.django_db
def test_pages_never_500_on_any_query_string(urls, viewer_client) -> None:
    seen: dict[int, int] = {}

    @given(page=st.sampled_from(sorted(urls)), pairs=QUERIES, raw=st.none() | RAW)
    @FUZZ
    def run(page: str, pairs: list[tuple[str, str]], raw: str | None) -> None:
        query = _encode(pairs) + (f"&{raw}" if raw else "")
        status, body = _get(viewer_client, urls[page], query)
        seen[status] = seen.get(status, 0) + 1
        assert status == 200, (page, query[:300], status)
        assert b"<script>alert(1)</script>" not in body  # reflected values are escaped

    run()
    assert sum(seen.values()) >= min(EXAMPLES, 50)


@pytest.mark.django_db
def test_exports_answer_200_or_400_on_any_query_string(urls, viewer_client) -> None:
    seen: dict[int, int] = {}

    @given(export=st.sampled_from(sorted(EXPORTS)), pairs=QUERIES, raw=st.none() | RAW)
    @FUZZ
    def run(export: str, pairs: list[tuple[str, str]], raw: str | None) -> None:
        query = _encode(pairs) + (f"&{raw}" if raw else "")
        status, body = _get(viewer_client, EXPORTS[export], query)
        seen[status] = seen.get(status, 0) + 1
        assert status in (200, 400), (export, query[:300], status)
        if status == 400:
            assert body.startswith(b"bad parameter '"), body[:200]

    run()
    assert seen.get(400, 0) > 0, "the generator does reach the validation errors"
