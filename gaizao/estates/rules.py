"""Eligibility and priority as pure functions of an estate's data and the rules in force.

No database access here: services feed plain values in and store what comes out, so one estate,
a county after a rules change and 200,000 imported rows all go through the same code.
Reasons are stored as codes with parameters and put in words by `reason_text` (gettext), so
each reader sees them in their own language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import get_language, gettext

from .models import ContentClass, Eligibility, HousingType, RebuildRoute

TWO_PLACES = Decimal("0.01")
# plain strings (enum attribute access is slow in loops over 200,000 rows)
BASIC, IMPROVEMENT, ENHANCEMENT = ContentClass.BASIC.value, ContentClass.IMPROVEMENT.value, ContentClass.ENHANCEMENT.value
ELIGIBLE, INELIGIBLE, EXCLUDED = Eligibility.ELIGIBLE.value, Eligibility.INELIGIBLE.value, Eligibility.EXCLUDED.value
ROUTE_NONE, PARTIAL, FULL, SHANTYTOWN = ("", RebuildRoute.PARTIAL_REBUILD.value, RebuildRoute.FULL_REBUILD.value,
                                         RebuildRoute.SHANTYTOWN.value)


@dataclass(frozen=True)
class Rules:
    """The eligibility policy and priority weights in force for one county (plain values)."""

    cutoff_year: int = 1999
    exclude_shantytown: bool = True
    priority_housing_types: tuple[str, ...] = (HousingType.REFORMED_PUBLIC.value, HousingType.PUBLIC.value)
    hazard_route: str = RebuildRoute.PARTIAL_REBUILD.value
    min_willingness: Decimal | None = None
    w_age: Decimal = Decimal("30")
    age_full_years: int = 25
    w_basic_item: Decimal = Decimal("5")
    w_improvement_item: Decimal = Decimal("2")
    w_enhancement_item: Decimal = Decimal("1")
    deficiency_cap: Decimal = Decimal("30")
    w_willingness: Decimal = Decimal("20")
    w_priority_housing: Decimal = Decimal("10")
    w_hazard: Decimal = Decimal("10")
    # where each half came from: region codes of the policy and weights rows ("" = built-in defaults)
    policy_region: str = ""
    weights_region: str = ""

    @classmethod
    def from_rows(cls, policy, weights) -> Rules:
        values = {}
        if policy is not None:
            values.update(
                cutoff_year=policy.cutoff_year, exclude_shantytown=policy.exclude_shantytown,
                priority_housing_types=tuple(policy.priority_housing_types or ()), hazard_route=policy.hazard_route,
                min_willingness=policy.min_willingness,
                policy_region=policy.region.code if policy.region_id else "")
        if weights is not None:
            values.update(
                w_age=weights.age, age_full_years=weights.age_full_years, w_basic_item=weights.basic_item,
                w_improvement_item=weights.improvement_item, w_enhancement_item=weights.enhancement_item,
                deficiency_cap=weights.deficiency_cap, w_willingness=weights.willingness,
                w_priority_housing=weights.priority_housing, w_hazard=weights.hazard,
                weights_region=weights.region.code if weights.region_id else "")
        return cls(**values)


@dataclass
class EstateFacts:
    """What the rules look at."""

    built_year: int | None
    housing_type: str
    in_shantytown_plan: bool = False
    in_historic_district: bool = False
    has_precast_slab_hazard: bool = False
    willingness: Decimal | None = None
    # number of missing or broken catalogue items per content class
    deficiency_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    eligibility: str
    reasons: list[dict]
    route: str
    score: Decimal
    breakdown: dict


def _r(code: str, **params) -> dict:
    return {"code": code, "params": params}


def _q(value) -> Decimal:
    return Decimal(value).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def evaluate_eligibility(facts: EstateFacts, rules: Rules) -> tuple[str, list[dict], str]:
    """(eligibility, reasons, route). Excluded beats ineligible beats eligible; every test leaves a reason."""
    reasons: list[dict] = []
    excluded = ineligible = False
    route = ROUTE_NONE

    if facts.in_shantytown_plan:
        if rules.exclude_shantytown:
            excluded = True
            route = SHANTYTOWN
            reasons.append(_r("shantytown_excluded"))
        else:
            reasons.append(_r("shantytown_allowed"))

    if facts.built_year is None:
        ineligible = True
        reasons.append(_r("built_year_unknown"))
    elif facts.built_year <= rules.cutoff_year:
        reasons.append(_r("built_by_cutoff", year=facts.built_year, cutoff=rules.cutoff_year))
    else:
        ineligible = True
        reasons.append(_r("built_after_cutoff", year=facts.built_year, cutoff=rules.cutoff_year))

    if facts.has_precast_slab_hazard:
        if rules.hazard_route == FULL:
            excluded = True
            route = route or FULL
            reasons.append(_r("hazard_full_rebuild"))
        else:
            route = route or PARTIAL
            reasons.append(_r("hazard_partial_rebuild"))

    if rules.min_willingness is not None:
        if facts.willingness is None:
            ineligible = True
            reasons.append(_r("willingness_unknown", minimum=str(_q(rules.min_willingness))))
        elif Decimal(facts.willingness) < rules.min_willingness:
            ineligible = True
            reasons.append(_r("willingness_below", value=str(_q(facts.willingness)),
                              minimum=str(_q(rules.min_willingness))))
        else:
            reasons.append(_r("willingness_met", value=str(_q(facts.willingness)),
                              minimum=str(_q(rules.min_willingness))))

    if facts.housing_type in rules.priority_housing_types:
        reasons.append(_r("priority_housing", housing_type=facts.housing_type))

    counts = facts.deficiency_counts or {}
    total = sum(counts.values())
    if total:
        reasons.append(_r("deficiencies", total=total, basic=counts.get(BASIC, 0),
                          improvement=counts.get(IMPROVEMENT, 0),
                          enhancement=counts.get(ENHANCEMENT, 0)))
    else:
        reasons.append(_r("no_deficiencies"))

    if facts.in_historic_district:
        reasons.append(_r("historic_district"))

    if excluded:
        verdict = EXCLUDED
    elif ineligible:
        verdict = INELIGIBLE
    else:
        verdict = ELIGIBLE
    return verdict, reasons, route


def priority(facts: EstateFacts, rules: Rules) -> tuple[Decimal, dict]:
    """The weighted score and its parts (each part in points; `total` is their sum)."""
    if facts.built_year is None or facts.built_year > rules.cutoff_year:
        age = Decimal(0)
    else:
        years = rules.cutoff_year + 1 - facts.built_year
        age = rules.w_age * min(Decimal(1), Decimal(years) / Decimal(max(1, rules.age_full_years)))
    counts = facts.deficiency_counts or {}
    basic = rules.w_basic_item * counts.get(BASIC, 0)
    improvement = rules.w_improvement_item * counts.get(IMPROVEMENT, 0)
    enhancement = rules.w_enhancement_item * counts.get(ENHANCEMENT, 0)
    deficiencies = min(rules.deficiency_cap, basic + improvement + enhancement)
    willingness = Decimal(0) if facts.willingness is None else (
        rules.w_willingness * Decimal(facts.willingness) / Decimal(100))
    housing = rules.w_priority_housing if facts.housing_type in rules.priority_housing_types else Decimal(0)
    hazard = rules.w_hazard if facts.has_precast_slab_hazard else Decimal(0)
    parts = {"age": age, "basic": basic, "improvement": improvement, "enhancement": enhancement,
             "deficiencies": deficiencies, "willingness": willingness, "housing_type": housing, "hazard": hazard}
    total = _q(age + deficiencies + willingness + housing + hazard)
    breakdown = {k: float(_q(v)) for k, v in parts.items()}
    breakdown["total"] = float(total)
    return total, breakdown


def evaluate(facts: EstateFacts, rules: Rules) -> Outcome:
    verdict, reasons, route = evaluate_eligibility(facts, rules)
    score, breakdown = priority(facts, rules)
    return Outcome(verdict, reasons, route, score, breakdown)


_TEXT_CACHE: dict[tuple, str] = {}
_TEXT_CACHE_SIZE = 20_000


def reason_text(reason: dict) -> str:
    """One reason in words, in the active language (memoised: lists show the same reasons again and again)."""
    params = reason.get("params") or {}
    try:
        key = (get_language(), reason.get("code", ""), tuple(sorted(params.items())))
        hash(key)
    except TypeError:
        return _reason_text(reason)
    text = _TEXT_CACHE.get(key)
    if text is None:
        if len(_TEXT_CACHE) >= _TEXT_CACHE_SIZE:
            _TEXT_CACHE.clear()
        text = _TEXT_CACHE[key] = _reason_text(reason)
    return text


# The reasons in words. English msgids; the Chinese is in the .po file.
def _reason_text(reason: dict) -> str:
    from .models import HousingType as HT

    code = reason.get("code", "")
    p = dict(reason.get("params") or {})
    if code == "built_by_cutoff":
        return gettext("Built in %(year)s, in or before the cut-off year %(cutoff)s.") % p
    if code == "built_after_cutoff":
        return gettext("Built in %(year)s, after the cut-off year %(cutoff)s.") % p
    if code == "built_year_unknown":
        return gettext("The year the estate was built is not known.")
    if code == "shantytown_excluded":
        return gettext("In a shanty-town redevelopment plan: excluded from renovation.")
    if code == "shantytown_allowed":
        return gettext("In a shanty-town redevelopment plan, which the rules in force do not exclude.")
    if code == "hazard_full_rebuild":
        return gettext("Precast hollow-core floor slabs: routed to full rebuild instead of renovation.")
    if code == "hazard_partial_rebuild":
        return gettext("Precast hollow-core floor slabs: the scheme must include partial rebuilding.")
    if code == "willingness_unknown":
        return gettext("Residents' willingness has not been surveyed; at least %(minimum)s%% is required.") % p
    if code == "willingness_below":
        return gettext("Residents' willingness %(value)s%% is below the required %(minimum)s%%.") % p
    if code == "willingness_met":
        return gettext("Residents' willingness %(value)s%% meets the required %(minimum)s%%.") % p
    if code == "priority_housing":
        try:
            label = str(HT(p.get("housing_type")).label)
        except ValueError:
            label = str(p.get("housing_type"))
        return gettext("Priority housing type: %(label)s.") % {"label": label}
    if code == "deficiencies":
        return gettext("%(total)s catalogue items missing or broken (basic %(basic)s, improvement "
                       "%(improvement)s, enhancement %(enhancement)s).") % p
    if code == "no_deficiencies":
        return gettext("No catalogue items are recorded as missing or broken.")
    if code == "historic_district":
        return gettext("In a historic district: the scheme must follow the conservation rules.")
    return code


def reasons_text(reasons: list[dict]) -> list[str]:
    return [reason_text(r) for r in reasons or []]


def breakdown_rows(breakdown: dict) -> list[tuple[str, float]]:
    labels = {
        "age": gettext("Age"),
        "basic": gettext("Basic items"),
        "improvement": gettext("Improvement items"),
        "enhancement": gettext("Enhancement items"),
        "deficiencies": gettext("Deficiencies (capped)"),
        "willingness": gettext("Residents' willingness"),
        "housing_type": gettext("Priority housing type"),
        "hazard": gettext("Precast slab hazard"),
        "total": gettext("Total"),
    }
    return [(labels[k], breakdown[k]) for k in labels if k in (breakdown or {})]
