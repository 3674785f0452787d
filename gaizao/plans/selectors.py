"""Reads shared by the plan pages, the API, the dashboards and the statistical export.

Every region-bound read goes through `restrict()`. Roll-ups (city, province) are computed from the
county plans in force and the counties' locked monthly figures, never typed in; the dashboard, the API
and the xlsx export call the same functions here, so a figure is the same wherever it is read.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from gaizao.accounts.scoping import Action, Scope, restrict, scope_for
from gaizao.core.errors import ErrorCode, NotFoundError, ServiceError
from gaizao.estates.models import Estate, EstateStatus, RenovationProject
from gaizao.regions.models import Region, RegionLevel

from . import optimiser
from .in_force import period_for_month, plans_in_force
from .models import (
    PROVINCE_CODE,
    ActionPlan,
    ModelEstate,
    PlanBudget,
    PlanItem,
    PlanPeriod,
    ProgressReport,
    ProgressSummary,
    ReportStatus,
    TargetMeasure,
)
from .services import month_start, period_default
from .targets import (
    AREA_SCALE,
    Check,
    Costs,
    Targets,
    costs_by_county,
    from_units,
    model_check,
    required,
    share_checks,
    targets_by_county,
    targets_for,
    to_units,
)

CHILD_LEVEL = {RegionLevel.PROVINCE: RegionLevel.CITY, RegionLevel.CITY: RegionLevel.COUNTY}
CODE_LENGTH = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.COUNTY: 6}
DASHBOARD_LEVELS = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY)
REGION_CODE = re.compile(r"^[0-9]{2,12}$")


# ---------------------------------------------------------------------------------------------
# parameters


def periods() -> list[PlanPeriod]:
    """The stored periods; before set-up has stored any, the unsaved default (reads never write)."""
    return list(PlanPeriod.objects.all()) or [period_default()]


def periods_stored() -> list[PlanPeriod]:
    """The periods set up so far (none before set-up; the rules page says so)."""
    return list(PlanPeriod.objects.all())


def period_from_param(value) -> PlanPeriod:
    """'2020-2022', a period id, or nothing (the default); anything else is a 400."""
    if value in (None, ""):
        return period_default()
    text = str(value).strip()
    try:
        if text.isdigit() and len(text) < 4:
            return PlanPeriod.objects.get(pk=int(text))
        start, end = optimiser.parse_period(text)
        return PlanPeriod.objects.get(start_year=start, end_year=end)
    except (ValueError, PlanPeriod.DoesNotExist):
        default = period_default()
        if default.pk is None and text == default.label:  # the unsaved default the pages offer before set-up
            return default
        known = [p.label for p in periods()]
        raise ServiceError(ErrorCode.PLAN_PERIOD_INVALID, _(
            "The parameter period=%(value)s is not a plan period: write a period as its first and last year, "
            "e.g. %(example)s (periods set up: %(known)s).") % {
                "value": text[:20], "example": known[0], "known": pgettext("separator between list items", ", ").join(known[:10])},
            fields={"period": [_("unknown period")]}) from None


def home_region(user) -> Region | None:
    """The user's highest region among the dashboard levels (province, city, county)."""
    scope = scope_for(user)
    if scope.is_province_admin:
        return Region.objects.filter(code=PROVINCE_CODE).first()
    codes = sorted((c for c in scope.prefixes(Action.VIEW) if len(c) <= 6), key=lambda c: (len(c), c))
    if codes:
        return Region.objects.filter(code=codes[0]).first()
    # a street or community official: their county
    codes = sorted(scope.prefixes(Action.VIEW), key=len)
    return Region.objects.filter(code=codes[0][:6]).first() if codes else None


def region_pages_home(user) -> Region | None:
    """The region the region pages (dashboard, roll-up, monthly progress, budgets, rules, optimiser,
    statistical tables) open on without a `region` parameter, or None when the user may see no province,
    city or county (a street or community official: their county is not theirs to see). The pages' own
    check (`region_from_param` without a code), so a link to them is shown exactly when it opens."""
    region = home_region(user)
    if region is None or region.level not in DASHBOARD_LEVELS or not scope_for(user).covers(region.code, Action.VIEW):
        return None
    return region


def region_from_param(user, code, *, levels=DASHBOARD_LEVELS) -> Region:
    """A region of the given levels the user may see; unknown or outside their regions: not found."""
    if code in (None, ""):
        region = region_pages_home(user)
        if region is None:
            raise NotFoundError()
    else:
        code = str(code).strip()
        region = Region.objects.filter(code=code).first() if REGION_CODE.match(code) else None
        if region is None:
            raise NotFoundError()
    if region.level not in levels:
        raise ServiceError(ErrorCode.REGION_LEVEL_MISMATCH, _("Choose the province, a city or a county."),
                           fields={"region": [_("not a province, city or county")]})
    scope = scope_for(user)
    if not scope.covers(region.code, Action.VIEW):
        raise NotFoundError()
    return region


def month_from_param(value, period: PlanPeriod, user=None, region: Region | None = None) -> datetime.date:
    """A month 'YYYY-MM'; by default the latest month with locked figures in the region (within the
    period), else the period's first month."""
    if value not in (None, ""):
        month = month_start(value)
        if not period.start_year - 1 <= month.year <= period.end_year + 1:
            raise ServiceError(ErrorCode.PROGRESS_REPORT_INVALID, _("The month lies outside the plan period."),
                               fields={"month": [_("outside the period")]})
        return month
    rows = ProgressSummary.objects.filter(month__year__gte=period.start_year, month__year__lte=period.end_year)
    if region is not None:
        rows = rows.filter(county_code__startswith=region.code)
    if user is not None:
        rows = restrict(rows, user)
    latest = rows.order_by("-month").values_list("month", flat=True).first()
    return latest or datetime.date(period.start_year, 1, 1)


def months_of(period: PlanPeriod, until: datetime.date | None = None) -> list[datetime.date]:
    last = datetime.date(period.end_year, 12, 1)
    if until is not None:
        last = min(last, until)
    out, m = [], datetime.date(period.start_year, 1, 1)
    while m <= last:
        out.append(m)
        m = datetime.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


