"""Forms: page filters (query strings) and the staff edit forms for targets and waivers.

A bad value is a form error shown on the page (or a 400 for exports), never a 500.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.utils import timezone

from . import metrics
from .models import Cluster, Squad, Target, Waiver


class DateInput(forms.DateInput):
    input_type = "date"


class PageFilterForm(forms.Form):
    """Environment, cluster and date range of a dashboard page (all optional)."""

    environment = forms.ChoiceField(required=False)
    cluster = forms.ChoiceField(required=False)
    start = forms.DateField(required=False, widget=DateInput, label="From")
    end = forms.DateField(required=False, widget=DateInput, label="To")
    since = forms.DateField(required=False, widget=DateInput, label="Change since")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        clusters = list(Cluster.objects.enabled().values_list("name", "environment"))
        envs = sorted({env for _, env in clusters})
        cast(forms.ChoiceField, self.fields["environment"]).choices = [
            ("", "All environments"),
            *[(e, e) for e in envs],
        ]
        cast(forms.ChoiceField, self.fields["cluster"]).choices = [
            ("", "All clusters"),
            *[(n, n) for n, _ in clusters],
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.now().date()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=90)
        if start > end:
            self.add_error("start", "The start must be on or before the end.")
            start = end - timedelta(days=90)
        if end > today:
            end = today
        data["start"], data["end"] = start, end
        data["since"] = data.get("since") or end - timedelta(days=28)
        return data

    def values(self) -> dict[str, Any]:
        """Cleaned values, falling back to defaults for any invalid field."""
        if self.is_valid():
            return self.cleaned_data
        today = timezone.now().date()
        good = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        good.setdefault("end", today)
        good.setdefault("start", today - timedelta(days=90))
        good.setdefault("since", today - timedelta(days=28))
        return good


class TargetForm(forms.ModelForm[Target]):
    metric = forms.ChoiceField(choices=metrics.CHOICES)

    class Meta:
        model = Target
        fields = [
            "scope",
            "tribe",
            "squad",
            "environment",
            "cluster",
            "metric",
            "value",
            "start",
            "due",
            "owner",
            "note",
        ]
        widgets = {"start": DateInput, "due": DateInput, "note": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        squad = cast(forms.ModelChoiceField, self.fields["squad"])
        squad.queryset = Squad.objects.select_related("tribe")


class WaiverForm(forms.ModelForm[Waiver]):
    class Meta:
        model = Waiver
        fields = [
            "cluster",
            "namespace",
            "workload_kind",
            "workload_name",
            "reason",
            "approver",
            "expires_on",
        ]
        widgets = {"expires_on": DateInput, "reason": forms.Textarea(attrs={"rows": 3})}

    def clean_expires_on(self) -> date:
        value: date = self.cleaned_data["expires_on"]
        if value <= timezone.now().date():
            raise forms.ValidationError("A waiver must expire in the future.")
        return value
