from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import views

app_name = "api"


def api(view: Any) -> Any:
    """DRF authenticates API requests itself (session or token, then IsAuthenticated), so the
    login-redirect middleware must not turn a token request into a redirect."""
    return login_not_required(view.as_view())


urlpatterns = [
    path("clusters/", api(views.ClusterList), name="clusters"),
    path("clusters/<str:name>/", api(views.ClusterDetail), name="cluster"),
    path("tribes/", api(views.TribeList), name="tribes"),
    path("namespaces/", api(views.NamespaceList), name="namespaces"),
    path("workloads/", api(views.WorkloadList), name="workloads"),
    path("series/", api(views.SeriesView), name="series"),
    path("targets/", api(views.TargetList), name="targets"),
    path("review/", api(views.ReviewView), name="review"),
    path("capacity/", api(views.CapacityView), name="capacity"),
]
