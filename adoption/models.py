"""Clusters, their polls (snapshots) and what each poll observed.

"Thing + timestamped observations": a `Cluster` is polled into `Snapshot`s; each successful
snapshot owns one `NamespaceObservation` per namespace. A snapshot's observations are written in
the same transaction that marks it ``ok``, so readers never see a half-written poll.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

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
    capacity = models.JSONField(
        default=dict,
        blank=True,
        help_text="istiod replicas/resources/HPA, proxy requests and usage",
    )
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
    workloads_total = models.PositiveIntegerField(default=0)
    workloads_meshed = models.PositiveIntegerField(default=0)
    conflicts = models.JSONField(default=list, blank=True)
    labels = models.JSONField(
        default=dict, blank=True, help_text="kept to re-resolve tribes after a reorg"
    )

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


class Tribe(models.Model):
    """A tribe of the org chart: owns namespaces. Created on first sight at poll time."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Squad(models.Model):
    """A squad: owns workloads, belongs to one tribe."""

    tribe = models.ForeignKey(Tribe, on_delete=models.CASCADE, related_name="squads")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["tribe__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tribe", "name"], name="squad_unique_in_tribe")
        ]

    def __str__(self) -> str:
        return f"{self.tribe.name}/{self.name}"


class RuleKind(models.TextChoices):
    TRIBE = "tribe", "Namespace → tribe"
    SQUAD = "squad", "Workload → squad"


class OwnershipRule(models.Model):
    """An explicit mapping that beats the labels.

    Tribe rules match a cluster name glob and a namespace glob; squad rules match a namespace
    glob and a workload name glob. The lowest ``priority`` wins, then the most specific pattern.
    """

    kind = models.CharField(max_length=10, choices=RuleKind.choices)
    cluster_pattern = models.CharField(
        max_length=100, default="*", help_text="glob on the cluster name"
    )
    namespace_pattern = models.CharField(
        max_length=253, default="*", help_text="glob on the namespace"
    )
    workload_pattern = models.CharField(
        max_length=253, default="*", help_text="glob on the workload name (squad rules)"
    )
    value = models.CharField(max_length=100, help_text="tribe or squad name")
    priority = models.PositiveSmallIntegerField(default=100)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "cluster_pattern", "namespace_pattern", "workload_pattern"],
                name="ownership_rule_unique",
            )
        ]

    def __str__(self) -> str:
        where = f"{self.cluster_pattern}/{self.namespace_pattern}/{self.workload_pattern}"
        return f"{self.kind}: {where} → {self.value}"


