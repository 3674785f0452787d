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


def age_points(built_year: int | None, rules: Rules) -> Decimal:
    if built_year is None or built_year > rules.cutoff_year:
        return Decimal(0)
    years = rules.cutoff_year + 1 - built_year
    return rules.w_age * min(Decimal(1), Decimal(years) / Decimal(max(1, rules.age_full_years)))


def deficiency_points(basic_items: int, improvement_items: int, enhancement_items: int,
                      rules: Rules) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(basic, improvement, enhancement, capped sum) in points."""
    basic = rules.w_basic_item * basic_items
    improvement = rules.w_improvement_item * improvement_items
    enhancement = rules.w_enhancement_item * enhancement_items
    return basic, improvement, enhancement, min(rules.deficiency_cap, basic + improvement + enhancement)


def willingness_points(willingness, rules: Rules) -> Decimal:
    return Decimal(0) if willingness is None else rules.w_willingness * Decimal(willingness) / Decimal(100)


def priority(facts: EstateFacts, rules: Rules) -> tuple[Decimal, dict]:
    """The weighted score and its parts (each part in points; `total` is their sum)."""
    age = age_points(facts.built_year, rules)
    counts = facts.deficiency_counts or {}
    basic, improvement, enhancement, deficiencies = deficiency_points(
        counts.get(BASIC, 0), counts.get(IMPROVEMENT, 0), counts.get(ENHANCEMENT, 0), rules)
    willingness = willingness_points(facts.willingness, rules)
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


class MemoisedEvaluator:
    """`evaluate` for many estates under one set of rules, as the JSON text the database stores.

    200,000 imported estates share few ages, deficiency counts and willingness values, so each part
    is computed once per distinct input; `tests/estates/test_rules_memoised.py` holds the results
    equal to `evaluate` on generated facts and rules.
    """

    _CACHE_LIMIT = 100_000

    def __init__(self, rules: Rules, *, dumps):
        self.rules = rules
        self.dumps = dumps  # how the caller writes JSON (the stored text must match its other writes)
        self._eligibility: dict[tuple, tuple[str, str, str]] = {}
        self._age: dict = {}
        self._deficiencies: dict = {}
        self._willingness: dict = {}
        rules_ = rules
        self._housing = {True: (rules_.w_priority_housing, _float_text(rules_.w_priority_housing)),
                         False: (Decimal(0), _float_text(Decimal(0)))}
        self._hazard = {True: (rules_.w_hazard, _float_text(rules_.w_hazard)),
                        False: (Decimal(0), _float_text(Decimal(0)))}

    def __call__(self, built_year, housing_type, in_shantytown_plan, in_historic_district,
                 has_precast_slab_hazard, willingness, counts: tuple[int, int, int]):
        """(eligibility, reasons JSON, route, score, breakdown JSON)."""
        rules = self.rules
        priority_housing = housing_type in rules.priority_housing_types
        key = (built_year, housing_type, bool(in_shantytown_plan), bool(in_historic_district),
               bool(has_precast_slab_hazard), counts, willingness if rules.min_willingness is not None else None)
        verdict = self._eligibility.get(key)
        if verdict is None:
            facts = EstateFacts(built_year=built_year, housing_type=housing_type,
                                in_shantytown_plan=bool(in_shantytown_plan),
                                in_historic_district=bool(in_historic_district),
                                has_precast_slab_hazard=bool(has_precast_slab_hazard), willingness=willingness,
                                deficiency_counts={BASIC: counts[0], IMPROVEMENT: counts[1], ENHANCEMENT: counts[2]})
            eligibility, reasons, route = evaluate_eligibility(facts, rules)
            verdict = (eligibility, self.dumps(reasons), route)
            self._remember(self._eligibility, key, verdict)
        age = self._age.get(built_year)
        if age is None:
            points = age_points(built_year, rules)
            age = (points, _float_text(points))
            self._remember(self._age, built_year, age)
        deficiencies = self._deficiencies.get(counts)
        if deficiencies is None:
            parts = deficiency_points(*counts, rules)
            deficiencies = (parts[3], ", ".join(f'"{name}": {_float_text(value)}' for name, value in zip(
                ("basic", "improvement", "enhancement", "deficiencies"), parts, strict=True)))
            self._remember(self._deficiencies, counts, deficiencies)
        will = self._willingness.get(willingness)
        if will is None:
            points = willingness_points(willingness, rules)
            will = (points, _float_text(points))
            self._remember(self._willingness, willingness, will)
        housing = self._housing[priority_housing]
        hazard = self._hazard[bool(has_precast_slab_hazard)]
        total = _q(age[0] + deficiencies[0] + will[0] + housing[0] + hazard[0])
        breakdown = (f'{{"age": {age[1]}, {deficiencies[1]}, "willingness": {will[1]}, '
                     f'"housing_type": {housing[1]}, "hazard": {hazard[1]}, "total": {float(total)!r}}}')
        return verdict[0], verdict[1], verdict[2], total, breakdown

    def _remember(self, cache: dict, key, value) -> None:
        if len(cache) >= self._CACHE_LIMIT:
            cache.clear()
        cache[key] = value


def _float_text(points: Decimal) -> str:
    """A part of the breakdown as `json.dumps` writes `float(_q(points))`."""
    return repr(float(_q(points)))


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
    """(label, points) of the score's parts, in the rules' order."""
    labels = breakdown_labels()
    return [(labels[k], breakdown[k]) for k in labels if k in (breakdown or {})]


def breakdown_labels() -> dict[str, str]:
    """The score's parts by key, in the rules' order, named in the active language."""
    return {
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
