"""What is in force: the plan period a month falls in, and each county's plan in force for a period.

Read by the services (opening a month's report) and the selectors (roll-ups, reporting flags, figures,
the export) alike, so both answer the same.
"""

from __future__ import annotations

import datetime

from .models import ActionPlan, PlanPeriod, PlanStatus


def period_for_month(month: datetime.date) -> PlanPeriod | None:
    """The stored period whose years contain the month: the default one if it does, else the earliest;
    None when no stored period contains it."""
    return PlanPeriod.objects.filter(start_year__lte=month.year, end_year__gte=month.year).order_by(
        "-is_default", "start_year").first()


def plans_in_force(county_ids, period: PlanPeriod) -> dict[int, ActionPlan]:
    """County id -> the plan in force: the latest approved version, else the latest version."""
    best: dict[int, ActionPlan] = {}
    if period.pk is None:  # the unsaved default period (nothing set up yet): no plan hangs off it
        return best
    for plan in ActionPlan.objects.filter(county_id__in=list(county_ids), period=period).select_related(
            "county").order_by("county_id", "-version"):
        have = best.get(plan.county_id)
        if have is None or (plan.status == PlanStatus.APPROVED and have.status != PlanStatus.APPROVED):
            best[plan.county_id] = plan
    return best
