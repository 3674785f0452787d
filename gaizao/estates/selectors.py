"""Reads that the pages, the map and the API share. Everything region-bound goes through `restrict`."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import Action, Role, restrict, scope_for
from gaizao.core.errors import NotFoundError, ServiceError
from gaizao.core.params import whole_number
from gaizao.regions.models import Region, RegionLevel

from . import geo
from .filters import SORTS, EstateFilter
from .models import (
    Building,
    CatalogueItem,
    ContentClass,
    EligibilityPolicy,
    Estate,
    EstateStatus,
    Household,
    PriorityWeights,
    RenovationProject,
)
from .rules import breakdown_labels, reasons_text
from .services import (
    PROVINCE_CODE,
    defer_earliest_year,
    readmit_earliest_year,
    rules_by_county,
    rules_can_edit,
)

COUNT_CACHE_SECONDS = 300
MAP_POINT_LIMIT = 20_000


def estates_for(user, action: str = Action.VIEW):
    return restrict(Estate.objects.all(), user, action)


def estate_changeable(*, user, pk: int) -> Estate:
    """The estate `pk` if the user may change it (else NotFoundError: others' estates do not exist)."""
    estate = estates_for(user, Action.CHANGE).filter(pk=pk).first()
    if estate is None:
        raise NotFoundError()
    return estate


def estate_ids_changeable(*, user, ids) -> list[int]:
    """The ids of estates chosen for one bulk action, all of them the user's to change, else NotFoundError:
    the action is all or nothing. Ids that are not whole numbers of at most 18 digits are not estates."""
    numbers = {whole_number(str(i)) for i in ids}
    if not numbers or None in numbers:
        raise NotFoundError()
    found = list(estates_for(user, Action.CHANGE).filter(pk__in=numbers).values_list("pk", flat=True))
    if len(found) != len(numbers):
        raise NotFoundError()
    return found


def list_params(params):
    """The list's and the map's parameters as they are used: a sort the list does not know (?sort=score) is
    left out, so the pages fall back to their default order (the API still refuses it)."""
    if params.get("sort", "") in ("", *SORTS):
        return params
    params = params.copy()
    params.pop("sort")
    return params


def estate_list(*, user, params) -> tuple[EstateFilter, object]:
    """The filter (bound to `params`) and the scoped, filtered, sorted queryset.

    Filter errors are left on the filter's form (pages show them, the API answers 400)."""
    params = list_params(params)
    base = estates_for(user).select_related("region", "county").order_by("code")
    estate_filter = EstateFilter(params, queryset=base)
    if estate_filter.is_bound and not estate_filter.is_valid():
        return estate_filter, base.none()
    try:
        rows = estate_filter.qs
    except ServiceError as exc:
        estate_filter.form.add_error(None, exc.message)
        return estate_filter, base.none()
    return estate_filter, rows


VERSION_SECONDS = 2.0
_version = {"at": -1e9, "value": ""}


def _data_version() -> str:
    """Changes whenever an estate is created or changed (two index-only lookups), looked up at most every
    VERSION_SECONDS per process: counts lag a write by at most that long."""
    now = time.monotonic()
    if now - _version["at"] > VERSION_SECONDS:
        latest = Estate.objects.aggregate(at=Max("updated_at"), id=Max("id"))
        _version.update(at=now, value=f"{latest['at']}:{latest['id']}")
    return _version["value"]


def status_counts(queryset) -> dict:
    """{"total": n, "<status>": n, …} for a filtered queryset; cached until estates change."""
    counts = {status: 0 for status in EstateStatus.values}
    counted = queryset.order_by().values("status").annotate(n=Count("pk"))
    try:
        sql, params = counted.query.sql_with_params()
    except EmptyResultSet:
        return dict(counts, total=0)
    key = "estates:counts:" + hashlib.sha1(f"{_data_version()}|{sql}|{params!r}".encode()).hexdigest()
    found = cache.get(key)
    if found is not None:
        return found
    for row in counted:
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts[s] for s in EstateStatus.values)
    cache.set(key, counts, COUNT_CACHE_SECONDS)
    return counts


