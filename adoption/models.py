"""Clusters, their polls (snapshots) and what each poll observed.

"Thing + timestamped observations": a `Cluster` is polled into `Snapshot`s; each successful
snapshot owns one `NamespaceObservation` per namespace. A snapshot's observations are written in
the same transaction that marks it ``ok``, so readers never see a half-written poll.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse


class AuthMethod(models.TextChoices):
    KUBECONFIG = "kubeconfig", "Kubeconfig file + context"
    IN_CLUSTER = "in_cluster", "In-cluster service account"
    TOKEN = "token", "API URL + token file"


class SnapshotStatus(models.TextChoices):
    """Poll outcome; the colour is reused by badges and charts (never the only signal)."""

    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return {"running": "#888888", "ok": "#117733", "failed": "#CC6677"}[self.value]


class ClusterQuerySet(models.QuerySet["Cluster"]):
    def enabled(self) -> ClusterQuerySet:
        return self.filter(enabled=True)

    def due(self, now: datetime) -> ClusterQuerySet:
        """Enabled clusters whose next poll time has come (or that were never polled)."""
        return self.enabled().filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))

    def with_latest_snapshot(self) -> ClusterQuerySet:
        """Annotate the last successful and the last attempted poll (one query, no N+1)."""
        snaps = Snapshot.objects.filter(cluster=OuterRef("pk")).order_by("-started_at")
        ok = snaps.filter(status=SnapshotStatus.OK)
        failed = snaps.filter(status=SnapshotStatus.FAILED)
        return self.annotate(
            last_success_at=Subquery(ok.values("finished_at")[:1]),
            last_success_duration_ms=Subquery(ok.values("duration_ms")[:1]),
            last_attempt_at=Subquery(snaps.values("started_at")[:1]),
            last_status=Subquery(snaps.values("status")[:1]),
            last_error=Subquery(failed.values("error")[:1]),
            last_error_at=Subquery(failed.values("started_at")[:1]),
        )


_name_validator = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "Use lowercase letters, digits and '-' (a DNS label)."
)


class Cluster(models.Model):
    """A Kubernetes cluster meshboard polls.

    Credentials are never stored here: the row *references* a kubeconfig file (+ context), the
    in-cluster service account, or an API URL with a token file, all mounted from Secrets.
    """

    name = models.CharField(max_length=63, unique=True, validators=[_name_validator])
    environment = models.CharField(
        max_length=40, default="production", help_text="e.g. production, staging"
    )
    auth_method = models.CharField(
        max_length=20, choices=AuthMethod.choices, default=AuthMethod.KUBECONFIG
    )
    kubeconfig_path = models.CharField(
        max_length=500, blank=True, help_text="Path to a kubeconfig file mounted on the workers."
    )
    context = models.CharField(
        max_length=253, blank=True, help_text="Kubeconfig context; empty = current-context."
    )
    api_url = models.URLField(blank=True, help_text="API server URL (token method).")
    token_file = models.CharField(
        max_length=500,
        blank=True,
        help_text="Path to a file holding the bearer token (token method).",
    )
    ca_file = models.CharField(
        max_length=500, blank=True, help_text="CA bundle for the API server (token method)."
    )
    poll_interval = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(10)], help_text="Seconds between polls."
    )
    enabled = models.BooleanField(default=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # the beat tick's "due" query
            models.Index(fields=["enabled", "next_poll_at"], name="cluster_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("adoption:cluster", args=[self.name])

    def clean(self) -> None:
        if self.auth_method == AuthMethod.KUBECONFIG and not self.kubeconfig_path:
            raise ValidationError({"kubeconfig_path": "Required for the kubeconfig method."})
        if self.auth_method == AuthMethod.TOKEN:
            errors = {}
            if not self.api_url:
                errors["api_url"] = "Required for the token method."
            if not self.token_file:
                errors["token_file"] = "Required for the token method."
            if errors:
                raise ValidationError(errors)

    def stale_after(self) -> timedelta:
        """A cluster's figures are stale after two missed intervals (DESIGN §3)."""
        return timedelta(seconds=2 * self.poll_interval)


class SnapshotQuerySet(models.QuerySet["Snapshot"]):
    def ok(self) -> SnapshotQuerySet:
        return self.filter(status=SnapshotStatus.OK)


class Snapshot(models.Model):
    """One poll of one cluster. Visible to readers only when ``status == ok``."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="snapshots")
    started_at = models.DateTimeField(
        help_text="Scheduled start; the idempotency key with the cluster."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=SnapshotStatus.choices, default=SnapshotStatus.RUNNING
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    bytes_read = models.BigIntegerField(default=0)
    objects_seen = models.PositiveIntegerField(default=0)
    api_version = models.CharField(max_length=60, blank=True)
    istio_versions = models.JSONField(default=dict, blank=True)
    gaps = models.JSONField(
        default=list, blank=True, help_text="Resources that could not be read (e.g. 403)."
    )
    namespaces_total = models.PositiveIntegerField(default=0)
    pods_total = models.PositiveIntegerField(default=0)
    pods_meshed = models.PositiveIntegerField(default=0)

    objects = SnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # at-least-once delivery: a redelivered poll finds its own row instead of duplicating
            models.UniqueConstraint(
                fields=["cluster", "started_at"], name="snapshot_unique_per_start"
            ),
        ]
        indexes = [
            # latest ok snapshot per cluster; the series query
            models.Index(fields=["cluster", "status", "-started_at"], name="snapshot_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id}@{self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"


class NamespaceObservation(models.Model):
    """What one snapshot saw in one namespace."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="namespaces")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    observed_at = models.DateTimeField(
        help_text="Copy of the snapshot's start, for series queries."
    )
    namespace = models.CharField(max_length=253)
    tribe = models.CharField(max_length=100, blank=True)
    injection = models.CharField(
        max_length=30, help_text="Namespace class, e.g. sidecar-default, ambient."
    )
    revision = models.CharField(max_length=100, blank=True)
    system = models.BooleanField(default=False)
    pods_total = models.PositiveIntegerField(default=0)
    pods_meshed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "namespace"], name="nsobs_unique"),
        ]
        indexes = [
            # per-namespace series over time for one cluster
            models.Index(fields=["cluster", "namespace", "observed_at"], name="nsobs_series_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace} ({self.pods_meshed}/{self.pods_total})"

    @property
    def meshed_share(self) -> float | None:
        return self.pods_meshed / self.pods_total if self.pods_total else None
