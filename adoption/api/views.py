"""Read-only REST API, ``/api/v1/``: the same queries as the pages and exports.

Query parameters are validated by the export forms (one definition of each parameter); a bad
value is a 400 with ``{"errors": {parameter: [messages]}}``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, TypeVar

from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import export, review
from ..models import Cluster, NamespaceObservation, Tribe
from . import serializers as s


class BadParameters(Exception):
    def __init__(self, form: forms.Form) -> None:
        self.errors = {k: [str(m) for m in v] for k, v in form.errors.items()}


F = TypeVar("F", bound=forms.Form)


def _form(form_class: type[F], request: Request) -> F:
    form = form_class(request.query_params)
    if not form.is_valid():
        raise BadParameters(form)
    return form


def _param(name: str, kind: Any = str, description: str = "") -> OpenApiParameter:
    return OpenApiParameter(
        name, kind, OpenApiParameter.QUERY, required=False, description=description
    )


SCOPE = [
    _param("tribe", description="tribe name (Unassigned for unmapped)"),
    _param("squad", description="squad name (Unassigned for unmapped)"),
    _param("environment"),
    _param("cluster"),
]
AS_OF = _param("as_of", OpenApiTypes.DATE, "day (default today, UTC)")
# 400: a malformed parameter; 404: a page past the end of a list.
BAD = {400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT}


class ParamsMixin:
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, BadParameters):
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)  # type: ignore[misc]


class ClusterList(generics.ListAPIView[Cluster]):
    """Clusters with their poll health (last success, last error, staleness)."""

    serializer_class = s.ClusterSerializer
    queryset = Cluster.objects.with_latest_snapshot()

    @extend_schema(responses={200: s.ClusterSerializer(many=True), **BAD})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ClusterDetail(generics.RetrieveAPIView[Cluster]):
    serializer_class = s.ClusterSerializer
    queryset = Cluster.objects.with_latest_snapshot()
    lookup_field = "name"

    @extend_schema(responses={200: s.ClusterSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TribeList(generics.ListAPIView[Tribe]):
    """The org chart: tribes and their squads."""

    serializer_class = s.TribeSerializer
    queryset = Tribe.objects.prefetch_related("squads")

    @extend_schema(responses={200: s.TribeSerializer(many=True), **BAD})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class NamespaceList(ParamsMixin, generics.ListAPIView[NamespaceObservation]):
    """Namespaces as of a day (each cluster's last good snapshot on or before it)."""

    serializer_class = s.NamespaceSerializer

    @extend_schema(
        parameters=[AS_OF, *SCOPE], responses={200: s.NamespaceSerializer(many=True), **BAD}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        form = _form(export.AsOfForm, self.request)
        d = form.cleaned_data
        snaps = review.snapshots_on(d["as_of"], review.scope_clusters(form.scope()))
        qs = NamespaceObservation.objects.filter(snapshot_id__in=[x.pk for x in snaps.values()])
        if d.get("tribe") is not None:
            qs = qs.filter(tribe=d["tribe"])
        return qs.select_related("cluster").order_by("cluster__name", "namespace")


class WorkloadList(ParamsMixin, generics.ListAPIView[Any]):
    """Workloads as of a day, filtered exactly like the workload CSV export."""

    serializer_class = s.WorkloadSerializer

    @extend_schema(
        parameters=[AS_OF, *SCOPE, _param("namespace"), _param("state")],
        responses={200: s.WorkloadSerializer(many=True), **BAD},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        form = _form(export.WorkloadsForm, self.request)
        return export.workload_rows_queryset(form.cleaned_data).select_related("cluster")


class SeriesView(ParamsMixin, APIView):
    """A metric's daily series (each cluster's last good figures carried forward)."""

    @extend_schema(
        parameters=[
            _param("metric"),
            _param("start", OpenApiTypes.DATE),
            _param("end", OpenApiTypes.DATE),
            *SCOPE,
        ],
        responses={200: s.SeriesPointSerializer(many=True), **BAD},
    )
    def get(self, request: Request) -> Response:
        form = _form(export.SeriesForm, request)
        d = form.cleaned_data
        rows = export.series_rows(form.scope(), d["metric"], d["start"], d["end"])
        keys = ["day", "value", "clusters", "clusters_carried_forward"]
        return Response(
            s.SeriesPointSerializer([dict(zip(keys, r, strict=True)) for r in rows], many=True).data
        )


class TargetList(ParamsMixin, APIView):
    """Targets with their progress as of a day."""

    @extend_schema(
        parameters=[AS_OF, _param("tribe")], responses={200: s.TargetSerializer(many=True), **BAD}
    )
    def get(self, request: Request) -> Response:
        from ..models import Target

        d = _form(export.TargetsForm, request).cleaned_data
        targets = Target.objects.select_related("tribe", "squad", "cluster")
        if d.get("tribe") is not None:
            targets = targets.filter(tribe__name=d["tribe"])
        data = []
        for t in targets:
            p = review.target_progress(t, d["as_of"])
            data.append(
                {
                    "id": t.pk,
                    "scope": t.scope,
                    "tribe": t.tribe.name if t.tribe else None,
                    "squad": t.squad.name if t.squad else None,
                    "environment": t.environment,
                    "cluster": t.cluster.name if t.cluster else None,
                    "metric": t.metric,
                    "value": t.value,
                    "start": t.start,
                    "due": t.due,
                    "owner": t.owner,
                    "note": t.note,
                    "progress": {
                        "baseline": p.baseline,
                        "actual": p.actual,
                        "expected": p.expected,
                        "status": p.status.value,
                        "forecast_date": p.forecast_date,
                        "trend_per_day": p.trend_per_day,
                        "projected_at_due": p.projected_at_due,
                    },
                }
            )
        return Response(s.TargetSerializer(data, many=True).data)


class ReviewView(ParamsMixin, APIView):
    """What changed per tribe and squad between two days (the OKR review diff)."""

    @extend_schema(
        parameters=[
            _param("before", OpenApiTypes.DATE),
            _param("after", OpenApiTypes.DATE),
            _param("stuck_days", int),
            *SCOPE,
        ],
        responses={200: s.ReviewRowSerializer(many=True), **BAD},
    )
    def get(self, request: Request) -> Response:
        form = _form(export.ReviewForm, request)
        d = form.cleaned_data
        rows = review.since_review(
            form.scope(), d["before"], d["after"], stuck_days=d["stuck_days"]
        )
        return Response(s.ReviewRowSerializer(rows, many=True).data)


class CapacityView(ParamsMixin, APIView):
    """Per cluster: proxies, requests, usage, istiod load; per target: what meeting it adds."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **BAD})
    def get(self, request: Request) -> Response:
        from django.utils import timezone

        from .. import costs
        from ..models import Target

        today = timezone.now().date()
        targets = []
        for t in Target.objects.select_related("tribe", "squad", "cluster"):
            p = costs.target_projection(t, review.target_progress(t, today).actual)
            targets.append(
                {
                    "id": t.pk,
                    "metric": t.metric,
                    "value": t.value,
                    "projection": None if p is None else asdict(p),
                }
            )
        clusters = [
            {**row, "observed_at": row["observed_at"].isoformat()} for row in costs.cluster_rows()
        ]
        return Response({"clusters": clusters, "targets": targets})
