"""CSV exports for OKR reviews (streamed; login enforced by `LoginRequiredMiddleware`).

Every export is a GET with query-string parameters validated by a form; an invalid parameter is
answered ``400`` with a plain-text ``bad parameter '<name>': <message>`` line per error. Files
are named ``meshboard-<scope>-<YYYY-MM-DD>.csv`` (`csvsafe.export_filename`), start with a UTF-8
BOM unless ``bom=0``, and every cell goes through `csvsafe.safe_cell` (formula injection).

Conventions: dates ISO ``YYYY-MM-DD``, times ISO-8601 UTC (``...Z``); numbers are never locale
formatted; percentages (0–100) are rounded to 1 decimal, cost metrics (cores, GiB) to 3; a
value without a denominator (e.g. no workloads) is an empty cell; an empty tribe/squad is
exported as ``Unassigned``. ``tribe=Unassigned`` / ``squad=Unassigned`` select those.

Common parameters: ``bom`` (``1`` default / ``0``), ``tribe``, ``squad``, ``environment``,
``cluster`` (each must exist), dates as ``YYYY-MM-DD`` (``as_of`` defaults to today, UTC).
Only enabled clusters count, as on every page.

Exports (the header constants below are the stable column lists):

1. ``targets.csv?as_of=&tribe=`` — :data:`TARGETS_HEADER`, one row per target.
2. ``metrics.csv?as_of=&group=tribe|squad|cluster|namespace&environment=&cluster=&tribe=&squad=``
   — :data:`METRICS_HEADERS` ``[group]``; tribe/squad/cluster from the daily rollups (each
   cluster's last day on or before ``as_of``, carried forward), namespace from the namespace
   observations of each cluster's last good snapshot on or before ``as_of`` (namespaces belong
   to tribes: ``squad`` does not filter them).
3. ``workloads.csv?as_of=&cluster=&environment=&tribe=&squad=&namespace=&state=`` —
   :data:`WORKLOADS_HEADER`, every workload of each cluster's last good snapshot on or before
   ``as_of`` (system namespaces included), filtered by :func:`workload_rows_queryset`.
4. ``review.csv?before=&after=&stuck_days=&tribe=&squad=&environment=&cluster=`` —
   :data:`REVIEW_HEADER`, the since-last-review diff (`review.since_review`); the ``section``
   column says what a row is: ``summary`` (one per tribe/squad, counts filled), then ``workload``
   (each changed workload; ``change`` = newly-meshed, regressed, newly-missing-proxy,
   stuck-missing-proxy), ``waiver`` (each new waiver; ``detail`` = reason) and ``target``
   (each tribe/squad target; ``change`` = status-changed or unchanged, ``state_before`` /
   ``state_after`` = statuses). ``after`` defaults to today, ``before`` to ``after`` − 14 days.
5. ``series.csv?metric=&start=&end=&tribe=&squad=&environment=&cluster=`` —
   :data:`SERIES_HEADER`, the metric's daily values (``end`` defaults to today, ``start`` to
   ``end`` − 89 days; at most :data:`MAX_SERIES_DAYS` days).

Units are ``percent``, ``cores`` or ``GiB``. Target statuses are exported as their stable values
(``on-track``, ``at-risk``, ``off-track``, ``met``, ``no-data``, ``not-started``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from . import csvsafe, metrics, review
from .classify.model import WorkloadState
from .models import Cluster, NamespaceObservation, Squad, Target, Tribe, WorkloadObservation
from .org import UNASSIGNED
from .progress import Point, Scope, sums_at

# --------------------------------------------------------------------------------------------
# Headers (stable: add columns at the end, never rename or reorder)

TARGETS_HEADER: tuple[str, ...] = (
    "id",
    "scope",
    "tribe",
    "squad",
    "environment",
    "cluster",
    "metric",
    "metric_label",
    "unit",
    "start",
    "due",
    "target",
    "baseline",
    "actual",
    "expected",
    "status",
    "forecast_date",
    "projected_at_due",
    "owner",
    "note",
)

#: Rollup counts exported next to the metrics (see `models.RollupCounts`).
COUNT_COLUMNS: tuple[str, ...] = (
    "workloads_total",
    "workloads_meshed",
    "workloads_partial",
    "workloads_missing",
    "workloads_opted_out",
    "workloads_ineligible",
    "workloads_idle",
    "pods_total",
    "pods_meshed",
    "namespaces_total",
    "namespaces_enabled",
)


def metric_column(metric: metrics.Metric) -> str:
    """``<metric>_pct`` for percentages, ``<metric>_<unit>`` (``_cores``, ``_gib``) otherwise."""
    d = metrics.DEFS[metric]
    return f"{d.key.value}_pct" if d.is_percentage else f"{d.key.value}_{d.unit.lower()}"


#: One column per metric, in `metrics.Metric` order.
METRIC_COLUMNS: tuple[str, ...] = tuple(metric_column(m) for m in metrics.Metric)

_FIGURES = ("clusters", "clusters_carried_forward", *COUNT_COLUMNS, *METRIC_COLUMNS)
NAMESPACE_HEADER: tuple[str, ...] = (
    "day",
    "cluster",
    "environment",
    "observed_at",
    "namespace",
    "tribe",
    "injection",
    "revision",
    "system",
    "pods_total",
    "pods_meshed",
    "pods_meshed_pct",
    "workloads_total",
    "workloads_meshed",
    "workloads_meshed_pct",
)
METRICS_HEADERS: dict[str, tuple[str, ...]] = {
    "tribe": ("day", "tribe", *_FIGURES),
    "squad": ("day", "tribe", "squad", *_FIGURES),
    "cluster": ("day", "cluster", "environment", *_FIGURES),
    "namespace": NAMESPACE_HEADER,
}

WORKLOADS_HEADER: tuple[str, ...] = (
    "cluster",
    "namespace",
    "kind",
    "name",
    "tribe",
    "squad",
    "state",
    "reason",
    "pods_total",
    "pods_meshed",
    "mesh_mode",
    "revision_used",
    "proxy_versions",
    "behind",
    "timeout",
    "retries",
    "circuit_breaking",
    "outlier_detection",
    "mtls_mode",
    "proxy_cpu_request_m",
    "proxy_memory_request_b",
    "missing_since",
    "waived",
)
# The observation fields behind WORKLOADS_HEADER, in order.
_WORKLOAD_FIELDS = ("cluster__name", *WORKLOADS_HEADER[1:])

REVIEW_HEADER: tuple[str, ...] = (
    "section",
    "tribe",
    "squad",
    "workloads_before",
    "workloads_after",
    "meshed_before",
    "meshed_after",
    "workloads_meshed_pct_before",
    "workloads_meshed_pct_after",
    "workloads_added",
    "workloads_removed",
    "newly_meshed",
    "regressed",
    "newly_missing_proxy",
    "stuck_missing_proxy",
    "new_waivers",
    "targets_changed",
    "change",
    "cluster",
    "namespace",
    "kind",
    "name",
    "target_id",
    "state_before",
    "state_after",
    "missing_since",
    "detail",
)

SERIES_HEADER: tuple[str, ...] = ("day", "value", "clusters", "clusters_carried_forward")

MAX_SERIES_DAYS = 3660
WORKLOAD_STATES = [(s.value, s.value) for s in WorkloadState]


# --------------------------------------------------------------------------------------------
# Parameters


def today() -> date:
    return timezone.now().date()


class IsoDateField(forms.DateField):
    input_formats = ["%Y-%m-%d"]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


def _org_name(value: str) -> str:
    """``Unassigned`` selects the empty tribe/squad."""
    return "" if value == UNASSIGNED else value


def _existing_tribe(value: str | None) -> str | None:
    """None = no filter; ``""`` = Unassigned; otherwise a known tribe's name."""
    if not value:
        return None
    name = _org_name(value)
    if name and not Tribe.objects.filter(name=name).exists():
        raise forms.ValidationError("Unknown tribe.")
    return name