# ---------------------------------------------------------------------------------------------
# plans


def plans_visible(user):
    return restrict(ActionPlan.objects.select_related("county", "period"), user)


def plan_get(user, pk, *, detail: bool = False) -> ActionPlan:
    """The plan `pk` if the user may see it, else NotFoundError; `detail` fetches its items and events too."""
    plans = plans_visible(user)
    if detail:
        plans = plans.prefetch_related("items__estate", "items__project", "events")
    plan = plans.filter(pk=pk).first()
    if plan is None:
        raise NotFoundError()
    return plan


def counties_in(user, region: Region):
    """Active counties in the region that the user may see (a county: itself)."""
    rows = Region.objects.filter(level=RegionLevel.COUNTY, is_active=True, code__startswith=region.code)
    return restrict(rows, user).order_by("code")


MEASURE_FIELDS = {TargetMeasure.ESTATES: "estates", TargetMeasure.HOUSEHOLDS: "households",
                  TargetMeasure.FLOOR_AREA: "floor_area"}


def pool_totals(county_codes, period: PlanPeriod, costs: dict[str, Costs] | None = None) -> dict[str, dict]:
    """Per county: the pool that is the default task (pooled estates admitted by the period's last year)."""
    codes = list(county_codes)
    costs = costs or costs_by_county(codes)
    rows = (Estate.objects.filter(county__code__in=codes, status=EstateStatus.POOLED)
            .filter(Q(pool_year__isnull=True) | Q(pool_year__lte=period.end_year))
            .values("county__code")
            .annotate(n_estates=Count("pk"), n_households=Sum("households"), area=Sum("floor_area"),
                      households_no_area=Sum("households", filter=Q(floor_area__isnull=True) | Q(floor_area=0))))
    out = {c: {"estates": 0, "households": 0, "floor_area": Decimal(0)} for c in codes}
    for r in rows:
        c = r["county__code"]
        area = Decimal(r["area"] or 0) + Decimal(r["households_no_area"] or 0) * costs[c].area_per_household
        out[c] = {"estates": r["n_estates"], "households": r["n_households"] or 0, "floor_area": area}
    return out


def _item_sums(plan_ids) -> dict[int, dict[int, dict]]:
    """Plan id -> year -> sums of its items."""
    out: dict[int, dict[int, dict]] = defaultdict(dict)
    rows = (PlanItem.objects.filter(plan_id__in=list(plan_ids)).values("plan_id", "year")
            .annotate(n_estates=Sum("estates_count"), n_households=Sum("households"), area=Sum("floor_area"),
                      investment=Sum("estimated_investment_wan")))
    for r in rows:
        out[r["plan_id"]][r["year"]] = {"estates": r["n_estates"] or 0, "households": r["n_households"] or 0,
                                        "floor_area": Decimal(r["area"] or 0),
                                        "investment_wan": Decimal(r["investment"] or 0)}
    return out


def existing_model_estates(county_codes, targets: dict[str, Targets]) -> dict[str, int]:
    out = {c: 0 for c in county_codes}
    for code, completed_on in ModelEstate.objects.filter(county__code__in=list(county_codes)).values_list(
            "county__code", "completed_on"):
        if completed_on <= targets[code].model_estate_deadline:
            out[code] += 1
    return out


def _actual_by_year(summaries: list[ProgressSummary], years: list[int], measure: str) -> dict[int, int]:
    """Completed (完工) cumulative by the end of each year, from the latest locked month of that year."""
    by_year: dict[int, ProgressSummary] = {}
    for s in summaries:
        y = s.month.year
        if y in years and (y not in by_year or s.month > by_year[y].month):
            by_year[y] = s
    out = {}
    for y in years:
        s = by_year.get(y)
        if s is None:
            continue
        if measure == TargetMeasure.ESTATES:
            out[y] = s.completed_estates
        elif measure == TargetMeasure.HOUSEHOLDS:
            out[y] = s.completed_households
        else:
            out[y] = int(s.completed_floor_area * AREA_SCALE)
    return out


@dataclass
class PlanFigures:
    """One county's (or a roll-up's) plan, target and actual by year, in one measure."""

    code: str
    name: str
    measure: str
    years: list[int]
    counties: int = 0
    plans: int = 0
    status_counts: dict = field(default_factory=dict)
    by_year: dict = field(default_factory=dict)  # year -> {estates, households, floor_area, investment_wan}
    task_units: int = 0
    required_units: dict = field(default_factory=dict)  # target year -> cumulative units required
    planned_units: dict = field(default_factory=dict)  # year -> cumulative planned units
    actual_units: dict = field(default_factory=dict)  # year -> cumulative completed units
    plan: ActionPlan | None = None
    checks: list = field(default_factory=list)

    @property
    def total(self) -> dict:
        out = {"estates": 0, "households": 0, "floor_area": Decimal(0), "investment_wan": Decimal(0)}
        for row in self.by_year.values():
            for k in out:
                out[k] += row[k]
        return out

    def natural(self, units: int):
        return from_units(units, self.measure)

    @property
    def meets_all(self) -> bool:
        return all(c.meets for c in self.checks)

    def series(self) -> dict:
        """Plan vs target vs actual by year (natural units), for charts and the API."""
        return {
            "years": self.years,
            "planned": [str(self.natural(self.planned_units.get(y, 0))) for y in self.years],
            "target": [None if y not in self.required_units else str(self.natural(self.required_units[y]))
                       for y in self.years],
            "actual": [None if y not in self.actual_units else str(self.natural(self.actual_units[y]))
                       for y in self.years],
        }

    def as_dict(self) -> dict:
        return {
            "code": self.code, "name": self.name, "measure": self.measure, "counties": self.counties,
            "plans": self.plans, "status_counts": self.status_counts,
            "by_year": {str(y): {k: str(v) for k, v in row.items()} for y, row in sorted(self.by_year.items())},
            "total": {k: str(v) for k, v in self.total.items()},
            "task": str(self.natural(self.task_units)), "series": self.series(),
            "checks": [c.as_dict() for c in self.checks],
        }


