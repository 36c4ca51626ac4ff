"""meshboard: Istio adoption per tribe and squad, across clusters, against OKR targets."""

from .celery import app as celery_app

__all__ = ("celery_app",)
