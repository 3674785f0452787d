"""What the plans pages and the audit pages say of plans read as words, the same on both: who took a step
(系统 for the system), amounts in 万元, the optimiser's runs."""

import re

import pytest
from django.urls import reverse

from gaizao.plans import services

from ..conftest import page_client as client_for
from .conftest import pool_estate


@pytest.mark.django_db
def test_plan_history_names_the_system_as_the_audit_pages_do(people, xihu, period):
    plan = services.plan_create(actor=None, county=xihu, period=period)  # the demo data, the command line
    services.plan_item_add(actor=people["county"], plan=plan, estate=pool_estate("330106"), year=2020)
    services.plan_transition(actor=people["county"], plan=plan, step="submit")
    html = client_for(people["county"]).get(reverse("plans:detail", args=[plan.pk])).content.decode()
    events = html.split('data-testid="plan-events"', 1)[1].split("</ul>", 1)[0]
    assert " · 系统 · " in events and "system" not in events
    assert " · p-xihu · " in events  # a person by their user name, as on /audit/
    audit = client_for(people["province"]).get(
        reverse("audit:history", args=["plans.actionplan", plan.pk])).content.decode()
    assert "系统" in audit


@pytest.mark.django_db
def test_an_optimiser_run_by_the_system_says_so(people, xihu, period):
    services.optimisation_run_save(actor=None, region=xihu, period=period, params={}, result={
        "objective": 514540.8937, "greedy_objective": 500000.2, "status": "optimal", "feasible": True,
        "candidates": 24})
    html = client_for(people["county"]).get(reverse("plans:region-optimise"), {"region": "330106"}).content.decode()
    summary = html.split('data-testid="run-summary"', 1)[1].split("</p>", 1)[0]
    assert "系统" in summary and "system" not in summary


def _text(html: str) -> str:
    """The page's main text without tags, spaces run together."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html.split("<main", 1)[-1]))


def _history(client, obj) -> str:
    return _text(client.get(reverse("audit:history", args=[obj._meta.label_lower, obj.pk])).content.decode())


@pytest.mark.django_db
def test_audit_pages_show_plans_values_in_words(people, xihu, period):
    from gaizao.plans.models import OptimisationRun, PlanBudget, TargetRule

    admin = client_for(people["province"])
    # a budget change in 万元 with two decimals
    services.budget_set(actor=people["county"], county=xihu, year=2020, budget_wan="6400")
    services.budget_set(actor=people["county"], county=xihu, year=2020, budget_wan="6400.5")
    html = _history(admin, PlanBudget.objects.get(county=xihu, year=2020))
    assert "预算（万元）： 6,400.00 → 6,400.50" in html and "6400.0000" not in html and "6400.5000" not in html
    assert "西湖区 2020: 6,400.50 万元 的变更历史" in html  # the budget itself, named as the pages show it
    # an optimiser run: each figure named, the status in words, numbers as the run's page shows them
    run = services.optimisation_run_save(actor=people["county"], region=xihu, period=period, params={}, result={
        "objective": 514540.8937, "bound": 514600.2, "gap": 0.000115, "greedy_objective": 500000.4,
        "status": "optimal", "feasible": True})
    html = _history(admin, run)
    for words in ("求解状态：最优", "建议方案（目标值）：514,541", "上界（LP / MIP）：514,600", "与上界差距：0.01%",
                  "贪心排程（目标值）：500,000", "满足全部规则：是"):
        assert words in html, words
    for raw in ("greedy_objective", "optimal", "514540"):
        assert raw not in html, raw
    listed = _text(admin.get(reverse("audit:list")).content.decode())
    assert "求解状态：最优" in listed and "status：" not in listed
    # a run audited before its figures were kept under "result": the values read in words all the same
    old = OptimisationRun.objects.create(region=xihu, period=period, result={})
    from gaizao.core.audit import record_change
    from gaizao.core.models import AuditAction

    record_change(actor=None, obj=old, action=AuditAction.CREATE, before=None,
                  after={"objective": 514540.8937, "status": "time_limit", "feasible": False}, verb="plans.optimise")
    html = _history(admin, old)
    assert "514,541" in html and "时间上限" in html and "time_limit" not in html
    # target milestones and content classes in words
    services.target_rule_save(actor=people["province"], region=xihu,
                              milestones=[{"year": 1, "share": "35"}, {"year": -1, "share": "100"}])
    html = _history(admin, TargetRule.objects.get(region=xihu))
    assert "第 1 年末 35%、最后一年末 100%" in html
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    item = services.plan_item_add(actor=people["county"], plan=plan, estate=pool_estate("330106"), year=2020)
    services.plan_item_update(actor=people["county"], item=item, changes={"content_classes": ["basic", "improvement"]})
    html = _history(admin, item)
    assert "基础类 → 基础类、完善类" in html
