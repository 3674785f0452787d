"""Eligibility and priority rules as pure functions, with properties over all inputs."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gaizao.estates.models import Eligibility, HousingType, RebuildRoute
from gaizao.estates.rules import EstateFacts, Rules, evaluate, reason_text

years = st.one_of(st.none(), st.integers(min_value=1900, max_value=2030))
percent = st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2, allow_nan=False))
counts = st.fixed_dictionaries({"basic": st.integers(0, 20), "improvement": st.integers(0, 15),
                                "enhancement": st.integers(0, 15)})
facts = st.builds(EstateFacts, built_year=years, housing_type=st.sampled_from(HousingType.values),
                  in_shantytown_plan=st.booleans(), in_historic_district=st.booleans(),
                  has_precast_slab_hazard=st.booleans(), willingness=percent, deficiency_counts=counts)
rules = st.builds(Rules, cutoff_year=st.integers(1970, 2010), exclude_shantytown=st.booleans(),
                  hazard_route=st.sampled_from([RebuildRoute.PARTIAL_REBUILD.value, RebuildRoute.FULL_REBUILD.value]),
                  min_willingness=percent)


@settings(max_examples=400, deadline=None)
@given(facts, rules)
def test_verdict_follows_the_rules(f, r):
    out = evaluate(f, r)
    excluded = (f.in_shantytown_plan and r.exclude_shantytown) or (
        f.has_precast_slab_hazard and r.hazard_route == RebuildRoute.FULL_REBUILD)
    too_new = f.built_year is None or f.built_year > r.cutoff_year
    unwilling = r.min_willingness is not None and (f.willingness is None or f.willingness < r.min_willingness)
    if excluded:
        assert out.eligibility == Eligibility.EXCLUDED
    elif too_new or unwilling:
        assert out.eligibility == Eligibility.INELIGIBLE
    else:
        assert out.eligibility == Eligibility.ELIGIBLE
    assert out.reasons, "every decision shows its reasons"
    for reason in out.reasons:
        text = reason_text(reason)
        assert text and text != reason["code"]
    if f.in_shantytown_plan and r.exclude_shantytown:
        assert out.route == RebuildRoute.SHANTYTOWN
    elif f.has_precast_slab_hazard:
        assert out.route == r.hazard_route
    else:
        assert out.route == ""


@settings(max_examples=400, deadline=None)
@given(facts, rules)
def test_score_is_the_sum_of_its_parts_and_bounded(f, r):
    out = evaluate(f, r)
    b = out.breakdown
    parts = b["age"] + b["deficiencies"] + b["willingness"] + b["housing_type"] + b["hazard"]
    assert abs(parts - b["total"]) < 0.02
    assert float(out.score) == b["total"]
    ceiling = r.w_age + r.deficiency_cap + r.w_willingness + r.w_priority_housing + r.w_hazard
    assert Decimal(0) <= out.score <= ceiling
    assert b["deficiencies"] <= float(r.deficiency_cap)


@settings(max_examples=200, deadline=None)
@given(facts, st.integers(1, 30))
def test_older_never_scores_lower(f, years_older):
    r = Rules()
    if f.built_year is None or f.built_year - years_older < 1900:
        return
    older = EstateFacts(**{**f.__dict__, "built_year": f.built_year - years_older})
    assert evaluate(older, r).score >= evaluate(f, r).score


def test_defaults_from_the_domain_brief():
    r = Rules()
    assert r.cutoff_year == 1999 and r.exclude_shantytown
    assert set(r.priority_housing_types) == {"reformed_public", "public"}
    base = dict(housing_type="public", willingness=Decimal("80"), deficiency_counts={"basic": 2})
    assert evaluate(EstateFacts(built_year=1999, **base), r).eligibility == Eligibility.ELIGIBLE
    assert evaluate(EstateFacts(built_year=2000, **base), r).eligibility == Eligibility.INELIGIBLE
    shanty = evaluate(EstateFacts(built_year=1980, in_shantytown_plan=True, **base), r)
    assert shanty.eligibility == Eligibility.EXCLUDED and shanty.route == RebuildRoute.SHANTYTOWN
    hazard = evaluate(EstateFacts(built_year=1980, has_precast_slab_hazard=True, **base), r)
    assert hazard.eligibility == Eligibility.ELIGIBLE and hazard.route == RebuildRoute.PARTIAL_REBUILD
    assert hazard.breakdown["hazard"] == 10.0
    public = evaluate(EstateFacts(built_year=1980, **base), r)
    commodity = evaluate(EstateFacts(built_year=1980, **{**base, "housing_type": "commodity"}), r)
    assert public.score - commodity.score == Decimal("10.00")
    assert [x["code"] for x in public.reasons] == ["built_by_cutoff", "priority_housing", "deficiencies"]


def test_reasons_are_words_in_the_active_language():
    from django.utils import translation

    reason = {"code": "built_after_cutoff", "params": {"year": 2003, "cutoff": 1999}}
    with translation.override("en"):
        assert reason_text(reason) == "Built in 2003, after the cut-off year 1999."
    assert reason_text({"code": "unknown-code"}) == "unknown-code"
