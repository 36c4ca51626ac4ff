"""API representations. Read-only; names and values match the pages and CSV exports."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..models import Cluster, NamespaceObservation, Tribe, WorkloadObservation


class ClusterSerializer(serializers.ModelSerializer[Cluster]):
    last_success_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_status = serializers.CharField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True, allow_null=True)
    stale = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        # Connection details (paths to credentials) stay out of the API on purpose.
        fields = [
            "name",
            "environment",
            "enabled",
            "poll_interval",
            "last_success_at",
            "last_status",
            "last_error",
            "stale",
        ]

    def get_stale(self, obj: Cluster) -> bool:
        from django.utils import timezone

        last = getattr(obj, "last_success_at", None)
        return bool(obj.enabled and (last is None or timezone.now() - last > obj.stale_after()))


class TribeSerializer(serializers.ModelSerializer[Tribe]):
    squads = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Tribe
        fields = ["name", "squads"]


class NamespaceSerializer(serializers.ModelSerializer[NamespaceObservation]):
    cluster = serializers.CharField(source="cluster.name")

    class Meta:
        model = NamespaceObservation
        fields = [
            "cluster",
            "namespace",
            "observed_at",
            "tribe",
            "injection",
            "revision",
            "system",
            "pods_total",
            "pods_meshed",
            "workloads_total",
            "workloads_meshed",
            "conflicts",
        ]


class WorkloadSerializer(serializers.ModelSerializer[WorkloadObservation]):
    cluster = serializers.CharField(source="cluster.name")

    class Meta:
        model = WorkloadObservation
        fields = [
            "cluster",
            "namespace",
            "kind",
            "name",
            "observed_at",
            "tribe",
            "squad",
            "system",
            "state",
            "reason",
            "pods_total",
            "pods_meshed",
            "pods_missing",
            "mesh_mode",
            "injection_expected",
            "revision_requested",
            "revision_used",
            "proxy_versions",
            "control_plane_version",
            "behind",
            "proxy_cpu_request_m",
            "proxy_memory_request_b",
            "missing_since",
            "services",
            "timeout",
            "retries",
            "circuit_breaking",
            "outlier_detection",
            "mtls_mode",
            "diagnostics",
            "waived",
        ]


class SeriesPointSerializer(serializers.Serializer[Any]):
    day = serializers.DateField()
    value = serializers.FloatField(allow_null=True)
    clusters = serializers.IntegerField()
    clusters_carried_forward = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer[Any]):
    baseline = serializers.FloatField(allow_null=True)
    actual = serializers.FloatField(allow_null=True)
    expected = serializers.FloatField(allow_null=True)
    status = serializers.CharField()
    forecast_date = serializers.DateField(allow_null=True)
    trend_per_day = serializers.FloatField(allow_null=True)
    projected_at_due = serializers.FloatField(allow_null=True)


class TargetSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    scope = serializers.CharField()
    tribe = serializers.CharField(allow_null=True)
    squad = serializers.CharField(allow_null=True)
    environment = serializers.CharField()
    cluster = serializers.CharField(allow_null=True)
    metric = serializers.CharField()
    value = serializers.FloatField()
    start = serializers.DateField()
    due = serializers.DateField()
    owner = serializers.CharField()
    note = serializers.CharField()
    progress = ProgressSerializer()


class ReviewRowSerializer(serializers.Serializer[Any]):
    tribe = serializers.CharField()
    squad = serializers.CharField()
    workloads_before = serializers.IntegerField()
    workloads_after = serializers.IntegerField()
    meshed_before = serializers.IntegerField()
    meshed_after = serializers.IntegerField()
    newly_meshed = serializers.IntegerField()
    regressed = serializers.IntegerField()
    newly_missing = serializers.IntegerField()
    stuck_missing = serializers.IntegerField()
    new_waivers = serializers.IntegerField()
    targets_changed = serializers.IntegerField()