def county_figures(counties: list[Region], period: PlanPeriod, *, measure: str | None = None,
                   plans: dict[int, ActionPlan] | None = None) -> dict[str, PlanFigures]:
    """Per county: the plan in force by year, the targets in force and the actual completions.

    With `measure` every county is counted in that unit (roll-ups need one unit); without it each county
    uses its own rule's unit (a plan's own checks)."""
    codes = [c.code for c in counties]
    years = period.years
    targets = targets_by_county(codes)
    costs = costs_by_county(codes)
    plans = plans if plans is not None else plans_in_force([c.pk for c in counties], period)
    sums = _item_sums([p.pk for p in plans.values()])
    pools = pool_totals(codes, period, costs)
    models = existing_model_estates(codes, targets)
    model_planned = defaultdict(int)
    for plan_id, year in PlanItem.objects.filter(plan_id__in=[p.pk for p in plans.values()], is_model=True) \
            .values_list("plan_id", "year"):
        model_planned[(plan_id, year)] += 1
    summaries = defaultdict(list)
    for s in ProgressSummary.objects.filter(county_code__in=codes, month__year__gte=period.start_year,
                                            month__year__lte=period.end_year):
        summaries[s.county_code].append(s)
    out = {}
    for county in counties:
        t = targets[county.code]
        m = measure or t.measure
        plan = plans.get(county.pk)
        by_year = {y: {"estates": 0, "households": 0, "floor_area": Decimal(0), "investment_wan": Decimal(0)}
                   for y in years}
        if plan is not None:
            for y, row in sums.get(plan.pk, {}).items():
                if y in by_year:
                    by_year[y] = row
        explicit = t.task_units() if m == t.measure else None
        task = explicit if explicit is not None else to_units(pools[county.code].get(MEASURE_FIELDS[m]), m)
        per_year = {y: to_units(by_year[y].get(MEASURE_FIELDS[m]), m) for y in years}
        planned, running = {}, 0
        for y in years:
            running += per_year[y]
            planned[y] = running
        req = {y: required(share, task) for y, share in t.by_year(period.start_year, period.end_year).items()}
        actual = _actual_by_year(summaries.get(county.code, []), years, m)
        f = PlanFigures(code=county.code, name=county.name, measure=m, years=years, counties=1,
                        plans=1 if plan else 0, status_counts={plan.status: 1} if plan else {}, by_year=by_year,
                        task_units=task, required_units=req, planned_units=planned, actual_units=actual, plan=plan)
        f.checks = share_checks(Targets(**{**t.__dict__, "measure": m}), period.start_year, period.end_year, task,
                                per_year, actual)
        planned_models = 0
        if plan is not None:
            planned_models = sum(n for (pid, y), n in model_planned.items()
                                 if pid == plan.pk and y <= t.model_estate_deadline.year)
        mc = model_check(t, period.start_year, period.end_year, models[county.code], planned_models)
        if mc is not None:
            f.checks.append(mc)
        out[county.code] = f
    return out


def plan_checks(plan: ActionPlan) -> PlanFigures:
    """The targets of one plan version (in force or not) in the county's own unit."""
    return county_figures([plan.county], plan.period, plans={plan.county_id: plan})[plan.county.code]


def _roll(code: str, name: str, parts: list[PlanFigures], measure: str, years: list[int]) -> PlanFigures:
    f = PlanFigures(code=code, name=name, measure=measure, years=years)
    f.by_year = {y: {"estates": 0, "households": 0, "floor_area": Decimal(0), "investment_wan": Decimal(0)}
                 for y in years}
    status = defaultdict(int)
    for p in parts:
        f.counties += p.counties
        f.plans += p.plans
        for k, v in p.status_counts.items():
            status[k] += v
        for y in years:
            for k in f.by_year[y]:
                f.by_year[y][k] += p.by_year[y][k]
        f.task_units += p.task_units
        for y, v in p.required_units.items():
            f.required_units[y] = f.required_units.get(y, 0) + v
        for y in years:
            f.planned_units[y] = f.planned_units.get(y, 0) + p.planned_units.get(y, 0)
        for y, v in p.actual_units.items():
            f.actual_units[y] = f.actual_units.get(y, 0) + v
    f.status_counts = dict(status)
    # a roll-up meets a target year when every county meets it; the shortfall is the counties' sum. Its
    # share is the counties' when they all have the same for that year (the sum of their required then
    # reads as that share of the summed task, each county rounded up), else None: targets that differ
    shares = defaultdict(set)
    for p in parts:
        for c in p.checks:
            if c.kind == "share":
                shares[c.year].add(c.share)
    checks = []
    for y in sorted(f.required_units):
        need, have = f.required_units[y], f.planned_units.get(y, 0)
        short = sum(max(p.required_units.get(y, 0) - p.planned_units.get(y, 0), 0) for p in parts)
        share = next(iter(shares[y])) if len(shares[y]) == 1 else None
        checks.append(Check(kind="share", year=y, measure=measure, share=share, task=from_units(f.task_units, measure),
                            required=from_units(need, measure), planned=from_units(have, measure),
                            meets=short == 0, shortfall=from_units(short, measure),
                            actual=from_units(f.actual_units[y], measure) if y in f.actual_units else None))
    model = _model_rolled([c for p in parts for c in p.checks if c.kind == "model"])
    f.checks = checks + ([model] if model is not None else [])
    return f


