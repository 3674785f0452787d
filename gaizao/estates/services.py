"""Every write to estates, the rules and the project pool.

Keyword-only arguments with `actor=` first, one transaction each, an audit entry per change.
An `actor` of None is the system (CLI, generator, jobs) and is not scoped; a user is checked
against their regions for the `change` action, and an estate outside them is "not found".
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from gaizao.accounts.scoping import Action, Role, scope_for
from gaizao.core.audit import _plain, record_change, record_changes_bulk
from gaizao.core.errors import ErrorCode, NotFoundError, PermissionDeniedError, ServiceError
from gaizao.core.models import AuditAction
from gaizao.regions.models import PROVINCE_CODE, Region, RegionLevel
from gaizao.regions.setup import province_rows_setup

from .models import (
    CatalogueItem,
    Eligibility,
    EligibilityPolicy,
    Estate,
    EstateStatus,
    HousingType,
    ManagementMode,
    PriorityWeights,
    RenovationProject,
)
from .rules import EstateFacts, Rules, evaluate

ESTATE_REGION_LEVELS = (RegionLevel.STREET, RegionLevel.COMMUNITY)
# A rules change touching more estates than this recomputes them in a background job.
INLINE_RECOMPUTE_LIMIT = 5000
# Estates merged into one project must each lie within this distance of another member
# (or share its community).
MERGE_MAX_DISTANCE_M = 1000
FIRST_POOL_YEAR = 2019

DATA_FIELDS = (
    "name", "address", "built_year", "buildings", "households", "floor_area", "housing_type",
    "in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard", "management_mode", "max_floors",
    "buildings_with_elevator", "willingness", "longitude", "latitude",
)
DERIVED_FIELDS = ("eligibility", "eligibility_reasons", "rebuild_route", "priority_score", "priority_breakdown")
SNAPSHOT_EXCLUDE = ("created_at", "updated_at", "county_rank")


# ---------------------------------------------------------------------------------------------
# small helpers


def _reach(actor, region_code: str, *, message=None) -> None:
    """Refuse (as not found) a change outside the actor's regions; the system (None) reaches all."""
    if actor is None:
        return
    if not scope_for(actor).covers(region_code, Action.CHANGE):
        raise NotFoundError(message or _("Not found."))


def _county_code(region_code: str) -> str:
    return region_code[:6]


def estate_snapshot(estate: Estate, deficiency_ids: Iterable[int] | None = None) -> dict:
    """The audited values of an estate (no queries when `deficiency_ids` is given)."""
    data = {f.attname: _plain(getattr(estate, f.attname)) for f in Estate._meta.concrete_fields
            if f.name not in SNAPSHOT_EXCLUDE}
    if deficiency_ids is None:
        deficiency_ids = estate.deficiencies.values_list("pk", flat=True) if estate.pk else ()
    data["deficiencies"] = sorted(deficiency_ids)
    return data


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _catalogue() -> dict[str, CatalogueItem]:
    return {item.code: item for item in CatalogueItem.objects.all()}


# ---------------------------------------------------------------------------------------------
# value cleaning shared by single edits and bulk upserts


class _Bad(Exception):
    pass


