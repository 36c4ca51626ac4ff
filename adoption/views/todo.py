"""A tribe's to-do lists: sortable, paginated tables on the tribe page, each also served alone
(``/tribes/<tribe>/todo/<list>/``) so that htmx swaps just that table when sorting or paging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from .. import progress
from ..forms import PageFilterForm
from ..models import WorkloadObservation
from ..org import UNASSIGNED
from ..tables import (
    BehindTable,
    MissingProxyTable,
    NoResilienceTable,
    NotEnrolledTable,
    TodoTable,
)
from .rendered import cached_body

PER_PAGE = 25
FILTER_FIELDS = list(PageFilterForm.base_fields)

Rows = QuerySet[WorkloadObservation]


def _no_resilience(qs: Rows) -> Rows:
    return (
        qs.filter(state="meshed")
        .exclude(services=[])
        .filter(
            Q(timeout=False)
            | Q(retries=False)
            | Q(circuit_breaking=False)
            | Q(outlier_detection=False)
        )
    )


@dataclass(frozen=True)
class TodoList:
    """One kind of work left. ``key`` is also its tables' query-string prefix; ``csv_state``
    is the state filter of its CSV download (``csv_exact``: the download is exactly this list;
    otherwise it is every workload in that state, with the columns to filter on)."""

    key: str
    title: str
    table: type[TodoTable]
    rows: Callable[[Rows], Rows]
    csv_state: str
    csv_exact: bool

    @property
    def fields(self) -> list[str]:
        return [f"{self.key}-sort", f"{self.key}-page"]


TODO_LISTS = [
    TodoList(
        "missing",
        "Missing a proxy — restart these",
        MissingProxyTable,
        lambda qs: qs.filter(state="missing-proxy"),
        "missing-proxy",
        True,
    ),
    TodoList(
        "not-enrolled",
        "Not enrolled",
        NotEnrolledTable,
        lambda qs: qs.filter(state="not-enrolled"),
        "not-enrolled",
        True,
    ),
    TodoList(
        "behind",
        "Proxy behind the control plane",
        BehindTable,
        lambda qs: qs.filter(state="meshed", behind=True),
        "meshed",
        False,
    ),
    TodoList(
        "no-resilience",
        "Meshed without every resilience feature",
        NoResilienceTable,
        _no_resilience,
        "meshed",
        False,
    ),
]
BY_KEY = {t.key: t for t in TODO_LISTS}
PAGE_FIELDS = FILTER_FIELDS + [f for t in TODO_LISTS for f in t.fields]


def todo_section(
    bare: HttpRequest,
    todo: TodoList,
    tribe: str,
    snapshot_ids: list[int],
    filters: dict[str, Any],
) -> dict[str, Any]:
    """One to-do list's table (configured from ``bare``'s sort and page) and its links, over
    the tribe's workloads in ``snapshot_ids`` (two queries: the count and the page)."""
    stored = "" if tribe == UNASSIGNED else tribe
    base = WorkloadObservation.objects.filter(
        snapshot_id__in=snapshot_ids, tribe=stored, system=False
    )
    table = todo.table(todo.rows(base.select_related("cluster")), prefix=f"{todo.key}-")
    RequestConfig(bare, paginate={"per_page": PER_PAGE}).configure(table)
    # what its template (adoption/partials/todo_table.html) links to
    table.todo = todo
    table.page_url = reverse("adoption:tribe", args=[tribe])
    table.todo_url = reverse("adoption:tribe-todo", args=[tribe, todo.key])
    csv = {"tribe": tribe, "state": todo.csv_state}
    csv |= {k: filters[k] for k in ("environment", "cluster") if filters.get(k)}
    return {
        "todo": todo,
        "table": table,
        "csv_url": reverse("export:workloads") + "?" + urlencode(csv),
    }


@require_GET
def tribe_todo(request: HttpRequest, tribe: str, key: str) -> HttpResponse:
    """One to-do list alone (what htmx swaps in when sorting or paging), cached like a page."""
    from .pages import check_tribe

    stored = check_tribe(request, tribe)
    todo = BY_KEY.get(key)
    if todo is None:
        raise Http404("No such to-do list")

    def build(bare: HttpRequest) -> dict[str, Any]:
        f = PageFilterForm(bare.GET or None).values()
        ids = progress.latest_snapshot_ids(
            environment=f.get("environment") or None, cluster=f.get("cluster") or None
        )
        return todo_section(bare, todo, tribe, ids, f)

    body = cached_body(
        request,
        "todo",
        "adoption/partials/todo.html",
        build,
        fields=FILTER_FIELDS + todo.fields,
        params={"tribe": stored, "list": key},
    )
    return HttpResponse(body)
