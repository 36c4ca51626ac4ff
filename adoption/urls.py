from __future__ import annotations

from django.urls import path

from . import views

app_name = "adoption"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("tribes/<str:tribe>/", views.tribe_detail, name="tribe"),
    path("tribes/<str:tribe>/todo/<slug:key>/", views.tribe_todo, name="tribe-todo"),
    path("tribes/<str:tribe>/squads/<str:squad>/", views.squad_detail, name="squad"),
    path("clusters/", views.cluster_list, name="clusters"),
    path("clusters/<slug:name>/", views.cluster_detail, name="cluster"),
    path(
        "clusters/<slug:cluster>/workloads/<str:namespace>/<str:kind>/<str:name>/",
        views.workload_detail,
        name="workload",
    ),
    path("targets/", views.target_list, name="targets"),
    path("targets/new/", views.target_edit, name="target-new"),
    path("targets/<int:pk>/edit/", views.target_edit, name="target-edit"),
    path("waivers/", views.waiver_list, name="waivers"),
    path("waivers/new/", views.waiver_create, name="waiver-new"),
]
