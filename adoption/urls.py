from __future__ import annotations

from django.urls import path

from . import views

app_name = "adoption"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("clusters/<slug:name>/", views.cluster_detail, name="cluster"),
]
