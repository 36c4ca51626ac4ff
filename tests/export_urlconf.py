"""The project's routes plus the CSV exports, until `adoption/urls.py` includes them."""

from __future__ import annotations

from django.urls import include, path

from meshboard.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("export/", include("adoption.urls_export")),
    *project_urlpatterns,
]