def _model_rolled(checks: list[Check]) -> Check | None:
    """The model-estate rule of a roll-up: every county needs its own (the rule is per county, whatever its
    task), so the roll-up meets it when each county does; a county's model estates beyond its own need do not
    count for another (planned: what counts toward the rule, so required − planned is the shortfall)."""
    if not checks:
        return None
    required_sum = sum(int(c.required) for c in checks)
    counted = sum(min(int(c.planned), int(c.required)) for c in checks)
    short_counties = sum(1 for c in checks if not c.meets)
    deadlines = {c.extra.get("deadline") for c in checks}
    note = _("Each county needs its own; %(n)s of %(total)s counties are short.") % {
        "n": short_counties, "total": len(checks)} if short_counties else ""
    return Check(kind="model", year=max(c.year for c in checks), measure="model_estates", share=None, task="",
                 required=required_sum, planned=counted, meets=short_counties == 0,
                 shortfall=sum(int(c.shortfall) for c in checks), note=note,
                 extra={"deadline": max(deadlines),
                        "counties": len(checks), "short_counties": short_counties})


@dataclass
class Rollup:
    region: Region
    period: PlanPeriod
    measure: str
    children: list[PlanFigures]
    counties: list[PlanFigures]
    total: PlanFigures

    def as_dict(self) -> dict:
        return {"region": self.region.code, "name": self.region.name, "period": self.period.label,
                "measure": self.measure, "total": self.total.as_dict(),
                "children": [c.as_dict() for c in self.children],
                "counties": [c.as_dict() for c in self.counties]}


def rollup_measure(measure: str | None) -> str:
    if measure in TargetMeasure.values:
        return measure
    if measure not in (None, ""):
        raise ServiceError(ErrorCode.INVALID, _("Choose estates, households or floor area."),
                           fields={"measure": [_("unknown measure")]})
    return targets_for(PROVINCE_CODE).measure


def plan_rollup(user, region: Region, period: PlanPeriod, *, measure: str | None = None) -> Rollup:
    """The city's or province's plan as the sum of its county plans in force (a county: its own)."""
    m = rollup_measure(measure)
    counties = list(counties_in(user, region))
    figures = county_figures(counties, period, measure=m)
    years = period.years
    by_county = [figures[c.code] for c in counties]
    if region.level == RegionLevel.PROVINCE:
        cities = {r.code: r for r in restrict(Region.objects.filter(level=RegionLevel.CITY,
                                                                    code__startswith=region.code), user)}
        groups = defaultdict(list)
        for f in by_county:
            groups[f.code[:4]].append(f)
        children = [_roll(code, cities[code].name if code in cities else code, parts, m, years)
                    for code, parts in sorted(groups.items())]
    else:
        children = by_county
    total = _roll(region.code, region.name, by_county, m, years)
    return Rollup(region=region, period=period, measure=m, children=children, counties=by_county, total=total)


# ---------------------------------------------------------------------------------------------
# monthly progress


SUM_FIELDS = ("annual_estates", "annual_households", "annual_investment_wan", "annual_started", "annual_completed",
              "annual_accepted", "plan_estates", "started_estates", "completed_estates", "accepted_estates",
              "completed_households", "completed_floor_area", "investment_done_wan")


def _rate(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass
class ProgressRow:
    code: str
    name: str
    values: dict
    reported: int = 0
    expected: int = 0

    @property
    def start_rate(self):
        return _rate(self.values["annual_started"], self.values["annual_estates"])

    @property
    def completion_rate(self):
        return _rate(self.values["annual_completed"], self.values["annual_estates"])

    @property
    def acceptance_rate(self):
        return _rate(self.values["annual_accepted"], self.values["annual_estates"])

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "reported": self.reported, "expected": self.expected,
                **{k: str(v) for k, v in self.values.items()},
                "start_rate": None if self.start_rate is None else str(self.start_rate),
                "completion_rate": None if self.completion_rate is None else str(self.completion_rate),
                "acceptance_rate": None if self.acceptance_rate is None else str(self.acceptance_rate)}


def _zero() -> dict:
    return {k: Decimal(0) if k.endswith(("_wan", "_area")) else 0 for k in SUM_FIELDS}


def progress_rollup(user, region: Region, month: datetime.date, *, by: str = "child") -> dict:
    """The month's locked figures summed by the region's children (or by county with by="county"):
    one GROUP BY over the county-month figures, scoped by `restrict`."""
    level_len = {"child": len(region.code) + 2 if region.level != RegionLevel.COUNTY else 6,
                 "county": 6}[by]
    rows = (restrict(ProgressSummary.objects.filter(month=month, county_code__startswith=region.code), user)
            .values(group=Substr("county_code", 1, level_len))
            .annotate(reported=Count("pk"), **{f"s_{k}": Sum(k) for k in SUM_FIELDS})
            .order_by("group"))
    found = {r["group"]: r for r in rows}
    codes = set(found)
    expected = defaultdict(int)
    period = period_for_month(month)
    if period is not None:
        plan_counties = restrict(ActionPlan.objects.filter(period=period, county__code__startswith=region.code),
                                 user).values_list("county__code", flat=True).distinct()
        for code in plan_counties:
            expected[code[:level_len]] += 1
            codes.add(code[:level_len])
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    out = []
    for code in sorted(codes):
        r = found.get(code)
        values = _zero()
        if r is not None:
            for k in SUM_FIELDS:
                values[k] = r[f"s_{k}"] if r[f"s_{k}"] is not None else values[k]
                if k.endswith(("_wan", "_area")):
                    values[k] = Decimal(values[k])
        out.append(ProgressRow(code=code, name=names.get(code, code), values=values,
                               reported=r["reported"] if r else 0, expected=expected.get(code, 0)))
    total = ProgressRow(code=region.code, name=region.name, values=_zero())
    for row in out:
        for k in SUM_FIELDS:
            total.values[k] += row.values[k]
        total.reported += row.reported
        total.expected += row.expected
    return {"region": region, "month": month, "rows": out, "total": total}


