"""Template context shared by every page: navigation and the polling banner."""

from __future__ import annotations

from django.http import HttpRequest

from .models import Tribe
from .status import polling_paused


def navigation(request: HttpRequest) -> dict[str, object]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "nav_tribes": Tribe.objects.only("name"),
        "polling_paused": polling_paused(),
    }