class ExportForm(forms.Form):
    """``bom=1|0`` (default 1)."""

    bom = forms.ChoiceField(choices=[("1", "1"), ("0", "0")], required=False)

    def clean_bom(self) -> bool:
        return self.cleaned_data.get("bom") != "0"


class ScopeForm(ExportForm):
    """``tribe``, ``squad``, ``environment``, ``cluster``: empty = no filter; each must exist."""

    tribe = forms.CharField(required=False, max_length=100)
    squad = forms.CharField(required=False, max_length=100)
    environment = forms.CharField(required=False, max_length=40)
    cluster = forms.CharField(required=False, max_length=63)

    def clean_tribe(self) -> str | None:
        return _existing_tribe(self.cleaned_data.get("tribe"))

    def clean_environment(self) -> str | None:
        value = self.cleaned_data.get("environment") or ""
        if value and not Cluster.objects.filter(environment=value).exists():
            raise forms.ValidationError("Unknown environment.")
        return value or None

    def clean_cluster(self) -> str | None:
        value = self.cleaned_data.get("cluster") or ""
        if value and not Cluster.objects.filter(name=value).exists():
            raise forms.ValidationError("Unknown cluster.")
        return value or None

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        squad = data.get("squad") or ""
        data["squad"] = _org_name(squad) if squad else None
        if data["squad"] and "tribe" in data:  # (no check when the tribe itself is invalid)
            squads = Squad.objects.filter(name=data["squad"])
            if data["tribe"] is not None:
                squads = squads.filter(tribe__name=data["tribe"])
            if not squads.exists():
                self.add_error("squad", "Unknown squad.")
        return data

    def scope(self) -> Scope:
        d = self.cleaned_data
        return Scope(
            tribe=d.get("tribe"),
            squad=d.get("squad"),
            environment=d.get("environment"),
            cluster=d.get("cluster"),
        )