def list_status_counts(*, user, params, rows) -> tuple[dict, int]:
    """What the estate list counts: per status under every filter but the status itself (each status chip counts
    what its link lists, "all" what the list without a status filter holds), and the rows of `rows` (the list as
    filtered, status included). Both are the cached `status_counts`."""
    listed = status_counts(rows)
    if not params.getlist("status"):
        return listed, listed["total"]
    others = params.copy()
    others.pop("status")
    _filter, every_status = estate_list(user=user, params=others)
    return status_counts(every_status), listed["total"]


DEFICIENCY_PARTS = ("basic", "improvement", "enhancement")


def score_rows(breakdown: dict) -> list[dict]:
    """The score's parts as the estate's page shows them: {"label", "points", "sub", "total"} in the rules'
    order, with the per-class deficiency points as sub-items (`sub`) under the capped deficiency line that
    counts, so that the rows that are not sub-items add up to the total."""
    breakdown = breakdown or {}
    rows, subs = [], []
    for key, label in breakdown_labels().items():
        if key not in breakdown:
            continue
        row = {"label": label, "points": breakdown[key],
               "sub": key in DEFICIENCY_PARTS and "deficiencies" in breakdown, "total": key == "total"}
        (subs if row["sub"] else rows).append(row)
        if key == "deficiencies":
            rows.append(subs)  # the sub-items go here, after their line
    return [item for row in rows for item in (row if isinstance(row, list) else [row])]


def deficiencies_by_class(estate: Estate) -> list[tuple[str, list[CatalogueItem]]]:
    grouped = defaultdict(list)
    for item in estate.deficiencies.all():
        grouped[item.content_class].append(item)
    return [(str(label), grouped[value]) for value, label in ContentClass.choices if grouped[value]]


def estate_detail(*, user, pk: int) -> dict:
    """An estate the user may see, with everything its page shows; Estate.DoesNotExist when out of reach."""
    estate = (estates_for(user).select_related("region", "region__parent", "county", "project")
              .prefetch_related("deficiencies").get(pk=pk))
    buildings = list(Building.objects.filter(estate=estate).annotate(dwellings=Count("household_set"))
                     .order_by("number"))
    households = list(Household.objects.filter(building__estate=estate).select_related("building")
                      .order_by("building__number", "unit", "room")[:200])
    rules = rules_by_county([estate.county.code])[estate.county.code]
    scope = scope_for(user)
    peers = []
    if estate.project_id:
        peers = list(estates_for(user).filter(project_id=estate.project_id).exclude(pk=estate.pk)
                     .select_related("region"))
    readmit_from = defer_from = None
    if estate.status in (EstateStatus.DEFERRED, EstateStatus.DROPPED):
        readmit_from = readmit_earliest_year(estate)
    elif estate.status in (EstateStatus.SURVEYED, EstateStatus.POOLED):
        defer_from = defer_earliest_year(estate)
    return {
        "estate": estate,
        # the readmit form's first year and the year it offers: never one the service refuses
        "readmit_from": readmit_from,
        "readmit_year": max(readmit_from or 0, timezone.localdate().year + 1),
        "defer_from": defer_from,  # the defer form's first year: none already past
        "buildings": buildings,
        "households": households,
        "reasons": reasons_text(estate.eligibility_reasons),
        "breakdown": score_rows(estate.priority_breakdown),
        "deficiency_groups": deficiencies_by_class(estate),
        "rules": rules,
        "rules_source": _("county override") if rules.policy_region == estate.county.code else _("province default"),
        "can_change": scope.covers(estate.region.code, Action.CHANGE),
        "project_peers": peers,
    }


def project_detail(*, user, pk: int) -> dict:
    project = restrict(RenovationProject.objects.select_related("region", "county"), user).get(pk=pk)
    members = list(estates_for(user).filter(project=project).select_related("region").order_by("code"))
    return {"project": project, "members": members,
            "can_change": scope_for(user).covers(project.region.code, Action.CHANGE)}


# ---------------------------------------------------------------------------------------------
# the map


def county_codes_by_name() -> dict[str, str]:
    """Today's county name → code; retired counties (下城区, 江干区) keep theirs for the 2017 outlines."""
    out = {}
    for code, name, active in Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", "name",
                                                                                           "is_active"):
        if active or name not in out:
            out[name] = code
    return out


