"""Demo plans for 西湖区 (330106) and 海曙区 (330203): yearly budgets, the 2019 model estate, a draft plan
scheduling the pool and monthly progress for the first half of 2020. Idempotent: run again, nothing changes.

Everything goes through the services (audited as the system), so the demo is what an official would
have typed. Monthly reports are submitted on a plausible day of the following month (the 西湖区 May
report late, 海曙区's June report missing) so the city and province see the flags.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from gaizao.estates.models import Estate, EstateStatus
from gaizao.regions.models import Region

from . import services
from .models import ActionPlan, ModelEstate, PlanBudget, ProgressReport, ProgressStage
from .targets import costs_for

DEMO_COUNTIES = ("330106", "330203")
CAUSE = "demo data"
MONTHS = [datetime.date(2020, m, 1) for m in range(1, 7)]
# day of the following month each report went in (the due day is the 5th)
SUBMITTED_ON = {("330106", 5): 9}
MISSING = {("330203", 6)}
# yearly budgets as shares of the pool's estimated cost: enough for every target, but tight enough in
# 2021 that filling the budget by priority alone (greedy) misses a target the optimiser meets
BUDGET_SHARES = {
    "330106": {2020: Decimal("0.40"), 2021: Decimal("0.26"), 2022: Decimal("0.40")},
    "330203": {2020: Decimal("0.41"), 2021: Decimal("0.28"), 2022: Decimal("0.37")},
}


def _pool(county: Region) -> list[Estate]:
    return list(Estate.objects.filter(county=county, status=EstateStatus.POOLED).order_by("pool_year", "code"))


def _budgets(county: Region, pool: list[Estate]) -> int:
    if PlanBudget.objects.filter(county=county).exists() or not pool:
        return 0
    costs = costs_for(county.code)
    classes = {}
    for estate_id, cls in Estate.deficiencies.through.objects.filter(estate__in=pool).values_list(
            "estate_id", "catalogueitem__content_class"):
        classes.setdefault(estate_id, set()).add(cls)
    total = sum((costs.estimate_wan(e.floor_area, e.households, classes.get(e.pk) or {"basic"}) for e in pool),
                Decimal(0))
    for year, share in BUDGET_SHARES[county.code].items():
        amount = (total * share / 10).quantize(Decimal(1)) * 10
        services.budget_set(actor=None, county=county, year=year, budget_wan=amount, cause=CAUSE)
    return len(BUDGET_SHARES[county.code])


def _model_estate(county: Region) -> int:
    if ModelEstate.objects.filter(county=county).exists():
        return 0
    built = (Estate.objects.filter(county=county).exclude(status=EstateStatus.POOLED)
             .exclude(status=EstateStatus.DROPPED).order_by("-priority_score", "code").first())
    if built is None:
        return 0
    services.model_estate_register(actor=None, estate=built, completed_on=datetime.date(2019, 12, 18),
                                   note="2019年样板小区", cause=CAUSE)
    return 1


def _plan(county: Region, pool: list[Estate]) -> ActionPlan:
    period = services.period_default()
    plan = ActionPlan.objects.filter(county=county, period=period).order_by("-version").first()
    if plan is not None:
        return plan
    plan = services.plan_create(actor=None, county=county, period=period, cause=CAUSE)
    projects = set()
    for estate in pool:
        year = min(max(estate.pool_year or period.start_year, period.start_year), period.end_year)
        if estate.project_id:
            if estate.project_id in projects:
                continue
            members = list(estate.project.estates.all())
            if all(m.status == EstateStatus.POOLED for m in members):
                projects.add(estate.project_id)
                services.plan_item_add(actor=None, plan=plan, project=estate.project, year=max(
                    [m.pool_year or year for m in members]), cause=CAUSE)
            continue
        services.plan_item_add(actor=None, plan=plan, estate=estate, year=year, cause=CAUSE)
    return plan


def _progress(county: Region, plan: ActionPlan) -> int:
    rng = random.Random(f"progress:{county.code}")
    made = 0
    estates_2020 = [e for e, (year, _h, _a) in services._plan_estates(plan).items() if year == 2020]
    # when each estate of the 2020 plan starts and finishes (months 2-12), fixed by the seed
    starts = {e: rng.randint(2, 9) for e in estates_2020}
    ends = {e: starts[e] + rng.randint(3, 6) for e in estates_2020}
    for month in MONTHS:
        if (county.code, month.month) in MISSING:
            continue
        if ProgressReport.objects.filter(county=county, month=month).exists():
            continue
        report = services.progress_report_open(actor=None, county=county, month=month, cause=CAUSE)
        rows = {}
        costs = {i.estate_id: i.estimated_investment_wan for i in plan.items.filter(estate__isnull=False)}
        for entry in report.entries.all():
            e = entry.estate_id
            if e not in starts or starts[e] > month.month:
                continue
            start = datetime.date(2020, starts[e], 1 + e % 27)
            done = ends[e] <= month.month
            share = Decimal(min(month.month - starts[e] + 1, 6)) / 6
            invest = (costs.get(e, Decimal(100)) * share * Decimal("0.8")).quantize(Decimal("0.01"))
            rows[entry.pk] = {"stage": ProgressStage.COMPLETED if done else ProgressStage.STARTED,
                              "started_on": start,
                              "completed_on": datetime.date(2020, ends[e], 2 + e % 26) if done else None,
                              "investment_done_wan": max(invest, entry.investment_done_wan)}
        services.progress_entries_update(actor=None, report=report, rows=rows, cause=CAUSE)
        services.progress_report_submit(actor=None, report=report, cause=CAUSE)
        nxt = datetime.date(2020 + (month.month == 12), month.month % 12 + 1, SUBMITTED_ON.get(
            (county.code, month.month), 3))
        ProgressReport.objects.filter(pk=report.pk).update(submitted_at=timezone.make_aware(
            datetime.datetime.combine(nxt, datetime.time(16, 30))))
        made += 1
    return made


@transaction.atomic
def demo_plans_ensure() -> dict:
    services.defaults_setup(actor=None, cause=CAUSE)
    out = {"budgets": 0, "model_estates": 0, "plans": 0, "items": 0, "reports": 0}
    for code in DEMO_COUNTIES:
        county = Region.objects.filter(code=code).first()
        if county is None:
            continue
        pool = _pool(county)
        if not pool:
            continue
        out["budgets"] += _budgets(county, pool)
        out["model_estates"] += _model_estate(county)
        plan = _plan(county, pool)
        out["plans"] += 1
        out["items"] += plan.items.count()
        out["reports"] += _progress(county, plan)
    return out
