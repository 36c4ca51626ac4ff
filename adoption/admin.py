from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Cluster, NamespaceObservation, Snapshot


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin[Cluster]):
    list_display = (
        "name",
        "environment",
        "auth_method",
        "poll_interval",
        "enabled",
        "next_poll_at",
    )
    list_filter = ("environment", "enabled", "auth_method")
    search_fields = ("name",)
    actions = ("poll_now",)

    @admin.action(description="Poll at the next beat tick")
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Cluster]) -> None:
        updated = queryset.update(next_poll_at=None)
        self.message_user(request, f"{updated} cluster(s) will be polled at the next tick.")


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin[Snapshot]):
    list_display = (
        "cluster",
        "started_at",
        "status",
        "duration_ms",
        "objects_seen",
        "pods_meshed",
        "pods_total",
    )
    list_filter = ("status", "cluster")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in Snapshot._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(NamespaceObservation)
class NamespaceObservationAdmin(admin.ModelAdmin[NamespaceObservation]):
    list_display = ("namespace", "cluster", "observed_at", "injection", "pods_meshed", "pods_total")
    list_filter = ("cluster", "injection", "system")
    search_fields = ("namespace", "tribe")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
