"""Target rules in force and the target arithmetic of plans.

The arithmetic ("at least the share", an exact ceiling in whole units; floor area in 0.01 m²; target
years counted from 1, -1 the last) is the optimiser's (`optimiser.required_quantity`, `Target`,
`ModelRule`): pages, exports and the optimiser agree because they run the same code.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.utils.translation import gettext as _

from . import optimiser
from .models import PROVINCE_CODE, TargetMeasure, TargetRule, UnitCosts

AREA_SCALE = optimiser.AREA_SCALE


@dataclass(frozen=True)
class Milestone:
    year: int  # counts the period's years from 1; -1 is the last
    share: Fraction

    def calendar_year(self, start: int, end: int) -> int | None:
        """The calendar year in a period, or None when the period is too short for it."""
        y = start + self.year - 1 if self.year >= 1 else end + self.year + 1
        return y if start <= y <= end else None


@dataclass(frozen=True)
class Targets:
    """The target rule in force for one county (plain values)."""

    measure: str = TargetMeasure.ESTATES
    milestones: tuple[Milestone, ...] = (Milestone(1, Fraction(3, 10)), Milestone(-1, Fraction(1)))
    task: Decimal | None = None
    model_estates_min: int = 1
    model_estate_deadline: datetime.date = datetime.date(2019, 12, 31)
    report_due_day: int = 5
    source_region: str = ""

    def by_year(self, start: int, end: int) -> dict[int, Fraction]:
        """Calendar year -> cumulative share required by its end (the largest when two name one year).
        A milestone beyond a shorter period is checked at the period's last year."""
        out: dict[int, Fraction] = {}
        for m in self.milestones:
            y = m.calendar_year(start, end)
            if y is None:
                y = end if m.year >= 1 else start
            out[y] = max(out.get(y, Fraction(0)), m.share)
        return dict(sorted(out.items()))

    def optimiser_targets(self, start: int, end: int) -> list[optimiser.Target]:
        return [optimiser.Target.in_year(y, s) for y, s in self.by_year(start, end).items()]

    def model_rule(self) -> optimiser.ModelRule | None:
        if self.model_estates_min <= 0:
            return None
        return optimiser.ModelRule(count=self.model_estates_min, deadline=self.model_estate_deadline.year,
                                   calendar=True)

    def task_units(self) -> int | None:
        """The explicit task in measure units (floor area in 0.01 m²), or None (the pool is the task)."""
        if self.task is None:
            return None
        return to_units(self.task, self.measure)


def to_units(value, measure: str) -> int:
    """A natural quantity (estates, households, m²) as whole measure units."""
    value = Decimal(value or 0)
    if measure == TargetMeasure.FLOOR_AREA:
        return int((value * AREA_SCALE).to_integral_value())
    return int(value)


def from_units(units: int, measure: str):
    if measure == TargetMeasure.FLOOR_AREA:
        return Decimal(units) / AREA_SCALE
    return int(units)


def required(share: Fraction, task_units: int) -> int:
    """At least the share of the task, in whole units: 30% of 7 estates needs 3."""
    return optimiser.required_quantity(share, task_units)


def milestone_checked(row) -> tuple[Milestone | None, dict[str, str]]:
    """One milestone ({"year": 1, "share": "30"}, share in percent) and what is wrong with it, by part
    ("year", "share"): both parts are checked, so a form can show each problem beside its box. The
    milestone is None when anything is wrong."""
    if not isinstance(row, dict):
        return None, {"year": _("Each milestone needs a year and a share.")}
    problems = {}
    year = share = None
    try:
        year = int(str(row.get("year")).strip())
        if year == 0 or not -10 <= year <= 10:
            problems["year"] = _("The year of a milestone counts the plan's years from 1 (or -1 for the last).")
    except (TypeError, ValueError):
        problems["year"] = _("The year of a milestone must be a whole number (1 is the first year, -1 the last).")
    try:
        share = optimiser.parse_share(f"{str(row.get('share')).strip().rstrip('%')}%")
    except (TypeError, ValueError):
        problems["share"] = _("A share must be a percentage from 0 to 100.")
    return (None if problems else Milestone(year, share)), problems


def parse_milestones(raw) -> tuple[Milestone, ...]:
    """[{"year": 1, "share": "30"}, …] (share in percent) -> milestones; ValueError on bad data (its first
    problem; `milestone_checked` names each)."""
    if not isinstance(raw, list) or not raw:
        raise ValueError(_("Give at least one year and share."))
    out = []
    for row in raw:
        milestone, problems = milestone_checked(row)
        if milestone is None:
            raise ValueError(next(iter(problems.values())))
        out.append(milestone)
    return tuple(out)


def _targets_from_row(row: TargetRule) -> Targets:
    try:
        milestones = parse_milestones(row.milestones)
    except ValueError:
        milestones = Targets().milestones
    return Targets(measure=row.measure, milestones=milestones, task=row.task,
                   model_estates_min=row.model_estates_min, model_estate_deadline=row.model_estate_deadline,
                   report_due_day=row.report_due_day, source_region=row.region.code)