class WorkloadObservation(models.Model):
    """What one snapshot saw of one workload (the classifier's record, flattened)."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="workloads")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    observed_at = models.DateTimeField()
    namespace = models.CharField(max_length=253)
    kind = models.CharField(max_length=40)
    name = models.CharField(max_length=253)
    tribe = models.CharField(max_length=100, blank=True)
    squad = models.CharField(max_length=100, blank=True)
    squad_label = models.CharField(
        max_length=100,
        blank=True,
        help_text="value of the squad label at poll time (for re-resolution)",
    )
    system = models.BooleanField(default=False)
    state = models.CharField(max_length=20)
    reason = models.TextField(blank=True)
    pods_total = models.PositiveIntegerField(default=0)
    pods_meshed = models.PositiveIntegerField(default=0)
    pods_missing = models.PositiveIntegerField(default=0)
    mesh_mode = models.CharField(max_length=20, default="none")
    injection_expected = models.BooleanField(default=False)
    revision_requested = models.CharField(max_length=100, blank=True)
    revision_used = models.CharField(max_length=100, blank=True)
    proxy_versions = models.JSONField(default=list)
    control_plane_version = models.CharField(max_length=60, blank=True)
    behind = models.BooleanField(default=False)
    proxy_cpu_request_m = models.BigIntegerField(default=0)
    proxy_cpu_limit_m = models.BigIntegerField(default=0)
    proxy_memory_request_b = models.BigIntegerField(default=0)
    proxy_memory_limit_b = models.BigIntegerField(default=0)
    missing_since = models.DateTimeField(null=True, blank=True)
    services = models.JSONField(default=list)
    has_virtualservice = models.BooleanField(default=False)
    has_destinationrule = models.BooleanField(default=False)
    timeout = models.BooleanField(default=False)
    retries = models.BooleanField(default=False)
    fault = models.BooleanField(default=False)
    circuit_breaking = models.BooleanField(default=False)
    outlier_detection = models.BooleanField(default=False)
    mtls_mode = models.CharField(max_length=20, default="UNSET")
    diagnostics = models.JSONField(default=list)
    waived = models.BooleanField(
        default=False, help_text="an active waiver covered it at poll time"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "namespace", "kind", "name"], name="wlobs_unique"
            ),
        ]
        indexes = [
            # a workload's own history (workload page)
            models.Index(
                fields=["cluster", "namespace", "kind", "name", "observed_at"],
                name="wlobs_history_idx",
            ),
            # a tribe's / squad's to-do list in the current snapshot
            models.Index(fields=["snapshot", "tribe", "squad"], name="wlobs_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name} {self.state}"


class RollupCounts(models.Model):
    """Every count the metrics of DESIGN §3 need, for one (cluster, tribe, squad) group.

    Workload counts leave out system namespaces; ``workloads_total`` leaves out idle workloads
    (they are counted in ``workloads_idle``). Namespace counts sit on the tribe's rows with an
    empty squad (namespaces belong to tribes, not squads).
    """

    tribe = models.CharField(max_length=100, blank=True)
    squad = models.CharField(max_length=100, blank=True)
    workloads_total = models.PositiveIntegerField(default=0)
    workloads_meshed = models.PositiveIntegerField(default=0)
    workloads_partial = models.PositiveIntegerField(default=0)
    workloads_missing = models.PositiveIntegerField(default=0)
    workloads_opted_out = models.PositiveIntegerField(default=0)
    workloads_ineligible = models.PositiveIntegerField(default=0)
    workloads_not_enrolled = models.PositiveIntegerField(default=0)
    workloads_ambient_pending = models.PositiveIntegerField(default=0)
    workloads_idle = models.PositiveIntegerField(default=0)
    workloads_waived = models.PositiveIntegerField(
        default=0, help_text="under an active waiver, not meshed, opted out or ineligible"
    )
    workloads_behind = models.PositiveIntegerField(default=0)
    meshed_with_service = models.PositiveIntegerField(default=0)
    resilience_timeouts = models.PositiveIntegerField(default=0)
    resilience_retries = models.PositiveIntegerField(default=0)
    resilience_circuit_breaking = models.PositiveIntegerField(default=0)
    resilience_outlier_detection = models.PositiveIntegerField(default=0)
    pods_total = models.PositiveIntegerField(default=0)
    pods_meshed = models.PositiveIntegerField(default=0)
    namespaces_total = models.PositiveIntegerField(default=0)
    namespaces_enabled = models.PositiveIntegerField(default=0)
    proxy_cpu_request_m = models.BigIntegerField(default=0)
    proxy_memory_request_b = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


# The count columns, carried in the covering indexes the series query reads (index-only scans).
COUNT_COLUMNS = [
    f.name for f in RollupCounts._meta.local_fields if f.name not in ("tribe", "squad")
]


class SnapshotRollup(RollupCounts):
    """Per good snapshot (recent window): the fine-grained series."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="rollups")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    observed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "tribe", "squad"], name="snaprollup_unique"
            ),
        ]
        indexes = [
            # org/tribe series over a time range
            models.Index(fields=["observed_at", "tribe"], name="snaprollup_series_idx"),
            # each cluster's latest rollup at or before a point in time (carry-forward series)
            models.Index(fields=["cluster", "observed_at"], name="snaprollup_cluster_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id} {self.tribe}/{self.squad}"


class DailyCounts(RollupCounts):
    """`RollupCounts` of one day and cluster, from that day's last good snapshot."""

    day = models.DateField()
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.SET_NULL, null=True, related_name="+")
    observed_at = models.DateTimeField()

    class Meta:
        abstract = True


class DailyRollup(DailyCounts):
    """Per (day, cluster, tribe, squad): the figures of the cluster's last good snapshot that day.

    Kept forever; every long-range page, chart and export is an aggregate over these rows.
    """

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "cluster", "tribe", "squad"], name="dailyrollup_unique"
            ),
        ]
        indexes = [
            # org/tribe/squad series over a date range
            models.Index(fields=["day", "tribe", "squad"], name="dailyrollup_series_idx"),
            # each cluster's latest day at or before a given day (carry-forward series)
            models.Index(fields=["cluster", "day"], name="dailyrollup_cluster_idx"),
            # a tribe's (or squad's) rows at those (cluster, day) pairs
            models.Index(fields=["tribe", "cluster", "day"], name="dailyrollup_tribe_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.cluster_id} {self.tribe}/{self.squad}"


class DailyTotal(DailyCounts):
    """Per (day, cluster): a `DailyRollup` day summed over tribes and squads.

    The org-wide series reads these — one row per cluster and day instead of one per group —
    which keeps a year × 20 clusters under the page budget (see benchmarks/bench_series.py).
    """

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "day"], name="dailytotal_unique")]
        indexes = [
            # the carry-forward probe of the org-wide series: a cluster's latest day at or before
            # a point and its figures, from the index alone
            models.Index(
                fields=["cluster", "day"], include=COUNT_COLUMNS, name="dailytotal_series_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.cluster_id} total"


class DailyTribeTotal(DailyCounts):
    """Per (day, cluster, tribe): a `DailyRollup` day summed over the tribe's squads (its
    namespace row included; ``squad`` is always empty).

    Tribe-scoped and per-tribe series read these — one row per cluster, day and tribe instead of
    one per squad. Written with the day's `DailyRollup` rows (`store.write_rollups`), so
    re-resolution keeps it right; retention never deletes daily rows.
    """

    class Meta:
        constraints = [
            # also the series query's index: a cluster's tribe row(s) at its carried-forward day
            models.UniqueConstraint(
                fields=["cluster", "day", "tribe"],
                include=COUNT_COLUMNS,
                name="dailytribetotal_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.cluster_id} {self.tribe} total"


class ScopeKind(models.TextChoices):
    ORG = "org", "Whole organisation"
    TRIBE = "tribe", "Tribe"
    SQUAD = "squad", "Squad"


class Target(models.Model):
    """An OKR target: a metric to reach in a scope by a due date. Baseline = value at start."""

    scope = models.CharField(max_length=10, choices=ScopeKind.choices, default=ScopeKind.ORG)
    tribe = models.ForeignKey(
        Tribe, on_delete=models.CASCADE, null=True, blank=True, related_name="targets"
    )
    squad = models.ForeignKey(
        Squad, on_delete=models.CASCADE, null=True, blank=True, related_name="targets"
    )
    environment = models.CharField(
        max_length=40, blank=True, help_text="only clusters of this environment"
    )
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, null=True, blank=True, related_name="targets"
    )
    metric = models.CharField(max_length=40)
    value = models.FloatField(help_text="target value (0–100 for percentages)")
    start = models.DateField()
    due = models.DateField()
    owner = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due", "id"]

    def __str__(self) -> str:
        return f"{self.metric_label} ≥ {self.value:g} by {self.due} ({self.scope_label})"

    @property
    def metric_label(self) -> str:
        from .metrics import DEFS, Metric

        try:
            return DEFS[Metric(self.metric)].label
        except ValueError:
            return self.metric

    @property
    def scope_label(self) -> str:
        if self.scope == ScopeKind.SQUAD and self.squad_id:
            return f"squad {self.squad}"
        if self.scope == ScopeKind.TRIBE and self.tribe_id:
            return f"tribe {self.tribe}"
        label = "whole org"
        if self.environment:
            label += f", {self.environment}"
        if self.cluster_id:
            label += f", cluster {self.cluster}"
        return label

    def clean(self) -> None:
        from .metrics import DEFS, Metric

        errors: dict[str, str] = {}
        try:
            d = DEFS[Metric(self.metric)]
        except ValueError:
            errors["metric"] = "Unknown metric."
        else:
            low, high = d.bounds
            if self.value is not None and (
                self.value < low or (high is not None and self.value > high)
            ):
                errors["value"] = (
                    f"Must be between {low:g} and {high:g}." if high else f"Must be ≥ {low:g}."
                )
        if self.start and self.due and self.due <= self.start:
            errors["due"] = "The due date must be after the start date."
        if self.scope == ScopeKind.TRIBE and not self.tribe_id:
            errors["tribe"] = "Choose the tribe."
        if self.scope == ScopeKind.SQUAD and not self.squad_id:
            errors["squad"] = "Choose the squad."
        if self.scope != ScopeKind.SQUAD and self.squad_id:
            errors["squad"] = "Only squad targets name a squad."
        if self.scope == ScopeKind.ORG and self.tribe_id:
            errors["tribe"] = "An org-wide target names no tribe."
        if errors:
            raise ValidationError(errors)
        if self.scope == ScopeKind.SQUAD and self.squad is not None:
            self.tribe_id = self.squad.tribe_id


class WaiverQuerySet(models.QuerySet["Waiver"]):
    def active_on(self, day: date) -> WaiverQuerySet:
        """Waivers in force on ``day``: created on or before it, expiring after it."""
        return self.filter(created_at__date__lte=day, expires_on__gt=day)


class Waiver(models.Model):
    """An approved exception: a workload (or a whole namespace) left out of the "of eligible"
    denominator until it expires (it stops counting on its expiry day)."""

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, null=True, blank=True, help_text="empty = every cluster"
    )
    namespace = models.CharField(max_length=253)
    workload_kind = models.CharField(
        max_length=40, blank=True, help_text="empty = the whole namespace"
    )
    workload_name = models.CharField(max_length=253, blank=True)
    reason = models.TextField()
    approver = models.CharField(max_length=100)
    expires_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["expires_on", "namespace", "workload_name"]
        indexes = [
            # waivers in force at poll time
            models.Index(fields=["expires_on"], name="waiver_expiry_idx"),
        ]

    def __str__(self) -> str:
        what = f"{self.workload_kind}/{self.workload_name}" if self.workload_name else "namespace"
        return f"{self.namespace} {what} until {self.expires_on}"

    def clean(self) -> None:
        if bool(self.workload_kind) != bool(self.workload_name):
            raise ValidationError(
                "Give both the workload kind and name, or neither (whole namespace)."
            )

    def covers(self, cluster_id: int, namespace: str, kind: str, name: str) -> bool:
        if self.cluster_id and self.cluster_id != cluster_id:
            return False
        if self.namespace != namespace:
            return False
        return not self.workload_name or (self.workload_kind == kind and self.workload_name == name)