def progress_series(user, region: Region, period: PlanPeriod, *, until: datetime.date | None = None) -> list[dict]:
    """Start and completion rates of the region by month (locked figures), one GROUP BY."""
    rows = (restrict(ProgressSummary.objects.filter(county_code__startswith=region.code,
                                                    month__year__gte=period.start_year,
                                                    month__year__lte=period.end_year), user)
            .values("month").annotate(reported=Count("pk"), **{f"s_{k}": Sum(k) for k in SUM_FIELDS})
            .order_by("month"))
    found = {r["month"]: r for r in rows}
    last = until or timezone.localdate().replace(day=1)
    out = []
    for m in months_of(period, last):
        r = found.get(m)
        if r is None:
            out.append({"month": m.strftime("%Y-%m"), "reported": 0, "start_rate": None, "completion_rate": None,
                        "started": 0, "completed": 0, "annual_estates": 0})
            continue
        out.append({"month": m.strftime("%Y-%m"), "reported": r["reported"],
                    "start_rate": _rate(r["s_annual_started"], r["s_annual_estates"]),
                    "completion_rate": _rate(r["s_annual_completed"], r["s_annual_estates"]),
                    "started": r["s_annual_started"], "completed": r["s_annual_completed"],
                    "annual_estates": r["s_annual_estates"]})
    return out


def report_due(month: datetime.date, due_day: int) -> datetime.date:
    nxt = datetime.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return nxt.replace(day=due_day)


def reporting_flags(user, region: Region, month: datetime.date, *, today: datetime.date | None = None) -> list[dict]:
    """Counties with a plan whose report for the month is missing or was late (for the city and province)."""
    today = today or timezone.localdate()
    period = period_for_month(month)
    if period is None:
        return []
    counties = {p.county.code: p.county for p in restrict(
        ActionPlan.objects.filter(period=period, county__code__startswith=region.code).select_related("county"),
        user)}
    if not counties:
        return []
    targets = targets_by_county(counties)
    reports = {r.county.code: r for r in restrict(ProgressReport.objects.filter(
        county__code__in=list(counties), month=month).select_related("county"), user)}
    out = []
    for code in sorted(counties):
        due = report_due(month, targets[code].report_due_day)
        r = reports.get(code)
        if r is not None and r.status == ReportStatus.SUBMITTED:
            submitted = timezone.localtime(r.submitted_at).date()
            if submitted > due:
                out.append({"code": code, "name": counties[code].name, "flag": "late", "due": due,
                            "submitted": submitted, "days": (submitted - due).days})
            continue
        if today > due:
            out.append({"code": code, "name": counties[code].name, "flag": "missing" if r is None else "unsubmitted",
                        "due": due, "submitted": None, "days": (today - due).days})
    return out


FLAG_WORDS = {"late": gettext_lazy("submitted late"), "missing": gettext_lazy("missing"),
              "unsubmitted": gettext_lazy("opened but not submitted")}


def county_estates(user, county: Region, period: PlanPeriod, month: datetime.date, *, limit: int = 300):
    """The estates of the county's plan in force with their locked progress for the month (drill-down)."""
    plan = plans_in_force([county.pk], period).get(county.pk)
    report = restrict(ProgressReport.objects.filter(county=county, month=month, status=ReportStatus.SUBMITTED),
                      user).first()
    entries = {}
    if report is not None:
        entries = {e.estate_id: e for e in restrict(report.entries.all(), user)}
    rows, total = [], 0
    if plan is not None:
        items = restrict(plan.items.select_related("estate", "project").order_by("year", "id"), user)
        total = items.count()
        for item in items[:limit]:
            members = [item.estate] if item.estate_id else list(item.project.estates.all())
            for estate in members:
                rows.append({"item": item, "estate": estate, "entry": entries.get(estate.pk)})
    return {"plan": plan, "report": report, "rows": rows, "total": total, "shown": min(total, limit)}


def estate_progress(user, estate_pk) -> dict:
    estate = restrict(Estate.objects.select_related("county", "region"), user).filter(pk=estate_pk).first()
    if estate is None:
        raise NotFoundError()
    entries = restrict(estate.progress_entries.select_related("report").order_by("report__month"), user)
    items = restrict(PlanItem.objects.filter(Q(estate=estate) | Q(project__estates=estate)).select_related(
        "plan", "plan__period"), user)
    return {"estate": estate, "entries": entries, "items": items}


# ---------------------------------------------------------------------------------------------
# dashboards


