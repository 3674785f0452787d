"""Every write to plans, targets, unit costs, budgets, model estates, monthly progress and optimiser runs.

Keyword-only arguments with `actor=` first, one transaction each, an audit entry per change. An actor
of None is the system (CLI, demo data, benchmarks) and is not checked. For a user: anything outside
their regions is "not found"; inside them, a step their role may not take is refused with
`permission_denied` (who may do what is `workflow.py`).
"""

from __future__ import annotations

import calendar
import datetime
import io
from collections.abc import Iterable
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from gaizao.accounts.scoping import Action, Role, scope_for
from gaizao.core import text_files
from gaizao.core.audit import record_change, record_changes_bulk, snapshot
from gaizao.core.errors import ErrorCode, NotFoundError, PermissionDeniedError, ServiceError
from gaizao.core.models import AuditAction
from gaizao.core.params import whole_number
from gaizao.estates.models import ContentClass, Estate, EstateStatus, RenovationProject
from gaizao.regions.models import Region, RegionLevel
from gaizao.regions.setup import province_rows_setup

from . import optimiser, workflow
from .in_force import period_for_month, plans_in_force
from .models import (
    PROVINCE_CODE,
    STAGE_ORDER,
    ActionPlan,
    EstimateSource,
    ModelEstate,
    OptimisationRun,
    PlanBudget,
    PlanEvent,
    PlanItem,
    PlanPeriod,
    PlanStatus,
    ProgressEntry,
    ProgressReport,
    ProgressStage,
    ProgressSummary,
    ReportStatus,
    TargetMeasure,
    TargetRule,
    UnitCosts,
)
from .targets import costs_for, milestone_checked

CLASSES = tuple(ContentClass.values)
MAX_PERIOD_YEARS = 10


# ---------------------------------------------------------------------------------------------
# who may do what


def _see(actor, county_code: str) -> None:
    """Outside the actor's regions: not found (never say it exists)."""
    if actor is not None and not scope_for(actor).covers(county_code, Action.VIEW):
        raise NotFoundError()


def _require_role(actor, role: str, county_code: str, message) -> None:
    if actor is None:
        return
    _see(actor, county_code)
    if not workflow.holds(scope_for(actor), role, county_code):
        raise PermissionDeniedError(message)


def _require_any_role(actor, roles: Iterable[str], county_code: str, message) -> None:
    if actor is None:
        return
    _see(actor, county_code)
    scope = scope_for(actor)
    if not any(workflow.holds(scope, r, county_code) for r in roles):
        raise PermissionDeniedError(message)


def can_edit_plan(actor, plan: ActionPlan) -> bool:
    return plan.is_editable and (actor is None or workflow.holds(scope_for(actor), workflow.EDIT_ROLE,
                                                                  plan.county.code))


def can_manage_budget(actor, county_code: str) -> bool:
    if actor is None:
        return True
    scope = scope_for(actor)
    return scope.covers(county_code, Action.CHANGE) and any(
        workflow.holds(scope, r, county_code) for r in (Role.COUNTY_OFFICIAL, Role.CITY_OFFICIAL,
                                                        Role.PROVINCE_ADMIN))


def _county(region: Region) -> Region:
    if region is None or region.level != RegionLevel.COUNTY:
        raise ServiceError(ErrorCode.REGION_LEVEL_MISMATCH, _("Plans, budgets and reports belong to a county."),
                           fields={"county": [_("choose a county")]})
    return region


def _text(value, max_length: int) -> str:
    """Free text as stored: no NUL characters (PostgreSQL refuses them), trimmed, at most max_length."""
    return str(value or "").replace("\x00", "").strip()[:max_length]


def _bad(code: str, field: str, message) -> ServiceError:
    return ServiceError(code, message, fields={field: [str(message)]})


def _year_end(year: int) -> datetime.date:
    return datetime.date(year, 12, 31)