class AsOfForm(ScopeForm):
    as_of = IsoDateField()

    def clean_as_of(self) -> date:
        return self.cleaned_data.get("as_of") or today()


class TargetsForm(ExportForm):
    as_of = IsoDateField()
    tribe = forms.CharField(required=False, max_length=100)

    def clean_as_of(self) -> date:
        return self.cleaned_data.get("as_of") or today()

    def clean_tribe(self) -> str | None:
        return _existing_tribe(self.cleaned_data.get("tribe"))


class MetricsForm(AsOfForm):
    group = forms.ChoiceField(
        choices=[(g, g) for g in METRICS_HEADERS], required=False, initial="tribe"
    )

    def clean_group(self) -> str:
        return self.cleaned_data.get("group") or "tribe"


class WorkloadsForm(AsOfForm):
    """The workload filters (shared with the workload table page)."""

    namespace = forms.CharField(required=False, max_length=253)
    state = forms.ChoiceField(choices=WORKLOAD_STATES, required=False)


class ReviewForm(ScopeForm):
    before = IsoDateField()
    after = IsoDateField()
    stuck_days = forms.IntegerField(required=False, min_value=0, max_value=3650)

    def clean_after(self) -> date:
        return self.cleaned_data.get("after") or today()

    def clean_stuck_days(self) -> int:
        value = self.cleaned_data.get("stuck_days")
        return 14 if value is None else value

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        after = data.get("after")
        if after is not None and "before" in data:
            if data["before"] is None:
                data["before"] = after - timedelta(days=14)
            elif data["before"] >= after:
                self.add_error("before", "Must be a day before 'after'.")
        return data


class SeriesForm(ScopeForm):
    metric = forms.ChoiceField(choices=metrics.CHOICES, required=False)
    start = IsoDateField()
    end = IsoDateField()

    def clean_metric(self) -> metrics.Metric:
        return metrics.Metric(self.cleaned_data.get("metric") or metrics.Metric.WORKLOADS_MESHED)

    def clean_end(self) -> date:
        return self.cleaned_data.get("end") or today()

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        end = data.get("end")
        if end is not None and "start" in data:
            if data["start"] is None:
                data["start"] = end - timedelta(days=89)
            elif data["start"] > end:
                self.add_error("start", "Must not be after 'end'.")
            elif (end - data["start"]).days + 1 > MAX_SERIES_DAYS:
                self.add_error("start", f"At most {MAX_SERIES_DAYS} days per export.")
        return data


