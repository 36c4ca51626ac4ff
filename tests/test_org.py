"""Org mapping: overrides beat labels; unmapped → Unassigned; CSV import all or nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from adoption.models import OwnershipRule
from adoption.org import Resolver, Rule


def test_it_takes_the_tribe_from_the_namespace_label() -> None:
    r = Resolver("prod-eu", [])
    assert r.tribe("payments", {"tribe": "money"}) == "money"
    assert r.tribe("other", {}) == ""


def test_it_lets_overrides_beat_labels_and_prefers_the_most_specific() -> None:
    rules = [
        Rule("tribe", "*", "pay*", "*", "fintech"),
        Rule("tribe", "prod-*", "payments", "*", "money"),
        Rule("squad", "*", "payments", "ledger-*", "ledger-squad"),
    ]
    r = Resolver("prod-eu", rules)
    assert r.tribe("payments", {"tribe": "label-says"}) == "money"
    assert r.tribe("payouts", {}) == "fintech"
    assert Resolver("staging", rules).tribe("payments", {}) == "fintech"
    assert r.squad("payments", "ledger-api", {"squad": "x"}) == "ledger-squad"
    assert r.squad("payments", "gateway", {"squad": "x"}) == "x"


def test_it_lets_a_lower_priority_number_win() -> None:
    rules = [
        Rule("tribe", "*", "payments", "*", "specific", 100),
        Rule("tribe", "*", "*", "*", "catch-all", 1),
    ]
    assert Resolver("c", rules).tribe("payments", {}) == "catch-all"


@pytest.mark.django_db
def test_it_imports_rules_from_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "rules.csv"
    f.write_text(
        "kind,cluster,namespace,workload,value,priority\ntribe,prod-*,pay*,,fintech,10\nsquad,,payments,ledger-*,ledger,\n"
    )
    call_command("import_ownership", str(f))
    assert OwnershipRule.objects.count() == 2
    assert OwnershipRule.objects.get(kind="squad").workload_pattern == "ledger-*"


@pytest.mark.django_db
def test_it_reports_bad_rows_by_line_and_imports_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "rules.csv"
    f.write_text(
        "kind,namespace,workload,value,priority\ntribe,a,,t1,1\nteam,b,,t2,1\ntribe,c,,,1\nsquad,d,w,s,high\n"
    )
    with pytest.raises(CommandError) as err:
        call_command("import_ownership", str(f))
    message = str(err.value)
    assert "line 3: kind must be tribe or squad" in message
    assert "line 4: value is empty" in message
    assert "line 5: priority must be a whole number" in message
    assert "line 2" not in message
    assert OwnershipRule.objects.count() == 0
