"""CSV export routes, included under ``export/`` (see `adoption.export` for the parameters)."""

from __future__ import annotations

from django.urls import path

from . import export

app_name = "export"

urlpatterns = [
    path("targets.csv", export.targets_csv, name="targets"),
    path("metrics.csv", export.metrics_csv, name="metrics"),
    path("workloads.csv", export.workloads_csv, name="workloads"),
    path("review.csv", export.review_csv, name="review"),
    path("series.csv", export.series_csv, name="series"),
    path("capacity.csv", export.capacity_csv, name="capacity"),
]