def _int(value, *, low: int, high: int, nullable: bool, zero_for_none: bool = False):
    if value is None or value == "":
        if zero_for_none:
            return 0
        if nullable:
            return None
        raise _Bad(_("This value is required."))
    if isinstance(value, bool):
        raise _Bad(_("Enter a whole number."))
    try:
        number = int(value) if not isinstance(value, float | Decimal) or value == int(value) else None
    except (TypeError, ValueError, OverflowError, InvalidOperation):
        number = None
    if number is None:
        raise _Bad(_("Enter a whole number."))
    if not low <= number <= high:
        raise _Bad(_("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
    return number


def _dec(value, *, low: Decimal, high: Decimal, places: int, nullable: bool = True):
    if value is None or value == "":
        if nullable:
            return None
        raise _Bad(_("This value is required."))
    if isinstance(value, bool):
        raise _Bad(_("Enter a number."))
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not number.is_finite():
            raise InvalidOperation
        number = number.quantize(Decimal(1).scaleb(-places))
    except (InvalidOperation, ValueError, TypeError):
        raise _Bad(_("Enter a number.")) from None
    if not low <= number <= high:
        raise _Bad(_("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
    return number


def _text(value, *, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise _Bad(_("This value is required."))
    if len(text) > max_length:
        raise _Bad(_("At most %(n)s characters.") % {"n": max_length})
    if "\x00" in text:
        raise _Bad(_("The text contains a NUL character."))
    return text


_CHOICE_VALUES: dict[type, frozenset] = {}


def _choice(value, choices, default: str | None = None) -> str:
    if (value is None or value == "") and default is not None:
        return default
    allowed = _CHOICE_VALUES.get(choices)
    if allowed is None:
        allowed = _CHOICE_VALUES[choices] = frozenset(choices.values)
    if value not in allowed:
        raise _Bad(_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)})
    return str(value)


def _bool(value) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise _Bad(_("Enter yes or no."))


_YEAR = {"at": -1e9, "year": 0}


def _current_year() -> int:
    """This year in the project's time zone (looked up at most once a minute: bulk rows ask for it a lot)."""
    now = time.monotonic()
    if now - _YEAR["at"] > 60:
        _YEAR.update(at=now, year=timezone.localdate().year)
    return _YEAR["year"]


def clean_value(key: str, value):
    """One data field's value in its stored form, or `_Bad` with the reason."""
    if key == "name":
        return _text(value, max_length=128, required=True)
    if key == "address":
        return _text(value, max_length=256)
    if key == "built_year":
        return _int(value, low=1900, high=_current_year(), nullable=True)
    if key in ("buildings", "households", "buildings_with_elevator"):
        return _int(value, low=0, high=1_000_000, nullable=False, zero_for_none=True)
    if key == "floor_area":
        return _dec(value, low=Decimal(0), high=Decimal("9999999999.99"), places=2)
    if key == "housing_type":
        return _choice(value, HousingType, HousingType.OTHER)
    if key == "management_mode":
        return _choice(value, ManagementMode, ManagementMode.NONE)
    if key in ("in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard"):
        return _bool(value)
    if key == "max_floors":
        return _int(value, low=1, high=200, nullable=True)
    if key == "willingness":
        return _dec(value, low=Decimal(0), high=Decimal(100), places=2)
    if key == "longitude":
        return _dec(value, low=Decimal(-180), high=Decimal(180), places=6)
    if key == "latitude":
        return _dec(value, low=Decimal(-90), high=Decimal(90), places=6)
    raise _Bad(_("Unknown field."))


def _clean_deficiencies(value, catalogue: dict[str, CatalogueItem]) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[、，,;；\s]+", value) if v]
    ids = set()
    unknown = []
    for item in value:
        if isinstance(item, CatalogueItem):
            ids.add(item.pk)
            continue
        found = catalogue.get(str(item).strip())
        if found is None:
            unknown.append(str(item))
        else:
            ids.add(found.pk)
    if unknown:
        raise _Bad(_("Not in the content catalogue: %(items)s") % {"items": "、".join(unknown[:10])})
    return sorted(ids)


def _cross_checks(values: dict) -> dict[str, str]:
    errors = {}
    buildings, with_elevator = values.get("buildings") or 0, values.get("buildings_with_elevator") or 0
    if buildings and with_elevator > buildings:
        errors["buildings_with_elevator"] = _("More buildings with an elevator than buildings.")
    lon, lat = values.get("longitude"), values.get("latitude")
    if (lon is None) != (lat is None):
        errors["longitude" if lon is None else "latitude"] = _("Give both longitude and latitude, or neither.")
    return errors


def _check_region(region: Region) -> None:
    if region.level not in ESTATE_REGION_LEVELS:
        raise ServiceError(ErrorCode.ESTATE_REGION_INVALID,
                           _("An estate lies in a street or a community, not in a %(level)s.")
                           % {"level": region.get_level_display()}, fields={"region": [region.code]})
    if not region.is_active:
        raise ServiceError(ErrorCode.ESTATE_REGION_INVALID, _("The region %(name)s is retired.")
                           % {"name": region.name}, fields={"region": [region.code]})


# ---------------------------------------------------------------------------------------------
# rules in force


@transaction.atomic
def rules_defaults_setup(*, actor=None, cause: str = "") -> list:
    """Store the province default eligibility policy and priority weights (region 33, the model's
    defaults) when they are missing, each creation audited; returns the rows made.

    A set-up step, run after the region tree is loaded (`gaizao load-regions`) and by the demo data; an
    actor of None is the system. Reads never create these rows: without them `rules_by_county` uses the
    same built-in defaults (`Rules`)."""
    return province_rows_setup(actor=actor, models=(EligibilityPolicy, PriorityWeights),
                               verb="estates.rules_defaults_setup", cause=cause or "set-up defaults")


def rules_by_county(county_codes: Iterable[str]) -> dict[str, Rules]:
    """The rules in force per county code: the county's override, else the province default (2 queries)."""
    county_codes = set(county_codes)
    wanted = county_codes | {PROVINCE_CODE}
    policies = {p.region.code: p for p in EligibilityPolicy.objects.select_related("region")
                .filter(region__code__in=wanted)}
    weights = {w.region.code: w for w in PriorityWeights.objects.select_related("region")
               .filter(region__code__in=wanted)}
    return {code: Rules.from_rows(policies.get(code) or policies.get(PROVINCE_CODE),
                                  weights.get(code) or weights.get(PROVINCE_CODE))
            for code in county_codes}


def rules_for_county(county_code: str) -> Rules:
    return rules_by_county([county_code])[county_code]


def _facts(values: dict, deficiency_ids: Iterable[int], class_of: dict[int, str]) -> EstateFacts:
    counts: dict[str, int] = defaultdict(int)
    for pk in deficiency_ids:
        cls = class_of.get(pk)
        if cls:
            counts[cls] += 1
    return EstateFacts(
        built_year=values.get("built_year"), housing_type=values.get("housing_type") or HousingType.OTHER,
        in_shantytown_plan=bool(values.get("in_shantytown_plan")),
        in_historic_district=bool(values.get("in_historic_district")),
        has_precast_slab_hazard=bool(values.get("has_precast_slab_hazard")),
        willingness=values.get("willingness"), deficiency_counts=dict(counts))


def derived_values(values: dict, deficiency_ids: Iterable[int], class_of: dict[int, str], rules: Rules) -> dict:
    outcome = evaluate(_facts(values, deficiency_ids, class_of), rules)
    return {"eligibility": outcome.eligibility, "eligibility_reasons": outcome.reasons,
            "rebuild_route": outcome.route, "priority_score": outcome.score,
            "priority_breakdown": outcome.breakdown}


def _class_of() -> dict[int, str]:
    return dict(CatalogueItem.objects.values_list("pk", "content_class"))


def counties_rerank(county_ids: Iterable[int]) -> None:
    """Rank eligible estates that are not dropped within each county by score (then code); others get none."""
    ids = sorted({int(c) for c in county_ids if c is not None})
    if not ids:
        return
    table = Estate._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    # codes by code point on both databases (SQLite's BINARY; PostgreSQL's collation may sort "B" after "a"), as
    # the census import ranks the counties it fills alone
    by_code = 'code COLLATE "C"' if connection.vendor == "postgresql" else "code"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET county_rank = NULL WHERE county_id IN ({marks}) AND county_rank IS NOT NULL "
            f"AND (eligibility <> %s OR status = %s)", [*ids, Eligibility.ELIGIBLE, EstateStatus.DROPPED])
        cursor.execute(
            f"UPDATE {table} SET county_rank = r.rk FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY county_id "
            f"ORDER BY priority_score DESC NULLS LAST, {by_code}) AS rk FROM {table} WHERE county_id IN ({marks}) "
            f"AND eligibility = %s AND status <> %s) AS r WHERE {table}.id = r.id AND {table}.county_rank {differs} r.rk",
            [*ids, Eligibility.ELIGIBLE, EstateStatus.DROPPED])


def _write_derived(estates: list[Estate]) -> None:
    """Store derived values with one executemany of UPDATE … WHERE id (bulk_update's CASE is far slower)."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    table = connection.ops.quote_name(Estate._meta.db_table)
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = (f"UPDATE {table} SET eligibility = %s, eligibility_reasons = {json_param}, rebuild_route = %s, "
           f"priority_score = %s, priority_breakdown = {json_param}, updated_at = %s WHERE id = %s")
    now = timezone.now()
    params = [(e.eligibility, json.dumps(e.eligibility_reasons, cls=DjangoJSONEncoder, ensure_ascii=False),
               e.rebuild_route, e.priority_score,
               json.dumps(e.priority_breakdown, cls=DjangoJSONEncoder, ensure_ascii=False), now, e.pk)
              for e in estates]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def estates_recompute(*, actor=None, county_ids: Iterable[int] | None = None,
                      estate_ids: Iterable[int] | None = None, cause: str = "", progress=None) -> dict:
    """Re-evaluate eligibility and priority (after a rules change) and re-rank the counties touched.

    Only estates whose derived values change are written; a change of eligibility or route is audited
    (score changes follow from the audited rules change and are not audited one by one).
    """
    qs = Estate.objects.all()
    if county_ids is not None:
        qs = qs.filter(county_id__in=list(county_ids))
    if estate_ids is not None:
        qs = qs.filter(pk__in=list(estate_ids))
    class_of = _class_of()
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    fields = ["pk", "name", "region_id", "region__code", "county_id", "county__code", *DATA_FIELDS[2:],
              *DERIVED_FIELDS]
    rules_cache: dict[str, Rules] = {}
    through = Estate.deficiencies.through
    changed_total = eligibility_changed = 0
    touched_counties: set[int] = set()
    chunk = 5000
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        rows = list(Estate.objects.filter(pk__in=part).values(*fields))
        defs: dict[int, list[int]] = defaultdict(list)
        for estate_id, item_id in through.objects.filter(estate_id__in=part).values_list(
                "estate_id", "catalogueitem_id"):
            defs[estate_id].append(item_id)
        missing = {r["county__code"] for r in rows} - rules_cache.keys()
        if missing:
            rules_cache.update(rules_by_county(missing))
        updates, audits = [], []
        for row in rows:
            touched_counties.add(row["county_id"])
            new = derived_values(row, defs.get(row["pk"], ()), class_of, rules_cache[row["county__code"]])
            old = {k: row[k] for k in DERIVED_FIELDS}
            if new["priority_score"] is not None:
                new_cmp = dict(new, priority_score=Decimal(new["priority_score"]))
            else:
                new_cmp = new
            if old["priority_score"] is not None:
                old["priority_score"] = Decimal(old["priority_score"]).quantize(Decimal("0.01"))
            if new_cmp == old:
                continue
            obj = Estate(pk=row["pk"], name=row["name"], region_id=row["region_id"], updated_at=timezone.now(), **new)
            obj.region = Region(pk=row["region_id"], code=row["region__code"])
            updates.append(obj)
            if (old["eligibility"], old["rebuild_route"]) != (new["eligibility"], new["rebuild_route"]):
                eligibility_changed += 1
                audits.append((obj, AuditAction.UPDATE,
                               {"eligibility": old["eligibility"], "rebuild_route": old["rebuild_route"],
                                "eligibility_reasons": old["eligibility_reasons"]},
                               {"eligibility": new["eligibility"], "rebuild_route": new["rebuild_route"],
                                "eligibility_reasons": new["eligibility_reasons"]}))
        if updates:
            _write_derived(updates)
            changed_total += len(updates)
        record_changes_bulk(actor=actor, entries=audits, verb="estates.recompute", cause=cause)
        if progress:
            progress(90 * min(len(ids), start + chunk) // max(1, len(ids)),
                     _("%(done)s of %(total)s estates evaluated") % {"done": min(len(ids), start + chunk),
                                                                      "total": len(ids)})
    counties_rerank(touched_counties)
    return {"evaluated": len(ids), "changed": changed_total, "eligibility_changed": eligibility_changed}


# ---------------------------------------------------------------------------------------------
# estates one by one


def _next_codes(county_code: str, count: int, reserved: set[str] | None = None) -> list[str]:
    """`count` fresh codes `<county>-<6 digits>` after the highest one in use."""
    pattern = re.compile(rf"^{re.escape(county_code)}-(\d+)$")
    highest = 0
    for code in Estate.objects.filter(code__startswith=f"{county_code}-").values_list("code", flat=True):
        m = pattern.match(code)
        if m:
            highest = max(highest, int(m.group(1)))
    for code in reserved or ():
        m = pattern.match(code)
        if m:
            highest = max(highest, int(m.group(1)))
    return [f"{county_code}-{n:06d}" for n in range(highest + 1, highest + 1 + count)]


def _clean_fields(fields: dict) -> dict:
    cleaned, errors = {}, {}
    for key, value in fields.items():
        if key not in DATA_FIELDS:
            errors[key] = [_("Unknown field.")]
            continue
        try:
            cleaned[key] = clean_value(key, value)
        except _Bad as exc:
            errors[key] = [str(exc)]
    if errors:
        raise ServiceError(ErrorCode.INVALID, _("Some values are invalid."), fields=errors)
    return cleaned


@transaction.atomic
def estate_create(*, actor, region: Region, name: str, code: str | None = None, deficiencies=(),
                  cause: str = "", **fields) -> Estate:
    """Register an estate on a street or community; the code is generated when not given."""
    _check_region(region)
    _reach(actor, region.code, message=_("No such region in your area."))
    values = _clean_fields({"name": name, **fields})
    errors = _cross_checks(values)
    if errors:
        raise ServiceError(ErrorCode.INVALID, _("Some values are invalid."), fields={k: [v] for k, v in errors.items()})
    try:
        deficiency_ids = _clean_deficiencies(deficiencies, _catalogue())
    except _Bad as exc:
        raise ServiceError(ErrorCode.INVALID, str(exc), fields={"deficiencies": [str(exc)]}) from None
    county = Region.objects.get(code=_county_code(region.code))
    code = (code or "").strip()
    if code:
        try:
            code = _text(code, max_length=32)
        except _Bad as exc:
            raise ServiceError(ErrorCode.INVALID, str(exc), fields={"code": [str(exc)]}) from None
        if Estate.objects.filter(code=code).exists():
            raise ServiceError(ErrorCode.ESTATE_CODE_TAKEN, _("The code %(code)s is already used.") % {"code": code},
                               fields={"code": [_("taken")]})
    else:
        code = _next_codes(county.code, 1)[0]
    estate = Estate(code=code, region=region, county=county, **values)
    for key, value in derived_values(values, deficiency_ids, _class_of(), rules_for_county(county.code)).items():
        setattr(estate, key, value)
    estate.save()
    if deficiency_ids:
        estate.deficiencies.set(deficiency_ids)
    record_change(actor=actor, obj=estate, action=AuditAction.CREATE, before=None,
                  after=estate_snapshot(estate, deficiency_ids), verb="estates.estate_create", cause=cause)
    counties_rerank([county.pk])
    estate.refresh_from_db(fields=["county_rank"])
    return estate


@transaction.atomic
def estate_update(*, actor, estate: Estate, changes: dict, cause: str = "") -> bool:
    """Change an estate's data (`changes` by field name; `region` a Region; `deficiencies` catalogue codes).

    Eligibility, score and rank are recomputed. Returns False when nothing changed (and audits nothing).
    """
    estate = Estate.objects.select_for_update().select_related("region", "county").get(pk=estate.pk)
    _reach(actor, estate.region.code)
    changes = dict(changes)
    new_region = changes.pop("region", None)
    deficiencies = changes.pop("deficiencies", None)
    values = _clean_fields(changes)
    before_ids = sorted(estate.deficiencies.values_list("pk", flat=True))
    before = estate_snapshot(estate, before_ids)
    old_county_id = estate.county_id
    if new_region is not None and new_region.pk != estate.region_id:
        _check_region(new_region)
        _reach(actor, new_region.code, message=_("No such region in your area."))
        estate.region = new_region
        estate.county = Region.objects.get(code=_county_code(new_region.code))
    for key, value in values.items():
        setattr(estate, key, value)
    errors = _cross_checks({k: getattr(estate, k) for k in DATA_FIELDS})
    if errors:
        raise ServiceError(ErrorCode.INVALID, _("Some values are invalid."), fields={k: [v] for k, v in errors.items()})
    deficiency_ids = before_ids
    if deficiencies is not None:
        try:
            deficiency_ids = _clean_deficiencies(deficiencies, _catalogue())
        except _Bad as exc:
            raise ServiceError(ErrorCode.INVALID, str(exc), fields={"deficiencies": [str(exc)]}) from None
    data = {k: getattr(estate, k) for k in DATA_FIELDS}
    for key, value in derived_values(data, deficiency_ids, _class_of(), rules_for_county(estate.county.code)).items():
        setattr(estate, key, value)
    after = estate_snapshot(estate, deficiency_ids)
    if after == before:
        return False
    estate.save()
    if deficiency_ids != before_ids:
        estate.deficiencies.set(deficiency_ids)
    old, new = _diff(before, after)
    record_change(actor=actor, obj=estate, action=AuditAction.UPDATE, before=old, after=new,
                  verb="estates.estate_update", cause=cause)
    counties_rerank({old_county_id, estate.county_id})
    return True


# ---------------------------------------------------------------------------------------------
# the project pool


def _year(value, *, field: str = "year") -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        year = None
    high = _current_year() + 10
    if year is None or not FIRST_POOL_YEAR <= year <= high:
        raise ServiceError(ErrorCode.ESTATE_POOL_YEAR_INVALID,
                           _("Give a year from %(low)s to %(high)s.") % {"low": FIRST_POOL_YEAR, "high": high},
                           fields={field: [_("invalid year")]})
    return year


def _reason(value) -> str:
    try:
        text = _text(value, max_length=200, required=True)
    except _Bad as exc:
        raise ServiceError(ErrorCode.INVALID, _("Give a reason."), fields={"reason": [str(exc)]}) from None
    return text


def _locked(estate: Estate, actor) -> Estate:
    locked = Estate.objects.select_for_update().select_related("region").get(pk=estate.pk)
    _reach(actor, locked.region.code)
    return locked


def _transition(actor, estate: Estate, *, verb: str, cause: str, **changes) -> Estate:
    keys = ("status", "pool_year", "status_reason")
    before = {k: getattr(estate, k) for k in keys}
    for key, value in changes.items():
        setattr(estate, key, value)
    estate.save(update_fields=[*changes.keys(), "updated_at"])
    record_change(actor=actor, obj=estate, action=AuditAction.TRANSITION, before=before,
                  after={k: getattr(estate, k) for k in keys}, verb=verb, cause=cause)
    return estate


def _refuse_transition(estate: Estate, wanted: str):
    return ServiceError(
        ErrorCode.ESTATE_TRANSITION_INVALID,
        _("%(estate)s is %(status)s; it cannot be %(wanted)s.") % {
            "estate": estate.name, "status": estate.get_status_display(), "wanted": wanted},
        fields={"status": [estate.status]})


def _require_eligible(estate: Estate) -> None:
    if estate.eligibility != Eligibility.ELIGIBLE:
        raise ServiceError(ErrorCode.ESTATE_NOT_ELIGIBLE,
                           _("%(estate)s is %(eligibility)s and cannot enter the pool.") % {
                               "estate": estate.name, "eligibility": estate.get_eligibility_display()},
                           fields={"eligibility": [estate.eligibility]})


@transaction.atomic
def estate_admit(*, actor, estate: Estate, year, cause: str = "") -> Estate:
    """Admit a surveyed, eligible estate to the pool for `year`. A past year (from FIRST_POOL_YEAR) is accepted:
    a county entering its history records the pool as it was (the 2020-2022 plan, say). Only a deferral must
    look ahead (`estate_defer`)."""
    estate = _locked(estate, actor)
    year = _year(year)
    if estate.status != EstateStatus.SURVEYED:
        raise _refuse_transition(estate, _("admitted (readmit a deferred or dropped estate instead)"))
    _require_eligible(estate)
    return _transition(actor, estate, verb="estates.admit", cause=cause, status=EstateStatus.POOLED,
                       pool_year=year, status_reason="")


@transaction.atomic
def estates_admit(*, actor, estates, year, cause: str = "") -> int:
    """Admit many estates at once: all or nothing; the refusals name each estate's code."""
    year = _year(year)
    ids = [e.pk if isinstance(e, Estate) else int(e) for e in estates]
    if not ids:
        message = _("Choose at least one estate.")
        raise ServiceError(ErrorCode.INVALID, message, fields={"estates": [message]})
    rows = list(Estate.objects.select_for_update().select_related("region").filter(pk__in=ids).order_by("pk"))
    if len(rows) != len(set(ids)):
        raise NotFoundError()
    scope = scope_for(actor) if actor is not None else None
    errors: dict[str, list[str]] = {}
    for estate in rows:
        if scope is not None and not scope.covers(estate.region.code, Action.CHANGE):
            raise NotFoundError()
        if estate.status != EstateStatus.SURVEYED:
            errors[estate.code] = [_("status is %(status)s") % {"status": estate.get_status_display()}]
        elif estate.eligibility != Eligibility.ELIGIBLE:
            errors[estate.code] = [_("%(eligibility)s") % {"eligibility": estate.get_eligibility_display()}]
    if errors:
        raise ServiceError(ErrorCode.ESTATE_NOT_ELIGIBLE,
                           _("%(n)s of the chosen estates cannot be admitted; none was admitted.") % {"n": len(errors)},
                           fields=errors)
    Estate.objects.filter(pk__in=ids).update(status=EstateStatus.POOLED, pool_year=year, status_reason="",
                                             updated_at=timezone.now())
    entries = []
    for estate in rows:
        before = {"status": estate.status, "pool_year": estate.pool_year, "status_reason": estate.status_reason}
        entries.append((estate, AuditAction.TRANSITION, before,
                        {"status": EstateStatus.POOLED.value, "pool_year": year, "status_reason": ""}))
    record_changes_bulk(actor=actor, entries=entries, verb="estates.admit", cause=cause)
    return len(rows)


@transaction.atomic
def estate_defer(*, actor, estate: Estate, reason: str, to_year=None, cause: str = "") -> Estate:
    """Defer a surveyed or pooled estate, optionally to a later year."""
    estate = _locked(estate, actor)
    reason = _reason(reason)
    if estate.status not in (EstateStatus.SURVEYED, EstateStatus.POOLED):
        raise _refuse_transition(estate, _("deferred"))
    # a deferred estate's pool_year is the year it is deferred to, or none: never the year it left
    year = None
    if to_year not in (None, ""):
        year = _year(to_year, field="to_year")
        last = _last_pool_year(estate)
        if last is not None and year <= last:
            raise ServiceError(ErrorCode.ESTATE_POOL_YEAR_INVALID,
                               _("Defer to a year after %(year)s.") % {"year": last},
                               fields={"to_year": [_("not later")]})
        this_year = timezone.localdate().year
        if year < this_year:  # a deferral postpones: to a year already past it would postpone nothing
            raise ServiceError(ErrorCode.ESTATE_POOL_YEAR_INVALID,
                               _("%(year)s is already past: defer to %(this_year)s or later.")
                               % {"year": year, "this_year": this_year},
                               fields={"to_year": [_("already past")]})
    return _transition(actor, estate, verb="estates.defer", cause=cause, status=EstateStatus.DEFERRED,
                       pool_year=year, status_reason=reason)


@transaction.atomic
def estate_drop(*, actor, estate: Estate, reason: str, cause: str = "") -> Estate:
    """Drop an estate (e.g. residents unwilling) with a reason; it may be readmitted later."""
    estate = _locked(estate, actor)
    reason = _reason(reason)
    if estate.status == EstateStatus.DROPPED:
        raise _refuse_transition(estate, _("dropped"))
    # out of the pool: no year (a year it was deferred to is not its own any more)
    _transition(actor, estate, verb="estates.drop", cause=cause, status=EstateStatus.DROPPED, pool_year=None,
                status_reason=reason)
    counties_rerank([estate.county_id])
    return estate


@transaction.atomic
def estate_readmit(*, actor, estate: Estate, year, cause: str = "") -> Estate:
    """Put a deferred or dropped estate back in the pool in a later year (the rolling pool): after the last year
    it sat in the pool and not before the year it is deferred to. As for admitting, the year may lie in the past
    (history entered late); since a deferral is never to a past year, a deferred estate comes back no earlier
    than the year it was deferred in."""
    estate = _locked(estate, actor)
    year = _year(year)
    if estate.status not in (EstateStatus.DEFERRED, EstateStatus.DROPPED):
        raise _refuse_transition(estate, _("readmitted"))
    last = _last_pool_year(estate)
    if last is not None and year <= last:
        raise ServiceError(ErrorCode.ESTATE_POOL_YEAR_INVALID,
                           _("Readmit in a year after %(year)s.") % {"year": last}, fields={"year": [_("not later")]})
    deferred_to = estate.pool_year if estate.status == EstateStatus.DEFERRED else None
    if deferred_to and year < deferred_to:
        raise ServiceError(ErrorCode.ESTATE_POOL_YEAR_INVALID,
                           _("The estate is deferred to %(year)s: readmit it in %(year)s or later.")
                           % {"year": deferred_to}, fields={"year": [_("before the year deferred to")]})
    _require_eligible(estate)
    was_dropped = estate.status == EstateStatus.DROPPED
    _transition(actor, estate, verb="estates.readmit", cause=cause, status=EstateStatus.POOLED, pool_year=year,
                status_reason="")
    if was_dropped:
        counties_rerank([estate.county_id])
    return estate


def readmit_earliest_year(estate: Estate) -> int | None:
    """The first year `estate_readmit` accepts for a deferred or dropped estate: after the last year it sat in
    the pool (the rolling pool), and not before the year it is deferred to. None: no year is ruled out."""
    last = _last_pool_year(estate)
    years = [last + 1] if last is not None else []
    if estate.status == EstateStatus.DEFERRED and estate.pool_year:
        years.append(estate.pool_year)
    return max(years) if years else None


def defer_earliest_year(estate: Estate) -> int:
    """The first year `estate_defer` accepts as the year deferred to: not before this year, and after the last
    year the estate sat in the pool."""
    last = _last_pool_year(estate)
    return max(timezone.localdate().year, last + 1 if last is not None else 0)


def _last_pool_year(estate: Estate) -> int | None:
    """The latest year the estate sat in the pool (status pooled), from its audited transitions; a year it was
    deferred to is not one of them."""
    from gaizao.core.audit import history_of

    years = [estate.pool_year] if estate.pool_year and estate.status == EstateStatus.POOLED else []
    for before, after in history_of(estate).filter(action=AuditAction.TRANSITION).values_list("before", "after"):
        for side in (before or {}, after or {}):
            if side.get("status") == EstateStatus.POOLED and side.get("pool_year"):
                years.append(int(side["pool_year"]))
    return max(years) if years else None


# ---------------------------------------------------------------------------------------------
# merged renovation projects (片区)


def _codes_text(codes: list[str]) -> str:
    """Estate codes as a list in the user's language (330106-000008、330106-000009)."""
    return pgettext("separator between list items", ", ").join(codes)


def _distance_m(a: Estate, b: Estate) -> float | None:
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    lat1, lon1, lat2, lon2 = (math.radians(float(v)) for v in (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _adjacent(a: Estate, b: Estate) -> bool:
    if a.region_id == b.region_id:
        return True
    distance = _distance_m(a, b)
    return distance is not None and distance <= MERGE_MAX_DISTANCE_M


def _common_region(codes: list[str]) -> str:
    for length in (12, 9, 6):
        heads = {c[:length] for c in codes}
        if len(heads) == 1 and all(len(c) >= length for c in codes):
            return heads.pop()
    return codes[0][:6]


@transaction.atomic
def estates_merge(*, actor, estates, name: str, cause: str = "") -> RenovationProject:
    """Merge adjacent estates of one county into a renovation project; each keeps its own record.

    Adjacent: in the same community, or within MERGE_MAX_DISTANCE_M of another member; the members
    must form one connected group.
    """
    ids = sorted({e.pk if isinstance(e, Estate) else int(e) for e in estates})
    try:
        name = _text(name, max_length=128, required=True)
    except _Bad as exc:
        raise ServiceError(ErrorCode.INVALID, _("Give the project a name."), fields={"name": [str(exc)]}) from None
    if len(ids) < 2:
        message = _("Choose at least two estates to merge.")
        raise ServiceError(ErrorCode.INVALID, message, fields={"estates": [message]})
    members = list(Estate.objects.select_for_update().select_related("region", "county").filter(pk__in=ids))
    if len(members) != len(ids):
        raise NotFoundError()
    for estate in members:
        _reach(actor, estate.region.code)
    if len({e.county_id for e in members}) != 1:
        raise ServiceError(ErrorCode.ESTATES_NOT_ADJACENT, _("Only estates of one county can be merged."),
                           fields={"estates": [e.code for e in members]})
    busy = [e.code for e in members if e.project_id]
    if busy:
        raise ServiceError(ErrorCode.INVALID, _("Some estates already belong to a project: %(codes)s")
                           % {"codes": _codes_text(busy)}, fields={"estates": busy})
    dropped = [e.code for e in members if e.status == EstateStatus.DROPPED]
    if dropped:
        raise ServiceError(ErrorCode.ESTATE_TRANSITION_INVALID, _("Dropped estates cannot be merged: %(codes)s")
                           % {"codes": _codes_text(dropped)}, fields={"estates": dropped})
    # connected under adjacency
    reached, frontier = {members[0].pk}, [members[0]]
    while frontier:
        current = frontier.pop()
        for other in members:
            if other.pk not in reached and _adjacent(current, other):
                reached.add(other.pk)
                frontier.append(other)
    apart = [e.code for e in members if e.pk not in reached]
    if apart:
        raise ServiceError(ErrorCode.ESTATES_NOT_ADJACENT,
                           _("These estates are not adjacent to the others (same community or within "
                             "%(m)s m): %(codes)s") % {"m": MERGE_MAX_DISTANCE_M, "codes": _codes_text(apart)},
                           fields={"estates": apart})
    county = members[0].county
    region = Region.objects.get(code=_common_region([e.region.code for e in members]))
    if actor is not None and not scope_for(actor).covers(region.code, Action.CHANGE):
        # (a street official of two streets reaches each estate, but not the county a project across them sits in)
        raise PermissionDeniedError(_("These estates lie in more than your area: a project of them would belong to "
                                      "%(region)s. Ask its office to merge them.") % {"region": region.name})
    # the county row locked: two merges at once in one county must not take the same next code
    Region.objects.select_for_update().filter(pk=county.pk).first()
    taken = RenovationProject.objects.filter(code__startswith=f"P{county.code}-").values_list("code", flat=True)
    seq = max([int(c.rsplit("-", 1)[1]) for c in taken if c.rsplit("-", 1)[1].isdigit()] or [0]) + 1
    project = RenovationProject.objects.create(code=f"P{county.code}-{seq:04d}", name=name, region=region,
                                               county=county)
    record_change(actor=actor, obj=project, action=AuditAction.CREATE, before=None,
                  after={"code": project.code, "name": name, "region_id": region.pk,
                         "estates": [e.code for e in members]}, verb="estates.merge", cause=cause)
    Estate.objects.filter(pk__in=ids).update(project=project, updated_at=timezone.now())
    record_changes_bulk(actor=actor, entries=[(e, AuditAction.UPDATE, {"project_id": None},
                                               {"project_id": project.pk}) for e in members],
                        verb="estates.merge", cause=cause or project.code)
    return project


@transaction.atomic
def project_dissolve(*, actor, project: RenovationProject, reason: str, cause: str = "") -> None:
    """Undo a merge: the estates leave the project, which stays on record as inactive."""
    project = RenovationProject.objects.select_for_update().select_related("region").get(pk=project.pk)
    _reach(actor, project.region.code)
    if not project.is_active:
        raise ServiceError(ErrorCode.ESTATE_TRANSITION_INVALID, _("This project is already dissolved."),
                           fields={"project": [project.code]})
    reason = _reason(reason)
    members = list(Estate.objects.select_related("region").filter(project=project))
    Estate.objects.filter(project=project).update(project=None, updated_at=timezone.now())
    project.is_active = False
    project.save(update_fields=["is_active"])
    record_change(actor=actor, obj=project, action=AuditAction.UPDATE, before={"is_active": True},
                  after={"is_active": False, "reason": reason}, verb="estates.project_dissolve", cause=cause)
    record_changes_bulk(actor=actor, entries=[(e, AuditAction.UPDATE, {"project_id": project.pk},
                                               {"project_id": None}) for e in members],
                        verb="estates.project_dissolve", cause=cause or project.code)


# ---------------------------------------------------------------------------------------------
# rules as data


POLICY_FIELDS = ("cutoff_year", "exclude_shantytown", "priority_housing_types", "hazard_route", "min_willingness")
WEIGHT_FIELDS = ("age", "age_full_years", "basic_item", "improvement_item", "enhancement_item", "deficiency_cap",
                 "willingness", "priority_housing", "hazard")


def rules_can_edit(actor, region: Region) -> bool:
    """Province admins set the province default; province, city and county officials a county override."""
    if actor is None:
        return True
    scope = scope_for(actor)
    if region.code == PROVINCE_CODE:
        return scope.is_province_admin
    if region.level != RegionLevel.COUNTY:
        return False
    return (scope.has_role(Role.PROVINCE_ADMIN, Role.CITY_OFFICIAL, Role.COUNTY_OFFICIAL)
            and scope.covers(region.code, Action.CHANGE))


def _check_rules_region(actor, region: Region) -> None:
    if region.code != PROVINCE_CODE and region.level != RegionLevel.COUNTY:
        raise ServiceError(ErrorCode.RULES_REGION_INVALID,
                           _("Rules are set for the province or overridden for a county."),
                           fields={"region": [region.code]})
    if not rules_can_edit(actor, region):
        if actor is not None and scope_for(actor).covers(region.code):
            raise PermissionDeniedError()
        raise NotFoundError()


def _affected_counties(region: Region) -> list[int]:
    """The counties whose rules follow this region's rows."""
    if region.code != PROVINCE_CODE:
        return [region.pk]
    overridden = set(EligibilityPolicy.objects.exclude(region__code=PROVINCE_CODE).values_list("region_id", flat=True))
    overridden &= set(PriorityWeights.objects.exclude(region__code=PROVINCE_CODE).values_list("region_id", flat=True))
    return list(Region.objects.filter(level=RegionLevel.COUNTY).exclude(pk__in=overridden).values_list("pk", flat=True))


def _recompute_after_rules(actor, region: Region, cause: str) -> dict:
    counties = _affected_counties(region)
    count = Estate.objects.filter(county_id__in=counties).count()
    if count > INLINE_RECOMPUTE_LIMIT:
        from gaizao.core.jobs import job_start

        job = job_start(actor=actor, kind="estates.recompute", region=region,
                        params={"county_ids": counties, "cause": cause})
        return {"job": job.pk, "estates": count}
    return estates_recompute(actor=actor, county_ids=counties, cause=cause)


def _clean_rules(policy: dict, weights: dict, base_policy: EligibilityPolicy, base_weights: PriorityWeights):
    """Validate by putting the values on unsaved rows and running the model validators."""
    from django.core.exceptions import ValidationError

    errors = {}
    for key in policy:
        if key not in POLICY_FIELDS:
            errors[key] = [_("Unknown field.")]
    for key in weights:
        if key not in WEIGHT_FIELDS:
            errors[key] = [_("Unknown field.")]
    types = policy.get("priority_housing_types")
    if types is not None and (not isinstance(types, list | tuple) or any(t not in HousingType.values for t in types)):
        errors["priority_housing_types"] = [_("Choose housing types from the list.")]
    if errors:
        raise ServiceError(ErrorCode.INVALID, _("Some values are invalid."), fields=errors)
    for obj, values in ((base_policy, policy), (base_weights, weights)):
        for key, value in values.items():
            setattr(obj, key, list(value) if key == "priority_housing_types" else value)
        try:
            obj.full_clean(exclude=["region"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    for key in WEIGHT_FIELDS:
        value = getattr(base_weights, key)
        if key not in errors and value is not None and Decimal(str(value)) < 0:
            errors[key] = [_("Weights cannot be negative.")]
    if errors:
        raise ServiceError(ErrorCode.INVALID, _("Some values are invalid."), fields=errors)


@transaction.atomic
def rules_save(*, actor, region: Region, policy: dict | None = None, weights: dict | None = None,
               cause: str = "") -> dict:
    """Set the province default (region 33) or a county's override, then re-evaluate the estates it governs.

    A county without its own rows follows the province; saving for a county creates its override
    from the values in force. Returns the recompute summary (or the job started for a large one).
    """
    _check_rules_region(actor, region)
    policy, weights = dict(policy or {}), dict(weights or {})
    province = Region.objects.get(code=PROVINCE_CODE)
    rows = []
    for model, fields in ((EligibilityPolicy, POLICY_FIELDS), (PriorityWeights, WEIGHT_FIELDS)):
        row = model.objects.select_for_update().filter(region=region).first()
        if row is None:
            base = model.objects.filter(region=province).first() or model(region=province)
            row = model(region=region, **{f: getattr(base, f) for f in fields})
        rows.append(row)
    policy_row, weights_row = rows
    before = [None if r.pk is None else {f: _plain(getattr(r, f)) for f in fields}
              for r, fields in ((policy_row, POLICY_FIELDS), (weights_row, WEIGHT_FIELDS))]
    _clean_rules(policy, weights, policy_row, weights_row)
    changed = False
    for row, fields, old in ((policy_row, POLICY_FIELDS, before[0]), (weights_row, WEIGHT_FIELDS, before[1])):
        new = {f: _plain(getattr(row, f)) for f in fields}
        if old == new:
            continue
        changed = True
        row.save()
        record_change(actor=actor, obj=row, action=AuditAction.CREATE if old is None else AuditAction.UPDATE,
                      before=old, after=new, verb="estates.rules_save", cause=cause)
    if not changed:
        return {"evaluated": 0, "changed": 0, "eligibility_changed": 0}
    return _recompute_after_rules(actor, region, cause or _("rules changed for %(region)s") % {"region": region.name})


@transaction.atomic
def rules_override_delete(*, actor, region: Region, cause: str = "") -> dict:
    """Drop a county's override so it follows the province default again."""
    _check_rules_region(actor, region)
    if region.code == PROVINCE_CODE:
        raise ServiceError(ErrorCode.RULES_REGION_INVALID, _("The province default cannot be removed."),
                           fields={"region": [region.code]})
    found = False
    for model, fields in ((EligibilityPolicy, POLICY_FIELDS), (PriorityWeights, WEIGHT_FIELDS)):
        row = model.objects.filter(region=region).first()
        if row is not None:
            found = True
            record_change(actor=actor, obj=row, action=AuditAction.DELETE,
                          before={f: _plain(getattr(row, f)) for f in fields}, after=None,
                          verb="estates.rules_override_delete", cause=cause)
            row.delete()
    if not found:
        return {"evaluated": 0, "changed": 0, "eligibility_changed": 0}
    return _recompute_after_rules(actor, region, cause or _("county override removed for %(region)s")
                                  % {"region": region.name})


# ---------------------------------------------------------------------------------------------
# bulk upsert for the census import (and the generator)

UPSERT_KEYS = (*DATA_FIELDS, "code", "region", "deficiencies", "row")
BATCH = 2000


def estates_upsert(*, actor, rows: list[dict], cause: str, dry_run: bool = False, progress=None) -> dict:
    """Create or update estates from parsed rows: all or nothing, audited with `cause`.

    Each row is a dict; keys absent are left unchanged on an existing estate (defaults on a new one):

    ================  =====================================================================
    key               value
    ================  =====================================================================
    row               optional int: the source row number, echoed in outcomes and errors
    code              str or None: the estate code; blank = match by region + name, and a new
                      estate gets a generated code `<county code>-<6 digits>`
    region            str region code (or a Region) of a street or community; required
    name              str, required, ≤ 128 characters
    address           str ≤ 256
    built_year        int 1900..this year, or None
    buildings         int ≥ 0 (None = 0); households, buildings_with_elevator likewise
    floor_area        Decimal/float/int/str ≥ 0 in m² (2 places), or None
    housing_type      HousingType value: reformed_public, public, commodity, work_unit, mixed, other
    in_shantytown_plan, in_historic_district, has_precast_slab_hazard   bool
    management_mode   ManagementMode value: professional, quasi, owners, none
    max_floors        int 1..200 or None
    willingness       percent 0..100 (not 0..1) or None
    longitude, latitude  decimal degrees or None (both or neither)
    deficiencies      list of catalogue item codes (CatalogueItem.code), or a string of codes
                      separated by 、，,; — replaces the estate's list when present
    ================  =====================================================================

    Matching: by `code` when given (an unknown code creates an estate with that code), else by
    region + name (several estates with that name in the region is an error: give the code).
    A row matching the same estate as another row is an error.

    Returns {"created", "updated", "unchanged", "total", "dry_run", "outcomes": [{"row", "code",
    "outcome": "created"|"updated"|"unchanged", "changed": [field names]}]}. Invalid rows raise
    ServiceError(ESTATE_ROWS_INVALID) with fields={"rows": [{"row", "field", "value", "message"}]}
    (at most 1000 listed) and nothing is written. Every created or changed estate gets one audit
    entry with `cause`.
    """
    catalogue = _catalogue()
    class_of = {item.pk: item.content_class for item in catalogue.values()}
    errors: list[dict] = []

    def bad(row_no, field, value, message):
        errors.append({"row": row_no, "field": field, "value": "" if value is None else str(value)[:100],
                       "message": str(message)})

    # 1. clean values and resolve regions (one query per 5,000 distinct codes)
    region_codes = set()
    for row in rows:
        region = row.get("region")
        region_codes.add(region.code if isinstance(region, Region) else str(region or "").strip())
    regions: dict[str, Region] = {}
    codes_list = sorted(c for c in region_codes if c)
    for start in range(0, len(codes_list), 5000):
        for region in Region.objects.filter(code__in=codes_list[start:start + 5000]):
            regions[region.code] = region
    counties = {r.code: r for r in Region.objects.filter(code__in={_county_code(c) for c in regions})}
    scope = scope_for(actor) if actor is not None else None

    cleaned: list[tuple[int, dict, Region, str, list[int] | None]] = []
    for index, row in enumerate(rows):
        row_no = row.get("row", index + 1)
        values: dict = {}
        for key in row:
            if key not in UPSERT_KEYS:
                bad(row_no, key, row[key], _("Unknown field."))
        for key in DATA_FIELDS:
            if key in row:
                try:
                    values[key] = clean_value(key, row[key])
                except _Bad as exc:
                    bad(row_no, key, row[key], exc)
        if "name" not in row:
            bad(row_no, "name", None, _("This value is required."))
        raw_region = row.get("region")
        region_code = raw_region.code if isinstance(raw_region, Region) else str(raw_region or "").strip()
        region = regions.get(region_code)
        if region is None:
            bad(row_no, "region", region_code, _("No region has this code.") if region_code else
                _("This value is required."))
        elif region.level not in ESTATE_REGION_LEVELS:
            bad(row_no, "region", region_code, _("An estate lies in a street or a community."))
        elif not region.is_active:
            bad(row_no, "region", region_code, _("This region is retired."))
        elif scope is not None and not scope.covers(region.code, Action.CHANGE):
            bad(row_no, "region", region_code, _("This region is outside your area."))
        code = row.get("code")
        try:
            code = _text(code, max_length=32) if code not in (None, "") else ""
        except _Bad as exc:
            bad(row_no, "code", code, exc)
            code = ""
        deficiency_ids = None
        if "deficiencies" in row:
            try:
                deficiency_ids = _clean_deficiencies(row["deficiencies"], catalogue)
            except _Bad as exc:
                bad(row_no, "deficiencies", row["deficiencies"], exc)
        for key, message in _cross_checks(values).items():
            bad(row_no, key, values.get(key), message)
        cleaned.append((row_no, values, region, code, deficiency_ids))

    # 2. duplicates within the rows
    seen_codes: dict[str, int] = {}
    seen_names: dict[tuple[int, str], int] = {}
    for row_no, values, region, code, _defs in cleaned:
        if code:
            if code in seen_codes:
                bad(row_no, "code", code, _("The same code is on row %(row)s.") % {"row": seen_codes[code]})
            seen_codes.setdefault(code, row_no)
        elif region is not None and values.get("name"):
            key = (region.pk, values["name"])
            if key in seen_names:
                bad(row_no, "name", values["name"], _("The same estate (community and name) is on row %(row)s.")
                    % {"row": seen_names[key]})
            seen_names.setdefault(key, row_no)
    if errors:
        _raise_rows(errors)

    # 3. match against the database (chunked queries, never one per row)
    by_code: dict[str, int] = {}
    code_keys = sorted(seen_codes)
    for start in range(0, len(code_keys), 5000):
        by_code.update(Estate.objects.filter(code__in=code_keys[start:start + 5000]).values_list("code", "pk"))
    by_name: dict[tuple[int, str], list[int]] = defaultdict(list)
    name_regions = sorted({k[0] for k in seen_names})
    for start in range(0, len(name_regions), 5000):
        for pk, region_id, name in Estate.objects.filter(region_id__in=name_regions[start:start + 5000]).values_list(
                "pk", "region_id", "name"):
            if (region_id, name) in seen_names:
                by_name[(region_id, name)].append(pk)
    targets: list[int | None] = []
    target_rows: dict[int, int] = {}
    for row_no, values, region, code, _defs in cleaned:
        pk = None
        if code:
            pk = by_code.get(code)
        else:
            found = by_name.get((region.pk, values.get("name")), [])
            if len(found) > 1:
                bad(row_no, "name", values.get("name"),
                    _("Several estates in this region have this name; give the code."))
            pk = found[0] if len(found) == 1 else None
        if pk is not None:
            if pk in target_rows:
                bad(row_no, "code", code, _("Row %(row)s updates the same estate.") % {"row": target_rows[pk]})
            target_rows.setdefault(pk, row_no)
        targets.append(pk)
    existing: dict[int, dict] = {}
    existing_defs: dict[int, list[int]] = defaultdict(list)
    matched = sorted(target_rows)
    value_fields = ["pk", "code", "region_id", "region__code", "county_id", *DATA_FIELDS, *DERIVED_FIELDS,
                    "status", "pool_year", "status_reason", "project_id"]
    through = Estate.deficiencies.through
    for start in range(0, len(matched), 5000):
        part = matched[start:start + 5000]
        for values in Estate.objects.filter(pk__in=part).values(*value_fields):
            existing[values["pk"]] = values
        for estate_id, item_id in through.objects.filter(estate_id__in=part).values_list(
                "estate_id", "catalogueitem_id"):
            existing_defs[estate_id].append(item_id)
    if scope is not None:
        for pk, row_no in target_rows.items():
            if not scope.covers(existing[pk]["region__code"], Action.CHANGE):
                bad(row_no, "code", existing[pk]["code"], _("This code belongs to an estate outside your area."))
    if errors:
        _raise_rows(errors)

    # 4. plan: what each row creates or changes, with derived values recomputed
    rules_cache = rules_by_county({_county_code(code) for code in regions})
    defaults = {f.name: f.get_default() for f in Estate._meta.concrete_fields if f.name in DATA_FIELDS}
    creates, updates, outcomes = [], [], []
    new_codes_needed: dict[str, int] = defaultdict(int)
    for (row_no, values, region, code, defs), pk in zip(cleaned, targets, strict=True):
        county_code = _county_code(region.code)
        if pk is None:
            data = {**defaults, **values}
            defs = defs or []
            data.update(derived_values(data, defs, class_of, rules_cache[county_code]))
            if not code:
                new_codes_needed[county_code] += 1
            creates.append((row_no, code, region, data, defs))
            continue
        old = existing[pk]
        data = {k: old[k] for k in DATA_FIELDS}
        data.update(values)
        new_defs = sorted(existing_defs.get(pk, [])) if defs is None else defs
        data.update(derived_values(data, new_defs, class_of, rules_cache[county_code]))
        old_cmp = {k: old[k] for k in (*DATA_FIELDS, *DERIVED_FIELDS)}
        for key in ("floor_area", "willingness", "longitude", "latitude", "priority_score"):
            if old_cmp[key] is not None:
                places = 6 if key in ("longitude", "latitude") else 2
                old_cmp[key] = Decimal(old_cmp[key]).quantize(Decimal(1).scaleb(-places))
        changed = [k for k in DATA_FIELDS if data[k] != old_cmp[k]]
        if region.pk != old["region_id"]:
            changed.append("region")
        if sorted(existing_defs.get(pk, [])) != sorted(new_defs):
            changed.append("deficiencies")
        derived_changed = [k for k in DERIVED_FIELDS if data[k] != old_cmp[k]]
        if not changed:
            outcomes.append({"row": row_no, "code": old["code"], "outcome": "unchanged", "changed": []})
            continue
        outcomes.append({"row": row_no, "code": old["code"], "outcome": "updated", "changed": changed})
        updates.append((row_no, pk, old, region, data, new_defs, changed, derived_changed))

    # codes for new estates
    reserved_by_county: dict[str, set[str]] = defaultdict(set)
    for code in seen_codes:
        reserved_by_county[code.split("-", 1)[0]].add(code)
    fresh = {cc: iter(_next_codes(cc, n, reserved_by_county.get(cc))) for cc, n in new_codes_needed.items()}
    planned_creates = []
    for row_no, code, region, data, defs in creates:
        code = code or next(fresh[_county_code(region.code)])
        planned_creates.append((row_no, code, region, data, defs))
        outcomes.append({"row": row_no, "code": code, "outcome": "created", "changed": []})
    outcomes.sort(key=lambda o: (o["row"] if isinstance(o["row"], int) else 0))
    summary = {"created": len(planned_creates), "updated": len(updates),
               "unchanged": len(rows) - len(planned_creates) - len(updates), "total": len(rows),
               "dry_run": bool(dry_run), "outcomes": outcomes}
    if dry_run or (not planned_creates and not updates):
        return summary

    # 5. write, all in one transaction
    touched_counties: set[int] = set()
    total_writes = max(1, len(planned_creates) + len(updates))
    done = 0
    with transaction.atomic():
        for start in range(0, len(planned_creates), BATCH):
            batch = planned_creates[start:start + BATCH]
            objs = []
            for _row_no, code, region, data, _defs in batch:
                county = counties[_county_code(region.code)]
                obj = Estate(code=code, region=region, county=county, **data)
                objs.append(obj)
                touched_counties.add(county.pk)
            Estate.objects.bulk_create(objs, batch_size=BATCH)
            _link_deficiencies([(obj.pk, item) for obj, (_n, _c, _r, _d, defs) in zip(objs, batch, strict=True)
                                for item in defs])
            record_changes_bulk(actor=actor, verb="estates.upsert", cause=cause, entries=[
                (obj, AuditAction.CREATE, None, estate_snapshot(obj, defs))
                for obj, (_n, _c, _r, _d, defs) in zip(objs, batch, strict=True)])
            done += len(batch)
            if progress:
                progress(done * 100 // total_writes, _("%(done)s of %(total)s estates written")
                         % {"done": done, "total": total_writes})
        update_fields = set(DERIVED_FIELDS) | {"updated_at"}
        for _row_no, _pk, _old, _region, _data, _defs, changed, _dc in updates:
            update_fields.update(k for k in changed if k != "deficiencies")
        if "region" in update_fields:
            update_fields.add("county")
        now = timezone.now()
        for start in range(0, len(updates), BATCH):
            batch = updates[start:start + BATCH]
            objs, entries, relink = [], [], []
            for _row_no, pk, old, region, data, defs, changed, derived_changed in batch:
                county = counties[_county_code(region.code)]
                obj = Estate(pk=pk, code=old["code"], region=region, county=county, updated_at=now, **data)
                objs.append(obj)
                touched_counties.update({county.pk, old["county_id"]})
                before = {k: _plain(old[k]) for k in (*changed, *derived_changed) if k not in ("region", "deficiencies")}
                after = {k: _plain(data[k]) for k in (*changed, *derived_changed) if k not in ("region", "deficiencies")}
                if "region" in changed:
                    before["region_id"], after["region_id"] = old["region_id"], region.pk
                    before["county_id"], after["county_id"] = old["county_id"], county.pk
                if "deficiencies" in changed:
                    before["deficiencies"] = sorted(existing_defs.get(pk, []))
                    after["deficiencies"] = sorted(defs)
                    relink.append((pk, defs))
                entries.append((obj, AuditAction.UPDATE, before, after))
            Estate.objects.bulk_update(objs, sorted(update_fields), batch_size=500)
            if relink:
                through.objects.filter(estate_id__in=[pk for pk, _d in relink]).delete()
                _link_deficiencies([(pk, item) for pk, defs in relink for item in defs])
            record_changes_bulk(actor=actor, entries=entries, verb="estates.upsert", cause=cause)
            done += len(batch)
            if progress:
                progress(done * 100 // total_writes, _("%(done)s of %(total)s estates written")
                         % {"done": done, "total": total_writes})
        counties_rerank(touched_counties)
    return summary


def _link_deficiencies(pairs: list[tuple[int, int]]) -> None:
    """Insert (estate id, catalogue item id) links with one executemany (no model instances)."""
    if not pairs:
        return
    through = Estate.deficiencies.through
    table = connection.ops.quote_name(through._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} (estate_id, catalogueitem_id) VALUES (%s, %s)", pairs)


def _raise_rows(errors: list[dict]):
    rows = len({e["row"] for e in errors})
    raise ServiceError(ErrorCode.ESTATE_ROWS_INVALID,
                       _("%(n)s rows are invalid; nothing was written.") % {"n": rows},
                       fields={"rows": errors[:1000]})


# ---------------------------------------------------------------------------------------------
# buildings and households


@transaction.atomic
def estate_buildings_add(*, actor, estate: Estate, buildings: list[dict], cause: str = "") -> int:
    """Add buildings to an estate, each optionally with its households; numbers already there are refused.

    A building dict: number (required), floors, units, households, has_elevator, structure, built_year,
    and `dwellings`: a list of {unit, room, floor, floor_area, owner_name, owner_phone}.
    """
    from .models import Building, BuildingStructure, Household

    estate = Estate.objects.select_related("region").get(pk=estate.pk)
    _reach(actor, estate.region.code)
    taken = set(Building.objects.filter(estate=estate).values_list("number", flat=True))
    objs, dwellings, errors = [], [], {}
    for index, spec in enumerate(buildings):
        try:
            number = _text(spec.get("number"), max_length=32, required=True)
            if number in taken:
                raise _Bad(_("This building number is already used."))
            taken.add(number)
            building = Building(
                estate=estate, number=number,
                floors=_int(spec.get("floors"), low=1, high=200, nullable=True),
                units=_int(spec.get("units"), low=1, high=1000, nullable=True),
                households=_int(spec.get("households"), low=0, high=100_000, nullable=True),
                has_elevator=_bool(spec.get("has_elevator")),
                structure=_choice(spec.get("structure") or "", BuildingStructure, "") if spec.get("structure")
                else "",
                built_year=_int(spec.get("built_year"), low=1900, high=_current_year(), nullable=True))
            homes = []
            for home in spec.get("dwellings") or []:
                homes.append(Household(
                    unit=_text(home.get("unit"), max_length=16), room=_text(home.get("room"), max_length=16,
                                                                            required=True),
                    floor=_int(home.get("floor"), low=-5, high=200, nullable=True),
                    floor_area=_dec(home.get("floor_area"), low=Decimal(0), high=Decimal("999999.99"), places=2),
                    owner_name=_text(home.get("owner_name"), max_length=64),
                    owner_phone=_text(home.get("owner_phone"), max_length=32)))
        except _Bad as exc:
            errors[f"buildings[{index}]"] = [str(exc)]
            continue
        objs.append(building)
        dwellings.append(homes)
    if errors:
        raise ServiceError(ErrorCode.INVALID, _("Some buildings are invalid; none was added."), fields=errors)
    Building.objects.bulk_create(objs)
    homes_all = []
    for building, homes in zip(objs, dwellings, strict=True):
        for home in homes:
            home.building = building
            homes_all.append(home)
    Household.objects.bulk_create(homes_all, batch_size=2000)
    entries = [(b, AuditAction.CREATE, None, {"estate_id": estate.pk, "number": b.number, "floors": b.floors,
                                             "units": b.units, "households": b.households,
                                             "has_elevator": b.has_elevator}) for b in objs]
    for b in objs:
        b.estate = estate
    record_changes_bulk(actor=actor, entries=entries, verb="estates.buildings_add", cause=cause)
    record_changes_bulk(actor=actor, verb="estates.buildings_add", cause=cause, entries=[
        (h, AuditAction.CREATE, None, {"building_id": h.building_id, "unit": h.unit, "room": h.room,
                                       "floor": h.floor, "floor_area": _plain(h.floor_area),
                                       "owner_name": h.owner_name, "owner_phone": mask_phone_for_audit(h.owner_phone)})
        for h in homes_all])
    return len(objs)


def mask_phone_for_audit(phone: str) -> str:
    from .models import mask_phone

    return mask_phone(phone)
