"""Query-string filters (django-filter): a bad value is a form error, never a 500. The same
FilterSet feeds a table and its CSV export."""

from __future__ import annotations

import django_filters

from .models import WorkloadObservation

STATE_CHOICES = [
    (s, s)
    for s in (
        "meshed", "partial", "missing-proxy", "ambient-pending", "opted-out", "ineligible",
        "not-enrolled", "idle",
    )
]  # fmt: skip


class WorkloadFilter(django_filters.FilterSet):
    cluster = django_filters.CharFilter(field_name="cluster__name", label="Cluster")
    namespace = django_filters.CharFilter(lookup_expr="icontains", label="Namespace contains")
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    state = django_filters.MultipleChoiceFilter(choices=STATE_CHOICES)
    squad = django_filters.CharFilter(label="Squad")
    behind = django_filters.BooleanFilter(label="Proxy behind control plane")
    waived = django_filters.BooleanFilter(label="Waived")

    class Meta:
        model = WorkloadObservation
        fields = ["cluster", "namespace", "name", "state", "squad", "behind", "waived"]