def map_values(rows_by_county: dict[str, dict]) -> list[dict]:
    """Completion rate per polygon of the 2017 county layer: today's counties matched by name through the
    estates app's alias table; a county without its own polygon counts in the one containing it."""
    from gaizao.estates import geo

    names = dict(Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", "name"))
    by_polygon: dict[str, dict] = {}
    for code, values in rows_by_county.items():
        name = names.get(code, code)
        polygon = name if name in geo.polygons_by_name() else geo.CONTAINED_IN.get(name, name)
        agg = by_polygon.setdefault(polygon, {"annual_estates": 0, "annual_completed": 0, "annual_started": 0,
                                              "codes": []})
        agg["annual_estates"] += values["annual_estates"]
        agg["annual_completed"] += values["annual_completed"]
        agg["annual_started"] += values["annual_started"]
        agg["codes"].append(code)
    out = []
    for polygon, agg in sorted(by_polygon.items()):
        rate = _rate(agg["annual_completed"], agg["annual_estates"])
        out.append({"name": polygon, "value": None if rate is None else float(rate), "codes": agg["codes"],
                    "annual_estates": agg["annual_estates"], "annual_completed": agg["annual_completed"]})
    return out


def dashboard(user, region: Region, period: PlanPeriod, month: datetime.date, *, measure: str | None = None) -> dict:
    """Everything a dashboard shows, from the same selectors the API and the export use."""
    rollup = plan_rollup(user, region, period, measure=measure)
    progress = progress_rollup(user, region, month)
    by_county = progress_rollup(user, region, month, by="county")
    series = progress_series(user, region, period, until=max(month, datetime.date(period.start_year, 1, 1)))
    ranked = sorted(by_county["rows"], key=lambda r: (-(r.completion_rate or Decimal(-1)),
                                                      -(r.start_rate or Decimal(-1)), r.code))
    flags = reporting_flags(user, region, month)
    return {
        "region": region, "period": period, "month": month, "rollup": rollup, "progress": progress,
        "by_county": by_county, "series": series, "ranked": ranked, "flags": flags,
        "map": map_values({r.code: r.values for r in by_county["rows"]}),
    }


def dashboard_data(d: dict) -> dict:
    """The dashboard as JSON (API and the charts' data island)."""
    return {
        "region": {"code": d["region"].code, "name": d["region"].name, "level": d["region"].level},
        "period": d["period"].label, "month": d["month"].strftime("%Y-%m"),
        "measure": d["rollup"].measure,
        "plan_vs_target": d["rollup"].total.series(),
        "plan": d["rollup"].as_dict(),
        "progress": {"total": d["progress"]["total"].as_dict(), "rows": [r.as_dict() for r in d["progress"]["rows"]]},
        "monthly": monthly_data(d["series"]),
        "ranked": [r.as_dict() for r in d["ranked"]],
        "map": d["map"],
        "flags": flags_data(d["flags"]),
    }


def monthly_data(series: list[dict]) -> list[dict]:
    """`progress_series` as JSON (rates as strings)."""
    return [{**r, "start_rate": None if r["start_rate"] is None else str(r["start_rate"]),
             "completion_rate": None if r["completion_rate"] is None else str(r["completion_rate"])}
            for r in series]


def flags_data(flags: list[dict]) -> list[dict]:
    """`reporting_flags` as JSON (dates in ISO form)."""
    return [{**f, "due": f["due"].isoformat(), "submitted": f["submitted"].isoformat() if f["submitted"] else None}
            for f in flags]


# ---------------------------------------------------------------------------------------------
# the optimiser's instance


@dataclass
class InstanceGroup:
    """Counties sharing one set of rules become one optimiser instance (targets are per instance)."""

    instance: optimiser.Instance
    counties: list[str]


def optimiser_instances(region: Region, period: PlanPeriod, *, budgets: dict | None = None,
                        benefit: str = "priority_households", earliness: float = 0.01,
                        scope: Scope | None = None) -> tuple[list[InstanceGroup], dict]:
    """The pool of the region's counties as optimiser candidates (an estate, or a merged project as one),
    with costs from the unit costs in force, the counties' budgets (or `budgets` from a file), targets
    and model-estate rule. Counties with different rules go into separate instances."""
    counties = Region.objects.filter(level=RegionLevel.COUNTY, is_active=True, code__startswith=region.code)
    if scope is not None and not scope.is_superuser:
        counties = counties.filter(scope.q("code"))
    counties = list(counties.order_by("code"))
    codes = [c.code for c in counties]
    names = {c.code: c.name for c in counties}
    targets = targets_by_county(codes)
    costs = costs_by_county(codes)
    start, end = period.start_year, period.end_year

    candidates, left_out = pool_candidates(codes, period, costs)

    if budgets is None:
        rows = PlanBudget.objects.filter(county__code__in=codes, year__gte=start, year__lte=end).values_list(
            "county__code", "year", "budget_wan")
        budgets = {(c, y): v for c, y, v in rows} or None
    # a county with no budget at all for the period is not limited by money (and is named as such);
    # a county with some years set has nothing in the years left out
    budgeted = {c for c, _y in budgets} if budgets is not None else set()
    unbudgeted = [c for c in codes if c not in budgeted and candidates.get(c)]
    if budgets is not None:
        budgets = dict(budgets)
        for c in unbudgeted:
            for y in range(start, end + 1):
                budgets[(c, y)] = NO_BUDGET_LIMIT
    models = existing_model_estates(codes, targets)

    groups: dict[tuple, list[str]] = defaultdict(list)
    for code in codes:
        t = targets[code]
        key = (t.measure, tuple(sorted(t.by_year(start, end).items())), t.model_estates_min,
               t.model_estate_deadline.year)
        groups[key].append(code)
    out = []
    for _key, members in groups.items():
        t = targets[members[0]]
        task = {c: targets[c].task for c in members if targets[c].task is not None}
        member_set = set(members)
        instance = optimiser.Instance(
            candidates=[cand for c in members for cand in candidates[c]], start_year=start, end_year=end,
            budgets=None if budgets is None else {k: v for k, v in budgets.items() if k[0] in member_set},
            targets=t.optimiser_targets(start, end), unit=t.measure, model_rule=t.model_rule(), benefit=benefit,
            earliness=earliness, task=task or None, existing_model_estates={c: models[c] for c in members},
            county_names={c: names[c] for c in members})
        out.append(InstanceGroup(instance=instance, counties=members))
    info = {"counties": codes, "names": names, "budgets_given": budgets is not None, "unbudgeted": unbudgeted,
            "candidates": sum(len(v) for v in candidates.values()),
            "left_out": {c: rows[:LEFT_OUT_KEPT] for c, rows in left_out.items()},
            "left_out_count": sum(len(v) for v in left_out.values())}
    return out, info


LEFT_OUT_KEPT = 200  # per county, the candidates left out that a run keeps by name (all are counted)


def pool_candidates(codes, period: PlanPeriod, costs: dict[str, Costs] | None = None
                    ) -> tuple[dict[str, list[optimiser.Candidate]], dict[str, list[dict]]]:
    """The counties' pools as optimiser candidates, per county: each pooled estate, or a merged project
    (片区) as one candidate with its estates' figures (households and floor area added up, the priority
    weighted by households, the cost their estimates, the earliest year the latest of their pool years).

    What cannot be scheduled in the period is left out, per county, as {id, reason, year}: an estate or
    project that enters the pool after the period (`after_period`), a project with an estate not in the
    pool (`members_not_pooled`; a plan takes a project only with all its estates pooled)."""
    codes = list(codes)
    costs = costs or costs_by_county(codes)
    start, end = period.start_year, period.end_year
    estates = list(Estate.objects.filter(county__code__in=codes, status=EstateStatus.POOLED).values_list(
        "pk", "county__code", "priority_score", "households", "floor_area", "pool_year", "project_id"))
    classes = defaultdict(set)
    for estate_id, cls in Estate.deficiencies.through.objects.filter(
            estate__county__code__in=codes, estate__status=EstateStatus.POOLED).values_list(
            "estate_id", "catalogueitem__content_class"):
        classes[estate_id].add(cls)
    active_projects = set(RenovationProject.objects.filter(county__code__in=codes, is_active=True).values_list(
        "pk", flat=True))
    members_of = dict(Estate.objects.filter(project_id__in=active_projects).values("project_id").annotate(
        n=Count("pk")).values_list("project_id", "n")) if active_projects else {}
    candidates: dict[str, list[optimiser.Candidate]] = defaultdict(list)
    left_out: dict[str, list[dict]] = defaultdict(list)
    projects: dict[int, list] = defaultdict(list)
    for pk, county, priority, households, area, pool_year, project_id in estates:
        if project_id in active_projects:
            projects[project_id].append((pk, county, priority, households, area, pool_year))
            continue
        if pool_year and pool_year > end:
            left_out[county].append({"id": f"e{pk}", "reason": "after_period", "year": pool_year})
            continue
        c = costs[county]
        candidates[county].append(optimiser.Candidate(
            id=f"e{pk}", county=county, priority=priority or Decimal(0), households=households or 0,
            floor_area=c.area(area, households), cost_wan=c.estimate_wan(area, households, classes[pk] or {"basic"}),
            estates=1, earliest_year=pool_year if pool_year and pool_year > start else None, model_eligible=True))
    for project_id, members in projects.items():
        county = members[0][1]
        c = costs[county]
        years = [m[5] for m in members if m[5]]
        earliest = max(years) if years else None
        if len(members) < members_of.get(project_id, 0):
            left_out[county].append({"id": f"p{project_id}", "reason": "members_not_pooled", "year": earliest})
            continue
        if earliest and earliest > end:
            left_out[county].append({"id": f"p{project_id}", "reason": "after_period", "year": earliest})
            continue
        households = sum(m[3] or 0 for m in members)
        weight = sum(Decimal(m[2] or 0) * (m[3] or 0) for m in members)
        priority = (weight / households) if households else max(Decimal(m[2] or 0) for m in members)
        candidates[county].append(optimiser.Candidate(
            id=f"p{project_id}", county=county, priority=priority.quantize(Decimal("0.01")), households=households,
            floor_area=sum((c.area(m[4], m[3]) for m in members), Decimal(0)),
            cost_wan=sum((c.estimate_wan(m[4], m[3], classes[m[0]] or {"basic"}) for m in members), Decimal(0)),
            estates=len(members), earliest_year=earliest if earliest and earliest > start else None,
            model_eligible=True))
    return candidates, left_out


NO_BUDGET_LIMIT = Decimal("1000000000")  # 万元: a county without any budget row is not limited by money
SMALL_INSTANCE = 20_000  # candidates: below this the MIP is solved to a gap of 0.01%


def run_optimiser(region: Region, period: PlanPeriod, *, budgets: dict | None = None, time_limit: float = 60.0,
                  mip_rel_gap: float | None = None, benefit: str = "priority_households", earliness: float = 0.01,
                  scope: Scope | None = None, progress=None) -> dict:
    """Run the optimiser on the region's pool; one JSON result (instances with different rules merged:
    objective, bounds and greedy objective add up, the gap is recomputed from the sums)."""
    groups, info = optimiser_instances(region, period, budgets=budgets, benefit=benefit, earliness=earliness,
                                       scope=scope)
    results = []
    total_candidates = max(sum(len(g.instance.candidates) for g in groups), 1)
    if mip_rel_gap is None:
        mip_rel_gap = 1e-4 if total_candidates <= SMALL_INSTANCE else 0.005
    for n, group in enumerate(groups):
        share = len(group.instance.candidates) / total_candidates
        result = optimiser.optimise(group.instance, time_limit=max(time_limit * share, 1.0), mip_rel_gap=mip_rel_gap)
        data = result.to_json(include_greedy_schedule=True)
        data["candidate_ids"] = defaultdict(list)
        for c in group.instance.candidates:
            data["candidate_ids"][c.county].append(c.id)
        results.append(data)
        if progress:
            progress(int(100 * (n + 1) / max(len(groups), 1)), _("Optimised %(n)s of %(total)s rule groups") % {
                "n": n + 1, "total": len(groups)})
    merged = merge_results(results)
    merged["region"] = region.code
    merged["budgets_given"] = info["budgets_given"]
    merged["unbudgeted"] = info["unbudgeted"]
    merged["candidates"] = info["candidates"]
    merged["left_out"] = info["left_out"]
    merged["left_out_count"] = info["left_out_count"]
    merged["mip_rel_gap"] = mip_rel_gap
    return merged


def merge_results(results: list[dict]) -> dict:
    if not results:
        return {"objective": 0.0, "bound": 0.0, "lp_bound": 0.0, "gap": 0.0, "greedy_objective": 0.0,
                "feasible": True, "status": "optimal", "reasons": [], "schedule": [], "greedy_schedule": [],
                "counties": [], "violations": [], "greedy_violations": [], "candidate_ids": {}, "unit": "estates"}
    if len(results) == 1:
        out = dict(results[0])
        out["candidate_ids"] = dict(out.get("candidate_ids", {}))
        return out

    def add(key):
        values = [r.get(key) for r in results]
        return None if any(v is None for v in values) else float(sum(values))

    out = {
        "period": results[0].get("period"), "unit": ",".join(sorted({r.get("unit", "") for r in results})),
        "benefit": results[0].get("benefit"), "earliness": results[0].get("earliness"),
        "objective": add("objective"), "bound": add("bound"), "lp_bound": add("lp_bound"),
        "greedy_objective": add("greedy_objective"),
        "feasible": all(r.get("feasible") for r in results),
        "greedy_feasible": all(r.get("greedy_feasible") for r in results),
        "status": "infeasible" if any(r.get("status") == "infeasible" for r in results) else (
            "time_limit" if any(r.get("status") == "time_limit" for r in results) else (
                "optimal" if all(r.get("status") == "optimal" for r in results) else "gap_reached")),
    }
    for key in ("reasons", "schedule", "greedy_schedule", "counties", "violations", "greedy_violations",
                "out_of_period"):
        out[key] = [x for r in results for x in r.get(key, [])]
    out["candidate_ids"] = {k: v for r in results for k, v in r.get("candidate_ids", {}).items()}
    b, o = out["bound"], out["objective"]
    out["gap"] = None if b is None else (max((b - o) / abs(b), 0.0) if b else 0.0)
    lb = out["lp_bound"]
    out["lp_gap"] = None if lb is None else (max((lb - o) / abs(lb), 0.0) if lb else 0.0)
    g = out["greedy_objective"]
    out["improvement_over_greedy"] = (o / g - 1.0) if g else None
    out["timings"] = {"total": sum(r.get("timings", {}).get("total", 0.0) for r in results)}
    return out


def latest_run(user, region: Region, period: PlanPeriod):
    """The newest optimiser run on the region the user may see."""
    from .models import OptimisationRun

    if period.pk is None:  # the unsaved default period: no run was kept for it
        return None
    return restrict(OptimisationRun.objects.filter(period=period, region=region), user).select_related(
        "region", "created_by").first()


def _differs(is_candidate: bool, current, proposed, current_model: bool, proposed_model: bool) -> bool:
    """Would adopting this candidate change the plan? (Items the optimiser did not see are left alone.)"""
    if current != proposed and (is_candidate or proposed is not None):
        return True
    return current is not None and proposed is not None and current_model != proposed_model


LEFT_OUT_WORDS = {
    "after_period": gettext_lazy("enters the pool in %(year)s, after the period"),
    "members_not_pooled": gettext_lazy("not all of the project's estates are in the pool"),
}


def proposal_view(run, plan: ActionPlan) -> dict:
    """The proposal of a run beside the plan: per candidate the plan's year, the proposal's and greedy's,
    with its figures as the optimiser saw them (a merged project: its estates' together); and the pool
    items the run left out, with the reason."""
    county = plan.county.code
    result = run.result
    names = {}
    proposed = {r["id"]: r for r in result.get("schedule", []) if r.get("county") == county}
    greedy_all = {r["id"]: r["year"] for r in result.get("greedy_schedule", [])}
    candidates = set(result.get("candidate_ids", {}).get(county, []))
    greedy = {k: v for k, v in greedy_all.items() if k in candidates}
    items = {i.subject_key: i for i in plan.items.select_related("estate", "project")}
    left_out = [r for r in result.get("left_out", {}).get(county, []) if r.get("id") not in items]
    keys = sorted(candidates | set(items))
    all_keys = keys + [r["id"] for r in left_out]
    estate_ids = [int(k[1:]) for k in all_keys if k.startswith("e")]
    project_ids = [int(k[1:]) for k in all_keys if k.startswith("p")]
    for pk, name, code, score, households in Estate.objects.filter(pk__in=estate_ids).values_list(
            "pk", "name", "code", "priority_score", "households"):
        names[f"e{pk}"] = {"name": name, "code": code, "priority": score, "households": households}
    for pk, name, code in RenovationProject.objects.filter(pk__in=project_ids).values_list("pk", "name", "code"):
        names[f"p{pk}"] = {"name": name, "code": code, "priority": None, "households": None}
    # the figures as the optimiser sees them today (a project's from its estates)
    pool, _left = pool_candidates([county], plan.period)
    figures = {c.id: c for c in pool.get(county, [])}
    rows = []
    for k in keys:
        current = items[k].year if k in items else None
        prop = proposed.get(k, {}).get("year")
        is_model = bool(proposed.get(k, {}).get("model"))
        current_model = bool(items[k].is_model) if k in items else False
        row = {"key": k, **names.get(k, {"name": k, "code": "", "priority": None, "households": None})}
        cost = proposed.get(k, {}).get("cost_wan")
        if k in figures:
            row.update(priority=figures[k].priority, households=figures[k].households, estates=figures[k].estates)
            cost = cost if cost is not None else figures[k].cost_wan
        elif k in items:
            row.update(households=items[k].households, estates=items[k].estates_count)
            cost = cost if cost is not None else items[k].estimated_investment_wan
        rows.append({**row, "current": current, "proposed": prop, "greedy": greedy.get(k), "model": is_model,
                     "current_model": current_model, "cost_wan": cost,
                     "differs": _differs(k in candidates, current, prop, current_model, is_model)})
    rows.sort(key=lambda r: (not r["differs"], r["proposed"] or 9999, r["key"]))
    counties = [c for c in result.get("counties", []) if c.get("county") == county]
    reasons = [r for r in result.get("reasons", []) if r.get("county") == county]
    return {"rows": rows, "differences": sum(1 for r in rows if r["differs"]), "county": counties[0] if counties
            else None, "reasons": reasons, "left_out": left_out_described(left_out, names)}


def left_out_described(left_out: list[dict], names: dict | None = None) -> list[dict]:
    """Pool items that cannot be scheduled in a period ({id, reason, year}, from `pool_candidates`) with
    their names and the reason in words: {name, code, why}."""
    names = dict(names or {})
    missing = [r["id"] for r in left_out if r["id"] not in names]
    for pk, name, code in Estate.objects.filter(pk__in=[int(k[1:]) for k in missing if k.startswith("e")]) \
            .values_list("pk", "name", "code"):
        names[f"e{pk}"] = {"name": name, "code": code}
    for pk, name, code in RenovationProject.objects.filter(
            pk__in=[int(k[1:]) for k in missing if k.startswith("p")]).values_list("pk", "name", "code"):
        names[f"p{pk}"] = {"name": name, "code": code}
    return [{"name": names.get(r["id"], {}).get("name", r["id"]), "code": names.get(r["id"], {}).get("code", ""),
             "why": str(LEFT_OUT_WORDS.get(r.get("reason"), r.get("reason", ""))) % {"year": r.get("year")}}
            for r in left_out]


def budgets_for(user, region: Region, period: PlanPeriod):
    return restrict(PlanBudget.objects.filter(county__code__startswith=region.code, year__gte=period.start_year,
                                              year__lte=period.end_year).select_related("county"), user)

