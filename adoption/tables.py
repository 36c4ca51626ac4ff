"""Sortable, paginated tables (django-tables2)."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html

from .models import WorkloadObservation

STATE_SYMBOL = {
    "meshed": "✓",
    "partial": "◐",
    "missing-proxy": "✗",
    "ambient-pending": "…",
    "opted-out": "⊘",
    "ineligible": "–",
    "not-enrolled": "○",
    "idle": "·",
}


def state_badge(state: str) -> str:
    return format_html(
        '<span class="state state-{}">{} {}</span>', state, STATE_SYMBOL.get(state, ""), state
    )


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f} Mi" if value else "—"


class WorkloadTable(tables.Table):
    cluster = tables.Column(accessor="cluster__name", verbose_name="Cluster")
    name = tables.Column(verbose_name="Workload", linkify=False)
    state = tables.Column()
    pods = tables.Column(empty_values=(), verbose_name="Pods meshed", order_by=("pods_meshed",))
    proxy_versions = tables.Column(verbose_name="Proxy", orderable=False)
    resilience = tables.Column(empty_values=(), orderable=False, verbose_name="Resilience")
    proxy_cpu_request_m = tables.Column(verbose_name="Proxy CPU (m)")
    proxy_memory_request_b = tables.Column(verbose_name="Proxy memory")

    class Meta:
        model = WorkloadObservation
        fields = ["cluster", "namespace", "kind", "name", "squad", "state", "reason"]
        sequence = [
            "cluster", "namespace", "kind", "name", "squad", "state", "pods", "proxy_versions",
            "resilience", "proxy_cpu_request_m", "proxy_memory_request_b", "reason",
        ]  # fmt: skip
        attrs = {"class": "data"}
        order_by = ("namespace", "name")

    def render_name(self, record: WorkloadObservation, value: str) -> str:
        from django.urls import reverse

        url = reverse(
            "adoption:workload",
            args=[record.cluster.name, record.namespace, record.kind, record.name],
        )
        return format_html('<a href="{}">{}</a>', url, value)

    def render_state(self, value: str, record: WorkloadObservation) -> str:
        badge = state_badge(value)
        if record.waived:
            badge = format_html('{} <span class="tag">waived</span>', badge)
        return badge

    def render_pods(self, record: WorkloadObservation) -> str:
        return f"{record.pods_meshed} / {record.pods_total}"

    def render_proxy_versions(self, value: list[str], record: WorkloadObservation) -> str:
        text = " ".join(value) or "—"
        if record.behind:
            return format_html(
                '{} <span class="tag warn">behind {}</span>', text, record.control_plane_version
            )
        return text

    def render_resilience(self, record: WorkloadObservation) -> Any:
        if not record.services:
            return "no Service"
        flags = [
            ("timeout", record.timeout),
            ("retries", record.retries),
            ("circuit breaking", record.circuit_breaking),
            ("outlier detection", record.outlier_detection),
        ]
        return ", ".join(name for name, on in flags if on) or "none"

    def render_proxy_memory_request_b(self, value: int) -> str:
        return _mib(value)


class TodoTable(tables.Table):
    """One list of a tribe's to-do (missing proxies, not enrolled, ...): sortable, paginated,
    each workload linked to its page. Subclasses add the list's own columns."""

    cluster = tables.Column(accessor="cluster__name", verbose_name="Cluster")
    workload = tables.Column(
        accessor="name", order_by=("namespace", "kind", "name"), verbose_name="Workload"
    )
    squad = tables.Column(verbose_name="Squad")

    class Meta:
        model = WorkloadObservation
        fields: list[str] = []
        attrs = {"class": "data"}
        template_name = "adoption/partials/todo_table.html"
        empty_text = "✓ None."

    def render_workload(self, record: WorkloadObservation) -> str:
        from django.urls import reverse

        url = reverse(
            "adoption:workload",
            args=[record.cluster.name, record.namespace, record.kind, record.name],
        )
        return format_html(
            '<a href="{}">{}/{}/{}</a>', url, record.namespace, record.kind, record.name
        )

    def render_squad(self, value: str) -> str:
        return value or "Unassigned"


class MissingProxyTable(TodoTable):
    missing_since = tables.Column(verbose_name="Missing since", default="—")
    reason = tables.Column(verbose_name="Why", orderable=False)
    command = tables.Column(empty_values=(), orderable=False, verbose_name="Command")

    class Meta(TodoTable.Meta):
        order_by = ("missing_since", "workload")
        empty_text = "✓ Nothing is missing a proxy."

    def render_missing_since(self, value: Any) -> str:
        from django.utils.timesince import timesince

        return f"{value:%Y-%m-%d} ({timesince(value)})"

    def render_command(self, record: WorkloadObservation) -> str:
        from .views.fleet import restart_command

        command = restart_command(record.cluster, record.namespace, record.kind, record.name)
        return format_html("<code>{}</code>", command) if command else "recreate its pods"


class NotEnrolledTable(TodoTable):
    reason = tables.Column(verbose_name="Why", orderable=False)

    class Meta(TodoTable.Meta):
        order_by = ("workload",)


class BehindTable(TodoTable):
    proxy_versions = tables.Column(verbose_name="Proxy runs", orderable=False)
    control_plane_version = tables.Column(verbose_name="Control plane")

    class Meta(TodoTable.Meta):
        order_by = ("workload",)

    def render_proxy_versions(self, value: list[str]) -> str:
        return ", ".join(value) or "—"


def _yes_no(value: bool) -> str:
    return "✓ yes" if value else "✗ no"


class NoResilienceTable(TodoTable):
    timeout = tables.Column(verbose_name="Timeout")
    retries = tables.Column(verbose_name="Retries")
    circuit_breaking = tables.Column(verbose_name="Circuit breaking")
    outlier_detection = tables.Column(verbose_name="Outlier detection")

    class Meta(TodoTable.Meta):
        order_by = ("workload",)

    def render_timeout(self, value: bool) -> str:
        return _yes_no(value)

    def render_retries(self, value: bool) -> str:
        return _yes_no(value)

    def render_circuit_breaking(self, value: bool) -> str:
        return _yes_no(value)

    def render_outlier_detection(self, value: bool) -> str:
        return _yes_no(value)