def _as_date(value, field: str, code: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise _bad(code, field, _("Enter a date as YYYY-MM-DD.")) from None


def _as_int(value, field: str, code: str, *, low: int, high: int) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise _bad(code, field, _("Enter a whole number.")) from None
    if not low <= number <= high:
        raise _bad(code, field, _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
    return number


def _as_decimal(value, field: str, code: str, *, places: int = 4, low=Decimal("0"),
                high=Decimal("999999999")) -> Decimal:
    try:
        if isinstance(value, bool) or value is None or str(value).strip() == "":
            raise InvalidOperation
        number = Decimal(str(value).strip().replace(",", ""))
        if not number.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise _bad(code, field, _("Enter a number.")) from None
    if not low <= number <= high:
        raise _bad(code, field, _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
    quantum = Decimal(1).scaleb(-places)
    if number != number.quantize(quantum):
        raise _bad(code, field, _("Use at most %(n)s decimal places.") % {"n": places})
    return number


class _Problems:
    """A form's problems all at once: each refused value under its field (a form shows it beside its box),
    then one refusal for them all, so nothing is saved unless every value is good."""

    def __init__(self, code: str):
        self.code = code
        self.fields: dict[str, list[str]] = {}

    def check(self, field: str, parse, *args, **kwargs):
        """`parse(*args, **kwargs)`, or None with its refusal kept under `field`."""
        try:
            return parse(*args, **kwargs)
        except (NotFoundError, PermissionDeniedError):
            raise
        except ServiceError as exc:
            self.add(field, exc.message)
            return None

    def add(self, field: str, message) -> None:
        self.fields.setdefault(field, []).append(str(message))

    def refuse(self, **summaries) -> None:
        """Refuse when anything was wrong; `summaries` are extra fields ({name: [lines]}) not counted."""
        if self.fields:
            raise ServiceError(self.code, _("Nothing was saved: %(n)s value(s) are wrong.") % {
                "n": len(self.fields)}, fields={**self.fields, **{k: v for k, v in summaries.items() if v}})


# ---------------------------------------------------------------------------------------------
# periods and rules


DEFAULT_PERIOD = (2020, 2022)  # the seed's three-year action plan


def period_default() -> PlanPeriod:
    """The default plan period, for reading (never writes): the one marked default, else the earliest.

    Before set-up has stored any period (`defaults_setup`), an unsaved 2020-2022 stands in: pages and the
    API read with it (nothing is planned in it yet); writes that need a stored period refuse it clearly.
    """
    period = PlanPeriod.objects.filter(is_default=True).first() or PlanPeriod.objects.order_by("start_year").first()
    if period is None:
        start, end = DEFAULT_PERIOD
        period = PlanPeriod(start_year=start, end_year=end, name=f"{start}-{end}", is_default=True)
    return period


def _stored_period(period: PlanPeriod) -> PlanPeriod:
    """Writes hang off a stored period; the unsaved stand-in of `period_default` is refused in words."""
    if period is None or period.pk is None:
        raise _bad(ErrorCode.PLAN_PERIOD_INVALID, "period",
                   _("No plan period has been set up yet; the province office adds one on the rules page."))
    return period


@transaction.atomic
def period_create(*, actor, start_year, end_year, name: str = "", is_default: bool = False) -> PlanPeriod:
    if actor is not None and not scope_for(actor).is_province_admin:
        raise PermissionDeniedError(_("Only the province office sets plan periods."))
    start = _as_int(start_year, "start_year", ErrorCode.PLAN_PERIOD_INVALID, low=2000, high=2100)
    end = _as_int(end_year, "end_year", ErrorCode.PLAN_PERIOD_INVALID, low=2000, high=2100)
    if end < start:
        raise _bad(ErrorCode.PLAN_PERIOD_INVALID, "end_year", _("The last year must not come before the first."))
    if end - start + 1 > MAX_PERIOD_YEARS:
        raise _bad(ErrorCode.PLAN_PERIOD_INVALID, "end_year",
                   _("A plan period spans at most %(n)s years.") % {"n": MAX_PERIOD_YEARS})
    if PlanPeriod.objects.filter(start_year=start, end_year=end).exists():
        raise _bad(ErrorCode.PLAN_PERIOD_INVALID, "start_year", _("This period exists already."))
    if is_default:
        for old in PlanPeriod.objects.filter(is_default=True):
            before = snapshot(old)
            old.is_default = False
            old.save(update_fields=["is_default"])
            record_change(actor=actor, obj=old, action=AuditAction.UPDATE, before=before, after=snapshot(old),
                          verb="plans.period_default", region_code=PROVINCE_CODE)
    period = PlanPeriod.objects.create(start_year=start, end_year=end, name=_text(name, 64) or
                                       f"{start}-{end}", is_default=bool(is_default))
    record_change(actor=actor, obj=period, action=AuditAction.CREATE, before=None, after=snapshot(period),
                  verb="plans.period_create", region_code=PROVINCE_CODE)
    return period


@transaction.atomic
def defaults_setup(*, actor=None, cause: str = "") -> list:
    """Store what the plans read when nothing else is set: the province default target rule and unit
    costs (region 33, the model's defaults) and the default plan period (2020-2022) if there is no period.

    A set-up step, run after the region tree is loaded (`gaizao load-regions`) and by the demo data; an
    actor of None is the system. Idempotent: rows that exist are left alone. Each row made is audited.
    Returns the rows made. Reads never create these rows: without them they use the same defaults.
    """
    cause = cause or "set-up defaults"
    made = province_rows_setup(actor=actor, models=(TargetRule, UnitCosts), verb="plans.defaults_setup", cause=cause)
    if not made and not Region.objects.filter(code=PROVINCE_CODE).exists():
        return []
    if not PlanPeriod.objects.exists():
        period = period_default()
        period.full_clean()
        period.save()
        record_change(actor=actor, obj=period, action=AuditAction.CREATE, before=None, after=snapshot(period),
                      verb="plans.defaults_setup", cause=cause, region_code=PROVINCE_CODE)
        made.append(period)
    return made


def _rules_region(actor, region: Region, *, county_may_edit: bool) -> None:
    if region.code != PROVINCE_CODE and region.level != RegionLevel.COUNTY:
        raise ServiceError(ErrorCode.RULES_REGION_INVALID,
                           _("Rules are set for the province (the default) or for one county (an override)."),
                           fields={"region": [_("choose the province or a county")]})
    if actor is None:
        return
    scope = scope_for(actor)
    if scope.is_province_admin:
        return
    if region.code != PROVINCE_CODE:
        _see(actor, region.code)
    if county_may_edit and region.code != PROVINCE_CODE and workflow.holds(scope, Role.COUNTY_OFFICIAL, region.code):
        return
    raise PermissionDeniedError(_("Only the province office changes these rules."))


def _milestones_checked(problems: _Problems, rows) -> tuple[tuple, list[str]]:
    """The milestones of a target rule, every row checked: a problem is kept under milestone_year_<i> or
    milestone_share_<i> (the i-th row given, from 0) and named with its row under "milestones"."""
    if not isinstance(rows, list) or not rows:
        problems.add("milestones", _("Give at least one year and share."))
        return (), []
    parsed, named = [], []
    # the boxes' labels on the rules page ("Share (%%)" is the template's msgid: % doubled, undone by % {})
    parts = {"year": gettext_lazy("Plan year"), "share": gettext_lazy("Share (%%)")}
    for i, row in enumerate(rows):
        milestone, wrong = milestone_checked(row)
        for part, message in wrong.items():
            problems.add(f"milestone_{part}_{i}", message)
            named.append(_("Target row %(n)s, %(field)s: %(problem)s") % {
                "n": i + 1, "field": str(parts[part]) % {}, "problem": message})
        if milestone is not None:
            parsed.append(milestone)
    return tuple(parsed), named


@transaction.atomic
def target_rule_save(*, actor, region: Region, measure=TargetMeasure.ESTATES, milestones=None, task=None,
                     model_estates_min=1, model_estate_deadline=None, report_due_day=5,
                     cause: str = "") -> TargetRule:
    _rules_region(actor, region, county_may_edit=False)
    code = ErrorCode.PLAN_RULES_INVALID
    problems = _Problems(code)
    if measure not in TargetMeasure.values:
        problems.add("measure", _("Choose estates, households or floor area."))
    parsed, rows_named = _milestones_checked(problems, milestones if milestones is not None else [
        {"year": 1, "share": "30"}, {"year": -1, "share": "100"}])
    task_value = None
    if task not in (None, ""):
        if region.code == PROVINCE_CODE:
            problems.add("task", _("A task is set per county, not for the whole province."))
        else:
            task_value = problems.check("task", _as_decimal, task, "task", code,
                                        places=2 if measure == TargetMeasure.FLOOR_AREA else 0)
    minimum = problems.check("model_estates_min", _as_int, model_estates_min, "model_estates_min", code, low=0,
                             high=100)
    deadline = problems.check("model_estate_deadline", _as_date, model_estate_deadline, "model_estate_deadline",
                              code) or datetime.date(2019, 12, 31)
    due_day = problems.check("report_due_day", _as_int, report_due_day, "report_due_day", code, low=1, high=28)
    problems.refuse(milestones=rows_named)
    rule = TargetRule.objects.select_for_update().filter(region=region).first()
    before = snapshot(rule) if rule else None
    rule = rule or TargetRule(region=region)
    rule.measure = measure
    rule.milestones = [{"year": m.year, "share": format((Decimal(m.share.numerator) * 100 /
                                                         Decimal(m.share.denominator)).normalize(), "f")}
                       for m in parsed]
    rule.task = task_value
    rule.model_estates_min = minimum
    rule.model_estate_deadline = deadline
    rule.report_due_day = due_day
    rule.full_clean()
    after_values = snapshot(rule)
    if before is not None and {k: v for k, v in before.items() if k != "updated_at"} == {
            k: v for k, v in after_values.items() if k != "updated_at"}:
        return rule
    rule.save()
    record_change(actor=actor, obj=rule, action=AuditAction.UPDATE if before else AuditAction.CREATE,
                  before=before, after=snapshot(rule), verb="plans.targets_save", cause=cause)
    return rule


def _region_rule_delete(*, actor, model, region: Region, county_may_edit: bool, verb: str, cause: str) -> bool:
    """Remove a county's override so the province default applies again (audited)."""
    _rules_region(actor, region, county_may_edit=county_may_edit)
    if region.code == PROVINCE_CODE:
        raise ServiceError(ErrorCode.RULES_REGION_INVALID, _("The province default cannot be removed."))
    rule = model.objects.filter(region=region).first()
    if rule is None:
        return False
    record_change(actor=actor, obj=rule, action=AuditAction.DELETE, before=snapshot(rule), after=None,
                  verb=verb, cause=cause)
    rule.delete()
    return True


@transaction.atomic
def target_rule_delete(*, actor, region: Region, cause: str = "") -> bool:
    return _region_rule_delete(actor=actor, model=TargetRule, region=region, county_may_edit=False,
                               verb="plans.targets_delete", cause=cause)


@transaction.atomic
def unit_costs_save(*, actor, region: Region, basic, improvement, enhancement, area_per_household,
                    cause: str = "") -> UnitCosts:
    _rules_region(actor, region, county_may_edit=True)
    code = ErrorCode.PLAN_RULES_INVALID
    problems = _Problems(code)
    high = {"basic": Decimal("100000"), "improvement": Decimal("100000"), "enhancement": Decimal("100000"),
            "area_per_household": Decimal("1000")}
    typed = {"basic": basic, "improvement": improvement, "enhancement": enhancement,
             "area_per_household": area_per_household}
    values = {name: problems.check(name, _as_decimal, typed[name], name, code, places=2, high=high[name],
                                   low=Decimal("1") if name == "area_per_household" else Decimal("0"))
              for name in high}
    problems.refuse()
    row = UnitCosts.objects.select_for_update().filter(region=region).first()
    before = snapshot(row) if row else None
    row = row or UnitCosts(region=region)
    for k, v in values.items():
        setattr(row, k, v)
    row.full_clean()
    row.save()
    record_change(actor=actor, obj=row, action=AuditAction.UPDATE if before else AuditAction.CREATE, before=before,
                  after=snapshot(row), verb="plans.costs_save", cause=cause)
    return row


@transaction.atomic
def unit_costs_delete(*, actor, region: Region, cause: str = "") -> bool:
    return _region_rule_delete(actor=actor, model=UnitCosts, region=region, county_may_edit=True,
                               verb="plans.costs_delete", cause=cause)


# ---------------------------------------------------------------------------------------------
# budgets


def _require_budget_manager(actor, county: Region) -> None:
    _county(county)
    if not can_manage_budget(actor, county.code):
        _see(actor, county.code)
        raise PermissionDeniedError(_("Only the county, its city or the province sets budgets."))


def _budget_amount(value) -> Decimal:
    """An amount in 万元 as typed: a number, not negative, to the yuan (4 decimals) at most."""
    try:
        if Decimal(str(value).strip().replace(",", "")) < 0:
            raise _bad(ErrorCode.PLAN_BUDGET_INVALID, "budget_wan", _("A budget cannot be negative."))
    except InvalidOperation:
        pass  # not a number: said below
    return _as_decimal(value, "budget_wan", ErrorCode.PLAN_BUDGET_INVALID, places=4, high=optimiser.MAX_BUDGET_WAN)


@transaction.atomic
def budget_set(*, actor, county: Region, year, budget_wan, cause: str = "") -> PlanBudget | None:
    """Set (or with an empty amount, remove) a county's budget for a year, in 万元."""
    _require_budget_manager(actor, county)
    year = _as_int(year, "year", ErrorCode.PLAN_BUDGET_INVALID, low=2000, high=2100)
    row = PlanBudget.objects.select_for_update().filter(county=county, year=year).first()
    if budget_wan in (None, ""):
        if row is not None:
            record_change(actor=actor, obj=row, action=AuditAction.DELETE, before=snapshot(row), after=None,
                          verb="plans.budget_delete", cause=cause)
            row.delete()
        return None
    amount = _budget_amount(budget_wan)
    before = snapshot(row) if row else None
    if row is not None and row.budget_wan == amount:
        return row
    row = row or PlanBudget(county=county, year=year)
    row.budget_wan = amount
    row.save()
    record_change(actor=actor, obj=row, action=AuditAction.UPDATE if before else AuditAction.CREATE, before=before,
                  after=snapshot(row), verb="plans.budget_set", cause=cause)
    return row


@transaction.atomic
def budgets_set(*, actor, county: Region, amounts: dict, cause: str = "") -> None:
    """Several years of one county's budget ({year: amount or ""}), all of them or none. Every refused
    amount is named (county, year, value, reason) in `fields`, under budget_<year> as the page's cells."""
    _require_budget_manager(actor, county)
    problems = {}
    for year, budget_wan in amounts.items():
        try:
            _as_int(year, "year", ErrorCode.PLAN_BUDGET_INVALID, low=2000, high=2100)
            if budget_wan not in (None, ""):
                _budget_amount(budget_wan)
        except ServiceError as exc:
            problems[f"budget_{year}"] = [_("%(county)s %(year)s: “%(value)s”: %(reason)s") % {
                "county": county.name, "year": year, "value": _text(budget_wan, 40), "reason": exc.message}]
    if problems:
        raise ServiceError(ErrorCode.PLAN_BUDGET_INVALID, _("Nothing was saved: %(n)s amount(s) are wrong.") % {
            "n": len(problems)}, fields=problems)
    for year, budget_wan in amounts.items():
        budget_set(actor=actor, county=county, year=year, budget_wan=budget_wan, cause=cause)


def budget_file_text(data: bytes) -> str:
    """A budget file's bytes as text: UTF-8 (a leading byte-order mark dropped) or GBK/GB18030, as Chinese
    Excel saves a CSV; other bytes are a `budget_file_invalid` error (the upload pages, the import and the
    `plan-optimize` command)."""
    decoded = text_files.decode_text(data)
    if decoded is None:
        raise ServiceError(ErrorCode.BUDGET_FILE_INVALID,
                           _("The budget file must be CSV text in UTF-8 or GBK (GB18030)."))
    return decoded[0]


# A budget file's columns by their names on the page (the parser names them by key).
BUDGET_COLUMN_WORDS = {
    "county": pgettext_lazy("budget file column", "county"),
    "year": pgettext_lazy("budget file column", "year"),
    "budget_wan": pgettext_lazy("budget file column", "budget_wan"),
}

# A budget file's problems in the user's language, by the stable code the parser gives each one.
BUDGET_PROBLEMS = {
    "empty": gettext_lazy("the file is empty"),
    "missing_column": gettext_lazy("the column is missing (the header reads %(expected)s; 县（市、区）,年度,预算（万元） "
                                   "are understood too)"),
    "duplicate_column": gettext_lazy("the column appears twice"),
    "bad_county": gettext_lazy("“%(value)s” is not a 6-digit county code (e.g. 330106)"),
    "unknown_county": gettext_lazy("%(value)s is not a county code in the region tree"),
    "unknown_county_name": gettext_lazy("“%(value)s”: %(reason)s"),
    "bad_year": gettext_lazy("“%(value)s” is not a year"),
    "year_outside_period": gettext_lazy("%(value)s lies outside the period %(start)s-%(end)s"),
    "negative_amount": gettext_lazy("%(value)s is negative"),
    "too_large": gettext_lazy("%(value)s is more than %(most)s (万元)"),
    "too_precise": gettext_lazy("%(value)s has more than 4 decimals (万元 to the yuan)"),
    "bad_amount": gettext_lazy("“%(value)s” is not an amount in 万元"),
    "duplicate": gettext_lazy("%(value)s %(year)s is already given on row %(first)s"),
}


def _budget_errors_in_words(errors: list[dict]) -> list[str]:
    lines = []
    for e in errors:
        template = BUDGET_PROBLEMS.get(e.get("code"))
        try:
            message = str(template) % e.get("params", {}) if template is not None else e.get("message")
        except (KeyError, TypeError):  # a parser newer than these words: its own message
            message = e.get("message")
        column = e.get("column")
        if column:
            lines.append(_("Row %(row)s, column %(column)s: %(message)s") % {
                "row": e.get("row"), "column": BUDGET_COLUMN_WORDS.get(column, column), "message": message})
        else:
            lines.append(_("Row %(row)s: %(message)s") % {"row": e.get("row"), "message": message})
    return lines


def county_code_by_name():
    """A function from a county's name as a budget file writes it (西湖区, 杭州市西湖区) to its code, found as the
    census import finds it (`RegionResolver`, read on the first name); ValueError with the reason in words
    when no county, or more than one, has that name."""
    resolver = None

    def code(text: str) -> str:
        nonlocal resolver
        if resolver is None:
            from gaizao.estates.census.importer import RegionResolver

            resolver = RegionResolver()
        return resolver.county(("name", text)).code

    return code


def budget_csv_read(text: str, *, period: PlanPeriod | None = None) -> dict:
    """The budgets of a budget file's text ({(county code, year): 万元}), counties by code or by name; its
    problems are a `budget_file_invalid` error in the user's language, each with its row and column."""
    counties = Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", flat=True)
    try:
        # the text itself, as a file object: a string is never taken for a path, whatever it looks like
        return optimiser.parse_budget_csv(io.StringIO(text), counties=counties, county_named=county_code_by_name(),
                                          period=(period.start_year, period.end_year) if period else None)
    except optimiser.BudgetFileError as exc:
        lines = _budget_errors_in_words(exc.errors)
        raise ServiceError(ErrorCode.BUDGET_FILE_INVALID, _("The budget file has errors: %(first)s") % {
            "first": lines[0]}, fields={"rows": lines[:50]}) from None


@transaction.atomic
def budgets_import(*, actor, source, period: PlanPeriod | None = None, cause: str = "") -> dict:
    """Import a CSV with columns county,year,budget_wan (万元); all rows or none."""
    if isinstance(source, bytes):
        source = budget_file_text(source)
    if not isinstance(source, str):
        source = ""
    budgets = budget_csv_read(source, period=period)
    counties = dict(Region.objects.filter(level=RegionLevel.COUNTY, code__in={c for c, _y in budgets}).values_list(
        "code", "pk"))
    if not budgets:
        raise ServiceError(ErrorCode.BUDGET_FILE_INVALID, _("The budget file has no rows."))
    refused = sorted({c for c, _y in budgets if not can_manage_budget(actor, c)})
    if refused:
        names = dict(Region.objects.filter(code__in=refused[:10]).values_list("code", "name"))
        raise ServiceError(ErrorCode.BUDGET_FILE_INVALID,
                           _("The file sets budgets for counties you do not manage: %(codes)s") % {
                               "codes": pgettext("separator between list items", ", ").join(
                                   _("%(name)s (%(code)s)") % {"name": names.get(c, c), "code": c}
                                   if c in names else c for c in refused[:10])},
                           fields={"county": refused[:50]})
    existing = {(b.county.code, b.year): b for b in PlanBudget.objects.select_related("county").filter(
        county__code__in={c for c, _y in budgets}, year__in={y for _c, y in budgets})}
    entries, created, updated = [], 0, 0
    for (code, year), amount in sorted(budgets.items()):
        row = existing.get((code, year))
        if row is None:
            row = PlanBudget.objects.create(county_id=counties[code], year=year, budget_wan=amount)
            entries.append((row, AuditAction.CREATE, None, snapshot(row)))
            created += 1
        elif row.budget_wan != amount:
            before = snapshot(row)
            row.budget_wan = amount
            row.save(update_fields=["budget_wan", "updated_at"])
            entries.append((row, AuditAction.UPDATE, before, snapshot(row)))
            updated += 1
    record_changes_bulk(actor=actor, entries=entries, verb="plans.budgets_import", cause=cause or "budget file")
    return {"rows": len(budgets), "created": created, "updated": updated, "unchanged": len(budgets) - created - updated}


# ---------------------------------------------------------------------------------------------
# plans


def _event(plan: ActionPlan, actor, transition: str, from_status: str, to_status: str, role: str = "",
           comment: str = "") -> PlanEvent:
    return PlanEvent.objects.create(plan=plan, transition=transition, from_status=from_status, to_status=to_status,
                                    actor=actor if getattr(actor, "pk", None) else None,
                                    actor_name=getattr(actor, "username", "") or "system", role=role,
                                    comment=comment)


def _locked_plan(plan: ActionPlan) -> ActionPlan:
    return ActionPlan.objects.select_for_update(of=("self",)).select_related("county", "period").get(pk=plan.pk)


@transaction.atomic
def plan_create(*, actor, county: Region, period: PlanPeriod, cause: str = "") -> ActionPlan:
    _county(county)
    _require_role(actor, workflow.CREATE_ROLE, county.code, _("Only the county drafts its plan."))
    period = _stored_period(period)
    if ActionPlan.objects.filter(county=county, period=period).exists():
        raise ServiceError(ErrorCode.PLAN_EXISTS, _("%(county)s has a plan for %(period)s already.") % {
            "county": county.name, "period": period.label})
    plan = ActionPlan.objects.create(county=county, period=period, version=1, created_by=actor
                                     if getattr(actor, "pk", None) else None)
    record_change(actor=actor, obj=plan, action=AuditAction.CREATE, before=None, after=snapshot(plan),
                  verb="plans.plan_create", cause=cause)
    _event(plan, actor, "create", "", PlanStatus.DRAFT, Role.COUNTY_OFFICIAL)
    return plan


def _require_edit(actor, plan: ActionPlan) -> None:
    _see(actor, plan.county.code)
    if actor is not None and not workflow.holds(scope_for(actor), workflow.EDIT_ROLE, plan.county.code):
        raise PermissionDeniedError(_("Only the county edits its plan."))
    if not plan.is_editable:
        raise ServiceError(ErrorCode.PLAN_NOT_EDITABLE, _(
            "This plan is %(status)s and cannot be changed; after approval, start an adjustment (a new version).")
            % {"status": plan.get_status_display()})


def _subject_values(plan: ActionPlan, *, estate: Estate | None, project: RenovationProject | None) -> dict:
    """Households, floor area, estate count, content classes and the estimate of an estate or project."""
    costs = costs_for(plan.county.code)
    if estate is not None:
        members = [estate]
    else:
        members = list(project.estates.all())
        if not members:
            raise _bad(ErrorCode.PLAN_ITEM_INVALID, "project", _("This project has no estates."))
    classes: set[str] = set()
    households, area, estimate = 0, Decimal(0), Decimal(0)
    class_rows = Estate.deficiencies.through.objects.filter(estate_id__in=[m.pk for m in members]).values_list(
        "estate_id", "catalogueitem__content_class")
    by_estate: dict[int, set[str]] = {}
    for estate_id, cls in class_rows:
        by_estate.setdefault(estate_id, set()).add(cls)
    for m in members:
        own = by_estate.get(m.pk) or {ContentClass.BASIC.value}
        classes |= own
        households += m.households or 0
        area += costs.area(m.floor_area, m.households)
        estimate += costs.estimate_wan(m.floor_area, m.households, own)
    return {"households": households, "floor_area": area, "estates_count": len(members),
            "content_classes": sorted(classes, key=CLASSES.index), "estimated_investment_wan": estimate}


def _clean_schedule(plan: ActionPlan, year, planned_start, planned_finish, earliest: int | None) -> tuple:
    code = ErrorCode.PLAN_ITEM_INVALID
    period = plan.period
    year = _as_int(year, "year", code, low=period.start_year, high=period.end_year) if year not in (None, "") \
        else None
    start = _as_date(planned_start, "planned_start", code)
    finish = _as_date(planned_finish, "planned_finish", code)
    if year is None:
        if finish is None:
            raise _bad(code, "year", _("Choose the year the works finish in."))
        year = finish.year
        if not period.contains(year):
            raise _bad(code, "planned_finish", _("The planned finish must lie in the plan period %(period)s.") % {
                "period": period.label})
    finish = finish or _year_end(year)
    start = start or datetime.date(year, 1, 1)
    if finish.year != year:
        raise _bad(code, "planned_finish", _("The planned finish must lie in %(year)s, the year the item is "
                                             "scheduled in.") % {"year": year})
    if start > finish:
        raise _bad(code, "planned_start", _("The planned start must not come after the planned finish."))
    if start.year < period.start_year - 1:
        raise _bad(code, "planned_start", _("The planned start is too early for this plan period."))
    if earliest is not None and year < earliest:
        raise _bad(code, "year", _("This estate entered the pool in %(pool)s; it cannot be scheduled before.") % {
            "pool": earliest})
    return year, start, finish


def _subject(plan: ActionPlan, estate, project):
    code = ErrorCode.PLAN_ITEM_INVALID
    if (estate is None) == (project is None):
        raise _bad(code, "estate", _("Choose an estate or a merged project."))
    county = plan.county
    if estate is not None:
        if estate.county_id != county.pk:
            raise NotFoundError()
        if estate.status != EstateStatus.POOLED:
            raise _bad(code, "estate", _("%(estate)s is not in the project pool.") % {"estate": estate.name})
        if estate.project_id:
            raise _bad(code, "estate", _("%(estate)s belongs to the merged project %(project)s; schedule the project.")
                       % {"estate": estate.name, "project": estate.project.name})
        if plan.items.filter(Q(estate=estate) | Q(project__estates=estate)).exists():
            raise _bad(code, "estate", _("%(estate)s is in this plan already.") % {"estate": estate.name})
        return estate.pool_year
    if project.county_id != county.pk or not project.is_active:
        raise NotFoundError()
    members = list(project.estates.all())
    if any(m.status != EstateStatus.POOLED for m in members):
        raise _bad(code, "project", _("Every estate of a project must be in the pool."))
    if plan.items.filter(Q(project=project) | Q(estate__in=members)).exists():
        raise _bad(code, "project", _("%(project)s is in this plan already.") % {"project": project.name})
    years = [m.pool_year for m in members if m.pool_year]
    return max(years) if years else None


@contextmanager
def _naming_the_subject(subject, words):
    """A refused item names its estate or project: the page lists many rows, and the message shows above
    them all (翠苑一区坊未保存：计划开工时间不能晚于计划完工时间。). The fields keep their names."""
    try:
        yield
    except ServiceError as exc:
        if exc.code == ErrorCode.PLAN_ITEM_INVALID and subject is not None:
            exc.message = str(words) % {"subject": subject.name, "problem": exc.message}
        raise


@transaction.atomic
def plan_item_add(*, actor, plan: ActionPlan, estate: Estate | None = None, project: RenovationProject | None = None,
                  year=None, planned_start=None, planned_finish=None, is_model: bool = False, note: str = "",
                  cause: str = "") -> PlanItem:
    plan = _locked_plan(plan)
    _require_edit(actor, plan)
    earliest = _subject(plan, estate, project)
    with _naming_the_subject(estate or project, gettext_lazy("%(subject)s was not added: %(problem)s")):
        year, start, finish = _clean_schedule(plan, year, planned_start, planned_finish, earliest)
    values = _subject_values(plan, estate=estate, project=project)
    item = PlanItem(plan=plan, estate=estate, project=project, year=year, planned_start=start, planned_finish=finish,
                    is_model=bool(is_model), note=_text(note, 200), **values)
    item.save()
    record_change(actor=actor, obj=item, action=AuditAction.CREATE, before=None, after=snapshot(item),
                  verb="plans.item_add", cause=cause)
    ActionPlan.objects.filter(pk=plan.pk).update(updated_at=timezone.now())
    return item


ITEM_EDITABLE = ("year", "planned_start", "planned_finish", "is_model", "note", "content_classes")


@transaction.atomic
def plan_item_update(*, actor, item: PlanItem, changes: dict, cause: str = "") -> bool:
    plan = _locked_plan(item.plan)
    _require_edit(actor, plan)
    item = PlanItem.objects.select_for_update(of=("self",)).select_related("estate", "project").get(pk=item.pk, plan=plan)
    unknown = set(changes) - set(ITEM_EDITABLE)
    if unknown:
        raise _bad(ErrorCode.PLAN_ITEM_INVALID, sorted(unknown)[0], _("This field cannot be changed here."))
    with _naming_the_subject(item.subject, gettext_lazy("%(subject)s was not saved: %(problem)s")):
        return _item_changes_save(actor, plan, item, changes, cause)


def _item_changes_save(actor, plan: ActionPlan, item: PlanItem, changes: dict, cause: str) -> bool:
    before = snapshot(item)
    if any(k in changes for k in ("year", "planned_start", "planned_finish")):
        earliest = item.estate.pool_year if item.estate_id else max(
            [m.pool_year for m in item.project.estates.all() if m.pool_year] or [0]) or None
        year = changes.get("year", item.year)
        start = changes.get("planned_start", item.planned_start)
        finish = changes.get("planned_finish", item.planned_finish)
        if "year" in changes and "planned_finish" not in changes and str(year) != str(item.year):
            # moving an item to another year moves its dates with it
            finish, start = None, None
        item.year, item.planned_start, item.planned_finish = _clean_schedule(plan, year, start, finish, earliest)
    if "is_model" in changes:
        item.is_model = bool(changes["is_model"])
    if "note" in changes:
        item.note = _text(changes["note"], 200)
    if "content_classes" in changes:
        classes = changes["content_classes"] or []
        if isinstance(classes, str):
            classes = [c.strip() for c in classes.split(",") if c.strip()]
        if not classes or any(c not in CLASSES for c in classes):
            raise _bad(ErrorCode.PLAN_ITEM_INVALID, "content_classes",
                       _("Choose one or more of basic, improvement and enhancement."))
        classes = sorted(set(classes), key=CLASSES.index)
        changed = classes != list(item.content_classes or [])
        item.content_classes = classes
        if changed and item.estimate_source == EstimateSource.UNIT_COSTS:
            costs = costs_for(plan.county.code)
            item.estimated_investment_wan = costs.estimate_wan(item.floor_area, item.households, item.content_classes)
    after = snapshot(item)
    if before == after:
        return False
    item.save()
    record_change(actor=actor, obj=item, action=AuditAction.UPDATE, before=before, after=after,
                  verb="plans.item_update", cause=cause)
    ActionPlan.objects.filter(pk=plan.pk).update(updated_at=timezone.now())
    return True


@transaction.atomic
def plan_item_remove(*, actor, item: PlanItem, cause: str = "") -> None:
    plan = _locked_plan(item.plan)
    _require_edit(actor, plan)
    record_change(actor=actor, obj=item, action=AuditAction.DELETE, before=snapshot(item), after=None,
                  verb="plans.item_remove", cause=cause, region_code=plan.county.code)
    item.delete()
    ActionPlan.objects.filter(pk=plan.pk).update(updated_at=timezone.now())


@transaction.atomic
def plan_item_set_scheme_budget(*, actor, item: PlanItem, amount_wan, cause: str = "") -> PlanItem:
    """A scheme's real budget replaces the unit-cost estimate (called by the schemes app)."""
    amount = _as_decimal(amount_wan, "amount_wan", ErrorCode.PLAN_ITEM_INVALID, places=4)
    before = snapshot(item)
    item.estimated_investment_wan = amount
    item.estimate_source = EstimateSource.SCHEME
    item.save(update_fields=["estimated_investment_wan", "estimate_source"])
    record_change(actor=actor, obj=item, action=AuditAction.UPDATE, before=before, after=snapshot(item),
                  verb="plans.item_scheme_budget", cause=cause)
    return item


@transaction.atomic
def plan_reestimate(*, actor, plan: ActionPlan, cause: str = "") -> int:
    """Apply the unit costs in force to every item still estimated from unit costs."""
    plan = _locked_plan(plan)
    _require_edit(actor, plan)
    costs = costs_for(plan.county.code)
    entries = []
    for item in plan.items.filter(estimate_source=EstimateSource.UNIT_COSTS).select_related("estate", "project"):
        if item.estate_id:
            value = costs.estimate_wan(item.estate.floor_area, item.estate.households, item.content_classes)
        else:
            value = _subject_values(plan, estate=None, project=item.project)["estimated_investment_wan"]
        if value != item.estimated_investment_wan:
            before = snapshot(item)
            item.estimated_investment_wan = value
            item.save(update_fields=["estimated_investment_wan"])
            entries.append((item, AuditAction.UPDATE, before, snapshot(item)))
    record_changes_bulk(actor=actor, entries=entries, verb="plans.reestimate", cause=cause)
    return len(entries)


@transaction.atomic
def plan_transition(*, actor, plan: ActionPlan, step: str, comment: str = "", cause: str = "") -> ActionPlan:
    """Take one workflow step (`workflow.STEPS`); the step's role on a region covering the county is needed."""
    plan = _locked_plan(plan)
    _see(actor, plan.county.code)
    chosen = workflow.STEPS_BY_NAME.get(step)
    if chosen is None:
        raise _bad(ErrorCode.PLAN_TRANSITION_INVALID, "step", _("Unknown step."))
    if actor is not None and not workflow.holds(scope_for(actor), chosen.role, plan.county.code):
        raise PermissionDeniedError(_("Your role may not take this step on this plan."))
    if plan.status not in chosen.sources:
        raise ServiceError(ErrorCode.PLAN_TRANSITION_INVALID,
                           _("A plan that is %(status)s cannot take the step “%(step)s”.") % {
                               "status": plan.get_status_display(), "step": chosen.label},
                           fields={"step": [_("not allowed now")]}, status=409)
    comment = _text(comment, 10_000)
    if chosen.comment_required and not comment:
        raise _bad(ErrorCode.PLAN_TRANSITION_INVALID, "comment", _("Say what the county should change."))
    if len(comment) > 4000:
        raise _bad(ErrorCode.PLAN_TRANSITION_INVALID, "comment", _("The comment is too long."))
    if step == "submit" and not plan.items.exists():
        raise _bad(ErrorCode.PLAN_TRANSITION_INVALID, "step", _("An empty plan cannot be submitted."))
    before = snapshot(plan)
    from_status = plan.status
    plan.status = chosen.target
    now = timezone.now()
    if chosen.target == PlanStatus.SUBMITTED:
        plan.submitted_at = now
    if chosen.target == PlanStatus.APPROVED:
        plan.approved_at = now
    plan.save()
    record_change(actor=actor, obj=plan, action=AuditAction.TRANSITION, before=before, after=snapshot(plan),
                  verb=f"plans.{step}", cause=cause or comment[:200])
    _event(plan, actor, step, from_status, plan.status, chosen.role, comment)
    if chosen.target == PlanStatus.APPROVED:
        # the version it replaces is no longer in force
        for old in ActionPlan.objects.select_for_update().filter(
                county=plan.county, period=plan.period, status=PlanStatus.APPROVED).exclude(pk=plan.pk):
            old_before = snapshot(old)
            old.status = PlanStatus.SUPERSEDED
            old.save(update_fields=["status", "updated_at"])
            record_change(actor=actor, obj=old, action=AuditAction.TRANSITION, before=old_before,
                          after=snapshot(old), verb="plans.supersede", cause=f"v{plan.version}")
            _event(old, actor, "supersede", PlanStatus.APPROVED, PlanStatus.SUPERSEDED, chosen.role,
                   f"v{plan.version}")
    return plan


@transaction.atomic
def plan_adjust(*, actor, plan: ActionPlan, reason: str, cause: str = "") -> ActionPlan:
    """Start an adjustment (计划调整) of an approved plan: a new draft version with the same items."""
    plan = _locked_plan(plan)
    _require_role(actor, workflow.ADJUST_ROLE, plan.county.code, _("Only the county adjusts its plan."))
    if plan.status not in workflow.ADJUST_FROM:
        raise ServiceError(ErrorCode.PLAN_TRANSITION_INVALID,
                           _("Only an approved plan is adjusted; change a draft directly."), status=409)
    reason = _text(reason, 1000)
    if not reason:
        raise _bad(ErrorCode.PLAN_TRANSITION_INVALID, "reason", _("Give the reason for the adjustment."))
    if len(reason) > 300:
        raise _bad(ErrorCode.PLAN_TRANSITION_INVALID, "reason", _("The reason is too long (300 characters)."))
    if ActionPlan.objects.filter(previous=plan).exists():
        raise ServiceError(ErrorCode.PLAN_EXISTS, _("An adjustment of this version is under way already."),
                           status=409)
    latest = ActionPlan.objects.filter(county=plan.county, period=plan.period).order_by("-version").first()
    new = ActionPlan.objects.create(county=plan.county, period=plan.period, version=latest.version + 1,
                                    adjustment_reason=reason, previous=plan,
                                    created_by=actor if getattr(actor, "pk", None) else None)
    items = [PlanItem(plan=new, estate=i.estate, project=i.project, year=i.year,
                      planned_start=i.planned_start, planned_finish=i.planned_finish,
                      content_classes=i.content_classes, estates_count=i.estates_count, households=i.households,
                      floor_area=i.floor_area, estimated_investment_wan=i.estimated_investment_wan,
                      estimate_source=i.estimate_source, is_model=i.is_model, note=i.note)
             for i in plan.items.select_related("estate", "project").order_by("id")]
    items = PlanItem.objects.bulk_create(items, batch_size=2000)
    if items and items[0].pk is None:  # backends that do not return ids
        items = list(new.items.select_related("estate", "project").order_by("id"))
    record_change(actor=actor, obj=new, action=AuditAction.CREATE, before=None, after=snapshot(new),
                  verb="plans.adjust", cause=cause or reason)
    # One audit row per copied item (one insert), with the adjustment's cause: each item of the new version
    # is edited and audited on its own from here on, so its history must start with the values it was
    # copied with; the item's plan (this version, whose `previous` is the approved one) says where from.
    record_changes_bulk(actor=actor, entries=[(i, AuditAction.CREATE, None, snapshot(i)) for i in items],
                        verb="plans.adjust_copy", cause=cause or reason)
    _event(new, actor, "adjust", "", PlanStatus.DRAFT, workflow.ADJUST_ROLE, reason)
    return new


@transaction.atomic
def plan_apply_schedule(*, actor, plan: ActionPlan, schedule: dict[str, int | None], model_keys: Iterable[str] = (),
                        cause: str = "") -> dict:
    """Put candidates (e<estate id> / p<project id>) in the years given (None: out of the plan); audited in bulk.
    The adoption of an optimiser proposal, all or part of it, goes through here."""
    plan = _locked_plan(plan)
    _require_edit(actor, plan)
    model_keys = set(model_keys)
    items = {i.subject_key: i for i in plan.items.select_related("estate", "project")}
    estate_ids = [n for k in schedule if k.startswith("e") and (n := whole_number(k[1:]))]
    project_ids = [n for k in schedule if k.startswith("p") and (n := whole_number(k[1:]))]
    estates = {e.pk: e for e in Estate.objects.select_related("project").filter(pk__in=estate_ids,
                                                                                  county=plan.county)}
    projects = {p.pk: p for p in RenovationProject.objects.filter(pk__in=project_ids, county=plan.county)}
    entries, added, moved, removed = [], 0, 0, 0
    to_delete = []
    for key, year in sorted(schedule.items(), key=lambda kv: kv[0]):
        item = items.get(key)
        if year is None:
            if item is not None:
                entries.append((item, AuditAction.DELETE, snapshot(item), None))
                to_delete.append(item.pk)
                removed += 1
            continue
        if item is not None:
            if item.year == year and item.is_model == (key in model_keys):
                continue
            before = snapshot(item)
            if item.year != year:
                item.year, item.planned_start, item.planned_finish = _clean_schedule(plan, year, None, None, None)
            item.is_model = key in model_keys
            item.save()
            entries.append((item, AuditAction.UPDATE, before, snapshot(item)))
            moved += 1
            continue
        estate = estates.get(whole_number(key[1:])) if key.startswith("e") else None
        project = projects.get(whole_number(key[1:])) if key.startswith("p") else None
        if estate is None and project is None:
            raise _bad(ErrorCode.PLAN_ITEM_INVALID, "schedule", _("%(key)s is not a candidate of this county.") % {
                "key": key})
        earliest = _subject(plan, estate, project)
        y, start, finish = _clean_schedule(plan, year, None, None, earliest)
        item = PlanItem.objects.create(plan=plan, estate=estate, project=project, year=y, planned_start=start,
                                       planned_finish=finish, is_model=key in model_keys,
                                       **_subject_values(plan, estate=estate, project=project))
        entries.append((item, AuditAction.CREATE, None, snapshot(item)))
        added += 1
    record_changes_bulk(actor=actor, entries=entries, verb="plans.apply_schedule", cause=cause)
    PlanItem.objects.filter(pk__in=to_delete).delete()
    ActionPlan.objects.filter(pk=plan.pk).update(updated_at=timezone.now())
    return {"added": added, "moved": moved, "removed": removed}


@transaction.atomic
def plan_adopt(*, actor, plan: ActionPlan, run: OptimisationRun, keys: Iterable[str] | None = None,
               cause: str = "") -> dict:
    """Adopt the proposal of an optimiser run into a draft plan: every difference (keys None) or the chosen
    candidates only. Candidates the proposal leaves out are taken out of the plan when chosen."""
    plan = _locked_plan(plan)
    _require_edit(actor, plan)
    if run.period_id != plan.period_id or not plan.county.code.startswith(run.region.code):
        raise _bad(ErrorCode.OPTIMISER_INPUT_INVALID, "run", _("This proposal is for another county or period."))
    proposed = {row["id"]: row["year"] for row in run.result.get("schedule", [])
                if row.get("county") == plan.county.code}
    model = {row["id"] for row in run.result.get("schedule", []) if row.get("model") and
             row.get("county") == plan.county.code}
    current = {i.subject_key: i.year for i in plan.items.all()}
    current_model = {i.subject_key for i in plan.items.filter(is_model=True)}
    candidates = set(run.result.get("candidate_ids", {}).get(plan.county.code, []))
    differing = {k for k in set(proposed) | (set(current) & candidates) if proposed.get(k) != current.get(k)}
    differing |= {k for k in set(proposed) & set(current) if (k in model) != (k in current_model)}
    chosen = differing if keys is None else {k for k in keys if k in differing}
    if keys is not None and not chosen:
        raise _bad(ErrorCode.OPTIMISER_INPUT_INVALID, "keys", _("Choose at least one difference to adopt."))
    schedule = {k: proposed.get(k) for k in chosen}
    result = plan_apply_schedule(actor=actor, plan=plan, schedule=schedule, model_keys=model & chosen,
                                 cause=cause or f"optimiser run #{run.pk}")
    _event(plan, actor, "adopt", plan.status, plan.status, workflow.EDIT_ROLE,
           _("Adopted %(n)s change(s) from optimiser run #%(run)s.") % {"n": len(chosen), "run": run.pk})
    record_change(actor=actor, obj=plan, action=AuditAction.UPDATE, before=None, after={"adopted": sorted(chosen)},
                  verb="plans.adopt", cause=f"optimiser run #{run.pk}")
    return {**result, "adopted": len(chosen)}


@transaction.atomic
def model_estate_register(*, actor, estate: Estate | None, completed_on, note: str = "", estate_code: str = "",
                          cause: str = "") -> ModelEstate:
    """Record an estate the county has built as a model estate (样板). `estate` None: the code typed
    (`estate_code`) names no estate in the actor's regions, said with the form's other problems."""
    if estate is not None:
        _require_any_role(actor, (Role.COUNTY_OFFICIAL, Role.PROVINCE_ADMIN), estate.county.code,
                          _("Only the county or the province records model estates."))
    code = ErrorCode.PLAN_RULES_INVALID
    problems = _Problems(code)
    if estate is None:
        problems.add("estate", _("No estate with the code %(code)s in your regions.") % {
            "code": _text(estate_code, 32) or "-"})
    elif ModelEstate.objects.filter(estate=estate).exists():
        problems.add("estate", _("This estate is a model estate already."))
    date = problems.check("completed_on", _as_date, completed_on, "completed_on", code)
    if date is None and "completed_on" not in problems.fields:
        problems.add("completed_on", _("Give the completion date."))
    elif date is not None and date > timezone.localdate():
        problems.add("completed_on", _("The completion date lies in the future."))
    problems.refuse()
    row = ModelEstate.objects.create(county=estate.county, estate=estate, completed_on=date,
                                     note=_text(note, 200))
    record_change(actor=actor, obj=row, action=AuditAction.CREATE, before=None, after=snapshot(row),
                  verb="plans.model_estate", cause=cause)
    return row


# ---------------------------------------------------------------------------------------------
# monthly progress


def month_start(value) -> datetime.date:
    """'2020-05', '2020-05-17' or a date -> the first day of that month."""
    if isinstance(value, datetime.date):
        return value.replace(day=1)
    text = str(value or "").strip()
    try:
        if len(text) == 7:
            return datetime.date.fromisoformat(text + "-01")
        return datetime.date.fromisoformat(text).replace(day=1)
    except ValueError:
        raise _bad(ErrorCode.PROGRESS_REPORT_INVALID, "month", _("Enter a month as YYYY-MM.")) from None


def month_end(month: datetime.date) -> datetime.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _plan_estates(plan: ActionPlan) -> dict[int, tuple[int, int, Decimal]]:
    """Estate id -> (plan year, households, floor area) for every estate of the plan (members of projects too)."""
    out: dict[int, tuple[int, int, Decimal]] = {}
    costs = costs_for(plan.county.code)
    rows = PlanItem.objects.filter(plan=plan, estate__isnull=False).values_list(
        "estate_id", "year", "estate__households", "estate__floor_area")
    for estate_id, year, households, area in rows:
        out[estate_id] = (year, households or 0, costs.area(area, households))
    rows = PlanItem.objects.filter(plan=plan, project__isnull=False).values_list(
        "project__estates__id", "year", "project__estates__households", "project__estates__floor_area")
    for estate_id, year, households, area in rows:
        if estate_id is not None:
            out[estate_id] = (year, households or 0, costs.area(area, households))
    return out


def _previous_entries(*, report: ProgressReport, estate_ids: list[int] | None = None) -> dict[int, ProgressEntry]:
    """Estate id -> its entry in the county's last submitted report before the report's month ({} when
    there is none); with `estate_ids` only those estates' entries are read."""
    previous = ProgressReport.objects.filter(county=report.county, month__lt=report.month,
                                             status=ReportStatus.SUBMITTED).order_by("-month").first()
    if previous is None:
        return {}
    entries = previous.entries.all()
    if estate_ids is not None:
        entries = entries.filter(estate_id__in=estate_ids)
    return {e.estate_id: e for e in entries}


@transaction.atomic
def progress_report_open(*, actor, county: Region, month, cause: str = "") -> ProgressReport:
    """Open the county's report for a month: one entry per estate of the plan in force, carried forward
    from the county's last submitted report."""
    _county(county)
    _require_role(actor, Role.COUNTY_OFFICIAL, county.code, _("Only the county reports its progress."))
    month = month_start(month)
    if month > timezone.localdate().replace(day=1):
        raise _bad(ErrorCode.PROGRESS_REPORT_INVALID, "month", _("A month in the future cannot be reported."))
    existing = ProgressReport.objects.filter(county=county, month=month).first()
    if existing is not None:
        return existing
    period = period_for_month(month)
    plan = plans_in_force([county.pk], period).get(county.pk) if period else None
    if plan is None:
        raise _bad(ErrorCode.PROGRESS_REPORT_INVALID, "month",
                   _("%(county)s has no plan covering %(month)s.") % {"county": county.name,
                                                                       "month": month.strftime("%Y-%m")})
    report = ProgressReport.objects.create(county=county, month=month, plan=plan)
    record_change(actor=actor, obj=report, action=AuditAction.CREATE, before=None, after=snapshot(report),
                  verb="plans.report_open", cause=cause)
    _fill_entries(report, plan, actor=actor, cause=cause)
    return report


def _fill_entries(report: ProgressReport, plan: ActionPlan, *, actor, cause: str = "") -> int:
    """One entry per estate of the plan (carried forward from the last submitted report), and each
    entry's plan year brought in line with the plan.

    Audited one row per entry made or changed (in one insert), with the cause of the report's opening or
    submission: an entry is a figure the county answers for when it submits, and its later changes are
    audited per entry (`progress_entries_update`), so each entry's history must start with the values it
    was made with (carried figures included) and show every change the system made to it."""
    planned = _plan_estates(plan)
    have = {e.estate_id: e for e in report.entries.select_related("estate")}
    carried = _previous_entries(report=report)
    new_ids = [estate_id for estate_id in planned if estate_id not in have]
    estates = Estate.objects.only("id", "name").in_bulk(new_ids)  # names for the audit rows, in one query
    rows = []
    for estate_id in new_ids:
        year, households, area = planned[estate_id]
        prev = carried.get(estate_id)
        rows.append(ProgressEntry(
            report=report, estate=estates[estate_id], county_code=report.county.code, plan_year=year,
            stage=prev.stage if prev else ProgressStage.NOT_STARTED,
            started_on=prev.started_on if prev else None, completed_on=prev.completed_on if prev else None,
            accepted_on=prev.accepted_on if prev else None,
            investment_done_wan=prev.investment_done_wan if prev else Decimal("0.0000"),  # as stored (audit)
            households=households, floor_area=area))
    made = ProgressEntry.objects.bulk_create(rows, batch_size=2000)
    if made and made[0].pk is None:  # backends that do not return ids
        ids = dict(ProgressEntry.objects.filter(report=report, estate_id__in=new_ids).values_list("estate_id", "pk"))
        for row in made:
            row.pk = ids[row.estate_id]
    audit = [(row, AuditAction.CREATE, None, snapshot(row)) for row in made]
    # estates that left the plan stay listed but no longer count as planned; the others follow the plan's year
    changed = []
    for estate_id, entry in have.items():
        year = planned[estate_id][0] if estate_id in planned else None
        if entry.plan_year != year:
            before = snapshot(entry)
            entry.plan_year = year
            changed.append(entry)
            audit.append((entry, AuditAction.UPDATE, before, snapshot(entry)))
    ProgressEntry.objects.bulk_update(changed, ["plan_year"], batch_size=1000)
    record_changes_bulk(actor=actor, entries=audit, verb="plans.report_entries", cause=cause)
    return len(rows)


ENTRY_FIELDS = ("stage", "started_on", "completed_on", "accepted_on", "investment_done_wan")


def _clean_entry(entry: ProgressEntry, values: dict, month: datetime.date, previous: ProgressEntry | None) -> dict:
    code = ErrorCode.PROGRESS_ENTRY_INVALID
    stage = values.get("stage", entry.stage)
    if stage not in ProgressStage.values:
        raise _bad(code, "stage", _("Choose not started, started, completed or accepted."))
    dates = {}
    for name in ("started_on", "completed_on", "accepted_on"):
        dates[name] = _as_date(values.get(name, getattr(entry, name)), name, code)
    last = month_end(month)
    rank = STAGE_ORDER[stage]
    needed = {"started_on": 1, "completed_on": 2, "accepted_on": 3}
    for name, at_rank in needed.items():
        if rank >= at_rank and dates[name] is None:
            raise _bad(code, name, _("Give the date for this stage."))
        if rank < at_rank:
            dates[name] = None
        if dates[name] is not None and dates[name] > last:
            raise _bad(code, name, _("The date lies after the month reported on (%(month)s).") % {
                "month": month.strftime("%Y-%m")})
    order = [d for d in (dates["started_on"], dates["completed_on"], dates["accepted_on"]) if d is not None]
    if order != sorted(order):
        raise _bad(code, "completed_on", _("Start, completion and acceptance must come in that order."))
    investment = _as_decimal(values.get("investment_done_wan", entry.investment_done_wan), "investment_done_wan",
                             code, places=4)
    if previous is not None:
        if STAGE_ORDER[previous.stage] > rank:
            raise _bad(code, "stage", _("The stage cannot go back from %(stage)s, reported last month.") % {
                "stage": previous.get_stage_display()})
        if investment < previous.investment_done_wan:
            raise _bad(code, "investment_done_wan", _("Investment to date cannot fall below last month's %(amount)s "
                                                      "万元.") % {"amount": previous.investment_done_wan})
    return {"stage": stage, **dates, "investment_done_wan": investment}


@transaction.atomic
def progress_entries_update(*, actor, report: ProgressReport, rows: dict[int, dict], cause: str = "") -> int:
    """Change entries of a draft report: {entry id: {stage, started_on, completed_on, accepted_on,
    investment_done_wan}}. All rows or none; errors name the estate."""
    report = ProgressReport.objects.select_for_update(of=("self",)).select_related("county").get(pk=report.pk)
    _require_role(actor, Role.COUNTY_OFFICIAL, report.county.code, _("Only the county reports its progress."))
    if report.is_locked:
        raise ServiceError(ErrorCode.PROGRESS_REPORT_LOCKED, _("This report has been submitted and is locked."),
                           status=409)
    entries = {e.pk: e for e in report.entries.select_related("estate").filter(pk__in=list(rows))}
    missing = [k for k in rows if k not in entries]
    if missing:
        raise NotFoundError()
    previous = _previous_entries(report=report, estate_ids=[e.estate_id for e in entries.values()])
    changed = []
    for pk, values in rows.items():
        entry = entries[pk]
        try:
            clean = _clean_entry(entry, values, report.month, previous.get(entry.estate_id))
        except ServiceError as exc:
            exc.message = f"{entry.estate.name}: {exc.message}"
            exc.fields = {f"{pk}.{k}": v for k, v in exc.fields.items()}
            raise
        before = snapshot(entry)
        for k, v in clean.items():
            setattr(entry, k, v)
        after = snapshot(entry)
        if before != after:
            changed.append((entry, before, after))
    ProgressEntry.objects.bulk_update([c[0] for c in changed], list(ENTRY_FIELDS), batch_size=1000)
    record_changes_bulk(actor=actor, entries=[(e, AuditAction.UPDATE, b, a) for e, b, a in changed],
                        verb="plans.progress_update", cause=cause)
    return len(changed)


def summary_values(report: ProgressReport) -> dict:
    """The month's figures of a report (cumulative to the end of the month), from its entries."""
    from django.db.models import Count, Sum

    year = report.month.year
    started = [ProgressStage.STARTED, ProgressStage.COMPLETED, ProgressStage.ACCEPTED]
    completed = [ProgressStage.COMPLETED, ProgressStage.ACCEPTED]
    entries = ProgressEntry.objects.filter(report=report)
    planned = entries.filter(plan_year__isnull=False)
    agg = planned.aggregate(
        plan_estates=Count("pk"),
        started_estates=Count("pk", filter=Q(stage__in=started)),
        completed_estates=Count("pk", filter=Q(stage__in=completed)),
        accepted_estates=Count("pk", filter=Q(stage=ProgressStage.ACCEPTED)),
        completed_households=Sum("households", filter=Q(stage__in=completed)),
        completed_floor_area=Sum("floor_area", filter=Q(stage__in=completed)),
        annual_estates=Count("pk", filter=Q(plan_year=year)),
        annual_households=Sum("households", filter=Q(plan_year=year)),
        annual_started=Count("pk", filter=Q(plan_year=year, stage__in=started)),
        annual_completed=Count("pk", filter=Q(plan_year=year, stage__in=completed)),
        annual_accepted=Count("pk", filter=Q(plan_year=year, stage=ProgressStage.ACCEPTED)),
    )
    investment = entries.aggregate(v=Sum("investment_done_wan"))["v"]
    annual_investment = PlanItem.objects.filter(plan_id=report.plan_id, year=year).aggregate(
        v=Sum("estimated_investment_wan"))["v"] if report.plan_id else None
    values = {k: (v or 0) for k, v in agg.items()}
    values["completed_floor_area"] = Decimal(values["completed_floor_area"] or 0)
    values["investment_done_wan"] = Decimal(investment or 0)
    values["annual_investment_wan"] = Decimal(annual_investment or 0)
    return values


@transaction.atomic
def progress_report_submit(*, actor, report: ProgressReport, cause: str = "") -> ProgressReport:
    """Submit and lock the month's report; its figures become the month's statistics."""
    report = ProgressReport.objects.select_for_update(of=("self",)).select_related("county", "plan").get(pk=report.pk)
    _require_role(actor, Role.COUNTY_OFFICIAL, report.county.code, _("Only the county reports its progress."))
    if report.is_locked:
        raise ServiceError(ErrorCode.PROGRESS_REPORT_LOCKED, _("This report has been submitted and is locked."),
                           status=409)
    earlier_draft = ProgressReport.objects.filter(county=report.county, month__lt=report.month,
                                                  status=ReportStatus.DRAFT).order_by("month").first()
    if earlier_draft is not None:
        raise _bad(ErrorCode.PROGRESS_REPORT_INVALID, "month", _("Submit the report for %(month)s first.") % {
            "month": earlier_draft.month.strftime("%Y-%m")})
    if report.plan_id:
        _fill_entries(report, report.plan, actor=actor, cause=cause)
    before = snapshot(report)
    report.status = ReportStatus.SUBMITTED
    report.submitted_at = timezone.now()
    report.submitted_by = actor if getattr(actor, "pk", None) else None
    report.save()
    record_change(actor=actor, obj=report, action=AuditAction.TRANSITION, before=before, after=snapshot(report),
                  verb="plans.report_submit", cause=cause)
    # The month's official figures, which every roll-up and export reads: audited as a row of their own
    # (before and after), so who fixed which figures, when, is on the record of the figures themselves.
    summary = ProgressSummary.objects.select_for_update().filter(county=report.county, month=report.month).first()
    summary_before = snapshot(summary) if summary is not None else None
    summary = summary or ProgressSummary(county=report.county, month=report.month)
    for name, value in {"report": report, "county_code": report.county.code, **summary_values(report)}.items():
        setattr(summary, name, value)
    summary.save()
    summary.refresh_from_db()  # the figures as stored (decimals to their places) go on the record
    record_change(actor=actor, obj=summary, action=AuditAction.CREATE if summary_before is None else AuditAction.UPDATE,
                  before=summary_before, after=snapshot(summary), verb="plans.report_submit", cause=cause)
    return report


# ---------------------------------------------------------------------------------------------
# optimiser runs


def can_optimise(actor, region: Region) -> bool:
    if actor is None:
        return True
    scope = scope_for(actor)
    if not scope.covers(region.code, Action.CHANGE):
        return False
    if region.level == RegionLevel.COUNTY:
        return any(workflow.holds(scope, r, region.code) for r in (Role.COUNTY_OFFICIAL, Role.CITY_OFFICIAL,
                                                                   Role.PROVINCE_ADMIN))
    if region.level == RegionLevel.CITY:
        return any(workflow.holds(scope, r, region.code) for r in (Role.CITY_OFFICIAL, Role.PROVINCE_ADMIN))
    return region.code == PROVINCE_CODE and scope.is_province_admin


@transaction.atomic
def optimisation_run_save(*, actor, region: Region, period: PlanPeriod, params: dict, result: dict) -> OptimisationRun:
    period = _stored_period(period)
    run = OptimisationRun.objects.create(region=region, period=period, params=params, result=result,
                                         created_by=actor if getattr(actor, "pk", None) else None)
    # the run's figures under its `result` field, so the audit pages name them (a key of its own would show
    # as stored: objective, bound …); the run itself keeps the whole result
    summary = {k: result.get(k) for k in ("status", "objective", "bound", "gap", "greedy_objective", "feasible")}
    record_change(actor=actor, obj=run, action=AuditAction.CREATE, before=None, after={"result": summary},
                  verb="plans.optimise")
    return run


def budgets_checked(actor, rows: dict) -> dict:
    """Budgets from a file for a run: counties the actor cannot see are refused."""
    if actor is None:
        return rows
    scope = scope_for(actor)
    hidden = sorted({c for c, _y in rows if not scope.covers(c, Action.VIEW)})
    if hidden:
        raise ServiceError(ErrorCode.BUDGET_FILE_INVALID, _("The file names counties outside your regions."),
                           fields={"county": hidden[:50]})
    return rows