def targets_by_county(county_codes) -> dict[str, Targets]:
    """The rule in force for each county: its own override, else the province default, else built-ins.
    (The task is never inherited: a province-wide task is not a county's task.)"""
    codes = list(county_codes)
    rows = {r.region.code: r for r in TargetRule.objects.select_related("region").filter(
        region__code__in=[*codes, PROVINCE_CODE])}
    default = _targets_from_row(rows[PROVINCE_CODE]) if PROVINCE_CODE in rows else Targets()
    if default.task is not None:
        default = Targets(**{**default.__dict__, "task": None})
    return {c: _targets_from_row(rows[c]) if c in rows else default for c in codes}


def targets_for(county_code: str) -> Targets:
    return targets_by_county([county_code])[county_code]


@dataclass(frozen=True)
class Costs:
    basic: Decimal = Decimal("200")
    improvement: Decimal = Decimal("100")
    enhancement: Decimal = Decimal("40")
    area_per_household: Decimal = Decimal("80")
    source_region: str = ""

    def per_m2(self, classes) -> Decimal:
        return sum((getattr(self, c) for c in set(classes) if c in ("basic", "improvement", "enhancement")),
                   Decimal(0))

    def area(self, floor_area, households) -> Decimal:
        if floor_area is not None and Decimal(floor_area) > 0:
            return Decimal(floor_area)
        return (Decimal(households or 0) * self.area_per_household).quantize(Decimal("0.01"))

    def estimate_wan(self, floor_area, households, classes) -> Decimal:
        """Floor area × the unit costs of the classes needed, in 万元 to the yuan."""
        yuan = self.area(floor_area, households) * self.per_m2(classes)
        return (yuan / Decimal(10000)).quantize(optimiser.YUAN)


def _costs_from_row(row: UnitCosts) -> Costs:
    return Costs(basic=row.basic, improvement=row.improvement, enhancement=row.enhancement,
                 area_per_household=row.area_per_household, source_region=row.region.code)


def costs_by_county(county_codes) -> dict[str, Costs]:
    codes = list(county_codes)
    rows = {r.region.code: r for r in UnitCosts.objects.select_related("region").filter(
        region__code__in=[*codes, PROVINCE_CODE])}
    default = _costs_from_row(rows[PROVINCE_CODE]) if PROVINCE_CODE in rows else Costs()
    return {c: _costs_from_row(rows[c]) if c in rows else default for c in codes}


def costs_for(county_code: str) -> Costs:
    return costs_by_county([county_code])[county_code]


@dataclass
class Check:
    """One target of a plan: met or missed, and by how much (natural units)."""

    kind: str  # "share" or "model"
    year: int
    measure: str
    share: Fraction | None
    task: object
    required: object
    planned: object
    meets: bool
    shortfall: object
    actual: object | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def share_pct(self) -> str:
        if self.share is None:
            return ""
        value = Decimal(self.share.numerator) * 100 / Decimal(self.share.denominator)
        return format(value.normalize(), "f")

    def as_dict(self) -> dict:
        return {
            "kind": self.kind, "year": self.year, "measure": self.measure,
            "share_pct": self.share_pct, "task": str(self.task), "required": str(self.required),
            "planned": str(self.planned), "meets": self.meets, "shortfall": str(self.shortfall),
            "actual": None if self.actual is None else str(self.actual), "note": self.note,
        }


def share_checks(targets: Targets, start: int, end: int, task_units: int,
                 planned_by_year: dict[int, int], actual_by_year: dict[int, int] | None = None) -> list[Check]:
    """Per target year: required (ceil of share × task), planned cumulative, met or not and the shortfall;
    all in measure units in, natural units out."""
    out = []
    m = targets.measure
    for year, share in targets.by_year(start, end).items():
        need = required(share, task_units)
        planned = sum(v for y, v in planned_by_year.items() if y <= year)
        actual = None
        if actual_by_year is not None and year in actual_by_year:
            actual = from_units(actual_by_year[year], m)
        out.append(Check(kind="share", year=year, measure=m, share=share, task=from_units(task_units, m),
                         required=from_units(need, m), planned=from_units(planned, m), meets=planned >= need,
                         shortfall=from_units(max(need - planned, 0), m), actual=actual))
    return out


def model_check(targets: Targets, start: int, end: int, existing: int, planned_by_deadline: int) -> Check | None:
    """The model-estate rule: existing model estates by the deadline plus those the plan finishes by it."""
    if targets.model_estates_min <= 0:
        return None
    deadline = targets.model_estate_deadline
    counted_planned = planned_by_deadline if deadline.year >= start else 0
    have = existing + counted_planned
    note = ""
    if deadline.year < start:
        note = _("The deadline %(date)s lies before the plan period; only model estates already built count.") % {
            "date": deadline.isoformat()}
    return Check(kind="model", year=deadline.year, measure="model_estates", share=None, task="",
                 required=targets.model_estates_min, planned=have, meets=have >= targets.model_estates_min,
                 shortfall=max(targets.model_estates_min - have, 0), note=note,
                 extra={"deadline": deadline.isoformat(), "existing": existing, "planned": counted_planned})