def county_layer() -> dict:
    key = "estates:county-layer:v1"
    layer = cache.get(key)
    if layer is None:
        layer = geo.county_layer(county_codes_by_name())
        cache.set(key, layer, 3600)
    return layer


def filter_errors_text(form) -> str:
    """What is wrong with the filters in words, as the list page shows it next to the fields: a field's own
    problem after its label (建成年份起：请输入整数。), one that names its fields alone (建成年份起（2010）晚于建成年份止
    （1990）。)."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = str(field.label) if field is not None and field.label else ""
        for error in errors:
            parts.append(_("%(key)s: %(value)s") % {"key": label, "value": error}
                         if label and label not in error else str(error))
    return " ".join(parts) or _("The filters are invalid.")


def map_data(*, user, params) -> dict:
    """Points for the filtered estates in scope, or counts per county when there are too many points."""
    estate_filter, rows = estate_list(user=user, params=params)
    if estate_filter.form.errors:
        return {"mode": "error", "errors": estate_filter.form.errors.get_json_data(),
                "message": filter_errors_text(estate_filter.form)}
    counts = status_counts(rows)
    per_county = list(rows.order_by().values("county__code", "county__name").annotate(n=Count("pk")))
    result = {"total": counts["total"], "counts": counts,
              "counties": [{"code": r["county__code"], "name": r["county__name"], "n": r["n"]} for r in per_county]}
    if counts["total"] > MAP_POINT_LIMIT:
        result["mode"] = "counties"
        result["points"] = []
        result["message"] = _("%(n)s estates: too many to draw one by one. Choose a county or narrow the filters "
                              "to see points.") % {"n": counts["total"]}
        return result
    result["mode"] = "points"
    result["points"] = [
        [pk, code, name, float(lon), float(lat), status, eligibility, float(score) if score is not None else None]
        for pk, code, name, lon, lat, status, eligibility, score in rows.filter(
            longitude__isnull=False, latitude__isnull=False).order_by().values_list(
            "pk", "code", "name", "longitude", "latitude", "status", "eligibility", "priority_score")
    ]
    return result


# ---------------------------------------------------------------------------------------------
# rules


def rules_overview(*, user) -> dict:
    """The province default, the county overrides the user can see, and where the user may edit."""
    scope = scope_for(user)
    province = Region.objects.get(code=PROVINCE_CODE)
    counties = restrict(Region.objects.filter(level=RegionLevel.COUNTY, is_active=True), user).order_by("code")
    overridden = set(EligibilityPolicy.objects.filter(region__in=counties).values_list("region_id", flat=True))
    overridden |= set(PriorityWeights.objects.filter(region__in=counties).values_list("region_id", flat=True))
    rules = rules_by_county([c.code for c in counties] + [PROVINCE_CODE])
    rows = [{"region": c, "rules": rules[c.code], "overridden": c.pk in overridden,
             "can_edit": rules_can_edit(user, c)} for c in counties]
    return {
        "province": province,
        "province_rules": rules[PROVINCE_CODE],
        "can_edit_province": rules_can_edit(user, province),
        "counties": rows,
        "is_county_official": scope.has_role(Role.COUNTY_OFFICIAL),
    }


def rules_rows(region: Region) -> tuple[EligibilityPolicy, PriorityWeights]:
    """The rows to edit for a region: its own, else unsaved copies of what is in force there."""
    province = Region.objects.get(code=PROVINCE_CODE)
    policy = EligibilityPolicy.objects.filter(region=region).first()
    if policy is None:
        base = EligibilityPolicy.objects.filter(region=province).first() or EligibilityPolicy(region=province)
        policy = EligibilityPolicy(region=region, **{f: getattr(base, f) for f in (
            "cutoff_year", "exclude_shantytown", "priority_housing_types", "hazard_route", "min_willingness")})
    weights = PriorityWeights.objects.filter(region=region).first()
    if weights is None:
        base = PriorityWeights.objects.filter(region=province).first() or PriorityWeights(region=province)
        weights = PriorityWeights(region=region, **{f.name: getattr(base, f.name) for f in PriorityWeights._meta
                                                    .concrete_fields if f.name not in ("id", "region", "updated_at")})
    return policy, weights