def _bad_request(form: forms.Form) -> HttpResponseBadRequest:
    lines = [
        f"bad parameter {name!r}: {message}"
        for name, errors in form.errors.items()
        for message in errors
    ]
    return HttpResponseBadRequest("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


# --------------------------------------------------------------------------------------------
# Helpers


def _org(value: str) -> str:
    return value or UNASSIGNED


def rounded(metric: metrics.Metric | str, value: float | None) -> float | None:
    """Percentages to 1 decimal, absolute metrics to 3."""
    if value is None:
        return None
    return round(value, 1 if metrics.DEFS[metrics.Metric(metric)].is_percentage else 3)


def _unit(d: metrics.MetricDef | None) -> str:
    """``percent`` rather than ``%`` (a leading ``%`` is a formula trigger: it would be quoted)."""
    if d is None:
        return ""
    return "percent" if d.unit == "%" else d.unit


def _pct(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 1) if denominator else None


def _scope_slug(prefix: str, *parts: str | None) -> str:
    return "-".join([prefix, *(_org(p) for p in parts if p is not None)])


def _csv_response(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool, scope: str, day: date
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csvsafe.stream_csv(header, rows, bom=bom), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(
        True, csvsafe.export_filename(scope, day)
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _figures(point: Point) -> list[object]:
    s = point.sums
    counts = [s.get(c, 0) if point.clusters else None for c in COUNT_COLUMNS]
    values = [rounded(m, point.value(m)) for m in metrics.Metric]
    return [point.clusters, point.carried, *counts, *values]


# --------------------------------------------------------------------------------------------
# 1. targets.csv


def target_rows(as_of: date, tribe: str | None = None) -> list[list[object]]:
    targets = Target.objects.select_related("tribe", "squad", "cluster").order_by("due", "id")
    if tribe is not None:
        targets = targets.filter(tribe__name=tribe)
    rows = []
    for t in targets:
        p = review.target_progress(t, as_of)
        try:
            d: metrics.MetricDef | None = metrics.DEFS[metrics.Metric(t.metric)]
        except ValueError:
            d = None

        def num(v: float | None, d: metrics.MetricDef | None = d) -> float | None:
            return None if v is None or d is None else rounded(d.key, v)

        rows.append(
            [
                t.pk,
                t.scope,
                t.tribe.name if t.tribe else "",
                t.squad.name if t.squad else "",
                t.environment,
                t.cluster.name if t.cluster else "",
                t.metric,
                t.metric_label,
                _unit(d),
                t.start,
                t.due,
                num(t.value),
                num(p.baseline),
                num(p.actual),
                num(p.expected),
                p.status.value,
                p.forecast_date,
                num(p.projected_at_due),
                t.owner,
                t.note,
            ]
        )
    return rows


@require_GET
def targets_csv(request: HttpRequest) -> HttpResponseBase:
    form = TargetsForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    d = form.cleaned_data
    rows = target_rows(d["as_of"], d["tribe"])
    return _csv_response(
        TARGETS_HEADER,
        rows,
        bom=d["bom"],
        scope=_scope_slug("targets", d["tribe"]),
        day=d["as_of"],
    )


# --------------------------------------------------------------------------------------------
# 2. metrics.csv


def _sums(scope: Scope, day: date, group_by: str | None = None) -> Any:
    return sums_at(scope, [day], "day", group_by=group_by)


def metric_rows(scope: Scope, group: str, as_of: date) -> list[list[object]]:
    """Rows of ``metrics.csv`` for ``group`` (see `METRICS_HEADERS`)."""
    if group == "namespace":
        return _namespace_rows(scope, as_of)
    rows: list[list[object]] = []
    if group == "cluster":
        for c in sorted(review.scope_clusters(scope).values(), key=lambda c: c.name):
            point = _sums(Scope(scope.tribe, scope.squad, scope.environment, c.name), as_of)[0]
            rows.append([as_of, c.name, c.environment, *_figures(point)])
        return rows
    by_tribe: dict[str, list[Point]] = _sums(scope, as_of, "tribe")
    if group == "tribe":
        return [[as_of, _org(t), *_figures(by_tribe[t][0])] for t in sorted(by_tribe)]
    for tribe in sorted(by_tribe):
        sub = Scope(tribe, scope.squad, scope.environment, scope.cluster)
        by_squad: dict[str, list[Point]] = _sums(sub, as_of, "squad")
        rows.extend(
            [as_of, _org(tribe), _org(s), *_figures(by_squad[s][0])] for s in sorted(by_squad)
        )
    return rows


def _namespace_rows(scope: Scope, as_of: date) -> list[list[object]]:
    clusters = review.scope_clusters(scope)
    snaps = review.snapshots_on(as_of, clusters)
    qs = NamespaceObservation.objects.filter(snapshot_id__in=[s.pk for s in snaps.values()])
    if scope.tribe is not None:
        qs = qs.filter(tribe=scope.tribe)
    rows: list[list[object]] = []
    for ns in qs.order_by("namespace"):
        c = clusters[ns.cluster_id]
        rows.append(
            [
                as_of,
                c.name,
                c.environment,
                ns.observed_at,
                ns.namespace,
                _org(ns.tribe),
                ns.injection,
                ns.revision,
                ns.system,
                ns.pods_total,
                ns.pods_meshed,
                _pct(ns.pods_meshed, ns.pods_total),
                ns.workloads_total,
                ns.workloads_meshed,
                _pct(ns.workloads_meshed, ns.workloads_total),
            ]
        )
    rows.sort(key=lambda r: (str(r[1]), str(r[4])))
    return rows


@require_GET
def metrics_csv(request: HttpRequest) -> HttpResponseBase:
    form = MetricsForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    d = form.cleaned_data
    scope = form.scope()
    rows = metric_rows(scope, d["group"], d["as_of"])
    slug = _scope_slug(f"metrics-by-{d['group']}", scope.tribe, scope.squad)
    slug = "-".join([slug, *(x for x in (scope.environment, scope.cluster) if x)])
    return _csv_response(
        METRICS_HEADERS[d["group"]], rows, bom=d["bom"], scope=slug, day=d["as_of"]
    )


# --------------------------------------------------------------------------------------------
# 3. workloads.csv


def workload_rows_queryset(params: Mapping[str, Any]) -> QuerySet[WorkloadObservation]:
    """Workload observations of each in-scope cluster's last good snapshot on or before
    ``params["as_of"]`` (default today), filtered and ordered by cluster, namespace, kind, name.

    ``params`` are a `WorkloadsForm`'s cleaned data (any key may be missing or None = no
    filter): ``as_of``, ``cluster``, ``environment`` (names), ``tribe``, ``squad`` (``""`` =
    Unassigned), ``namespace`` (exact), ``state`` (a `WorkloadState` value). System namespaces
    are included (their workloads are ``ineligible``/idle; the ``system`` field tells them).
    """
    as_of = params.get("as_of") or today()
    scope = Scope(
        environment=params.get("environment") or None, cluster=params.get("cluster") or None
    )
    snaps = review.snapshots_on(as_of, review.scope_clusters(scope))
    qs = WorkloadObservation.objects.filter(snapshot_id__in=[s.pk for s in snaps.values()])
    for key in ("tribe", "squad"):
        if params.get(key) is not None:
            qs = qs.filter(**{key: params[key]})
    if params.get("namespace"):
        qs = qs.filter(namespace=params["namespace"])
    if params.get("state"):
        qs = qs.filter(state=params["state"])
    return qs.order_by("cluster__name", "namespace", "kind", "name")


def _workload_rows(qs: QuerySet[WorkloadObservation]) -> Iterator[list[object]]:
    tribe, squad, versions = (
        WORKLOADS_HEADER.index("tribe"),
        WORKLOADS_HEADER.index("squad"),
        WORKLOADS_HEADER.index("proxy_versions"),
    )
    for values in qs.values_list(*_WORKLOAD_FIELDS).iterator(chunk_size=2000):
        row = list(values)
        row[tribe] = _org(row[tribe])
        row[squad] = _org(row[squad])
        row[versions] = " ".join(str(v) for v in row[versions] or [])
        yield row


@require_GET
def workloads_csv(request: HttpRequest) -> HttpResponseBase:
    form = WorkloadsForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    d = form.cleaned_data
    slug = _scope_slug("workloads", d["cluster"], d["tribe"], d["squad"])
    slug = "-".join([slug, *(x for x in (d["namespace"], d["state"]) if x)])
    return _csv_response(
        WORKLOADS_HEADER,
        _workload_rows(workload_rows_queryset(d)),
        bom=d["bom"],
        scope=slug,
        day=d["as_of"],
    )


# --------------------------------------------------------------------------------------------
# 4. review.csv


def review_rows(rows: list[review.ReviewRow]) -> list[list[object]]:
    """Flatten `review.since_review` into ``REVIEW_HEADER`` rows: summaries, then details."""
    width = len(REVIEW_HEADER)
    col = {name: i for i, name in enumerate(REVIEW_HEADER)}

    def line(section: str, r: review.ReviewRow, **cells: object) -> list[object]:
        out: list[object] = [None] * width
        out[0], out[1], out[2] = section, _org(r.tribe), _org(r.squad)
        for k, v in cells.items():
            out[col[k]] = v
        return out

    out = [
        line(
            "summary",
            r,
            workloads_before=r.workloads_before,
            workloads_after=r.workloads_after,
            meshed_before=r.meshed_before,
            meshed_after=r.meshed_after,
            workloads_meshed_pct_before=_pct(r.meshed_before, r.workloads_before),
            workloads_meshed_pct_after=_pct(r.meshed_after, r.workloads_after),
            workloads_added=r.workloads_added,
            workloads_removed=r.workloads_removed,
            newly_meshed=r.newly_meshed,
            regressed=r.regressed,
            newly_missing_proxy=r.newly_missing,
            stuck_missing_proxy=r.stuck_missing,
            new_waivers=r.new_waivers,
            targets_changed=r.targets_changed,
        )
        for r in rows
    ]
    for r in rows:
        out.extend(
            line(
                "workload",
                r,
                change=c.change,
                cluster=c.cluster,
                namespace=c.namespace,
                kind=c.kind,
                name=c.name,
                state_before=c.state_before,
                state_after=c.state_after,
                missing_since=c.missing_since,
            )
            for c in r.changes
        )
    for r in rows:
        out.extend(
            line(
                "waiver",
                r,
                change="new-waiver",
                cluster=w.cluster,
                namespace=w.namespace,
                kind=w.workload_kind,
                name=w.workload_name,
                detail=w.reason,
            )
            for w in r.waivers
        )
    for r in rows:
        out.extend(
            line(
                "target",
                r,
                change="status-changed" if t.changed else "unchanged",
                target_id=t.target.pk,
                state_before=t.before.status.value,
                state_after=t.after.status.value,
                detail=str(t.target),
            )
            for t in r.targets
        )
    return out


@require_GET
def review_csv(request: HttpRequest) -> HttpResponseBase:
    form = ReviewForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    d = form.cleaned_data
    scope = form.scope()
    rows = review.since_review(scope, d["before"], d["after"], stuck_days=d["stuck_days"])
    slug = _scope_slug(f"review-since-{d['before'].isoformat()}", scope.tribe, scope.squad)
    slug = "-".join([slug, *(x for x in (scope.environment, scope.cluster) if x)])
    return _csv_response(REVIEW_HEADER, review_rows(rows), bom=d["bom"], scope=slug, day=d["after"])


# --------------------------------------------------------------------------------------------
# 5. series.csv


def series_rows(scope: Scope, metric: metrics.Metric, start: date, end: date) -> list[list[object]]:
    return [
        [p.at, rounded(metric, p.value(metric)), p.clusters, p.carried]
        for p in review.daily_series(scope, start, end)
    ]


@require_GET
def series_csv(request: HttpRequest) -> HttpResponseBase:
    form = SeriesForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    d = form.cleaned_data
    scope = form.scope()
    rows = series_rows(scope, d["metric"], d["start"], d["end"])
    slug = _scope_slug(f"series-{d['metric'].value}", scope.tribe, scope.squad)
    slug = "-".join([slug, *(x for x in (scope.environment, scope.cluster) if x)])
    return _csv_response(SERIES_HEADER, rows, bom=d["bom"], scope=slug, day=d["end"])


# --------------------------------------------------------------------------------------------
# 6. capacity.csv — per cluster, from its last good snapshot

CAPACITY_HEADER = (
    "cluster",
    "observed_at",
    "proxies",
    "istiod_replicas",
    "proxies_per_replica",
    "proxy_cpu_request_m",
    "proxy_memory_request_b",
    "cpu_request_per_proxy_m",
    "sidecar_cpu_share_pct",
    "sidecar_memory_share_pct",
    "metrics_api",
    "proxy_cpu_usage_m",
    "proxy_cpu_usage_p95_m",
    "proxy_memory_usage_b",
    "proxy_memory_usage_p95_b",
)


def capacity_rows() -> list[list[object]]:
    from .costs import cluster_rows

    def r1(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return [
        [
            row["cluster"],
            row["observed_at"],
            row["proxies"],
            row["istiod_replicas"],
            r1(row["proxies_per_replica"]),
            row["proxy_cpu_request_m"],
            row["proxy_memory_request_b"],
            r1(row["cpu_request_per_proxy_m"]),
            r1(row["sidecar_cpu_share"]),
            r1(row["sidecar_memory_share"]),
            row["metrics_api"],
            row["proxy_cpu_usage_m"],
            row["proxy_cpu_usage_p95_m"],
            row["proxy_memory_usage_b"],
            row["proxy_memory_usage_p95_b"],
        ]
        for row in cluster_rows()
    ]


@require_GET
def capacity_csv(request: HttpRequest) -> HttpResponseBase:
    form = ExportForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    return _csv_response(
        CAPACITY_HEADER,
        capacity_rows(),
        bom=form.cleaned_data["bom"],
        scope="capacity",
        day=today(),
    )
