"""The memoised evaluator that the census import uses gives exactly what `evaluate` gives."""

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gaizao.estates.models import HousingType, RebuildRoute
from gaizao.estates.rules import (
    BASIC,
    ENHANCEMENT,
    IMPROVEMENT,
    EstateFacts,
    MemoisedEvaluator,
    Rules,
    evaluate,
)

dumps = json.JSONEncoder(default=str, ensure_ascii=False, separators=(", ", ": ")).encode
weights = st.decimals(min_value=0, max_value=100, places=2)
rules_strategy = st.builds(
    Rules,
    cutoff_year=st.integers(1950, 2010),
    exclude_shantytown=st.booleans(),
    priority_housing_types=st.lists(st.sampled_from(HousingType.values), max_size=3).map(tuple),
    hazard_route=st.sampled_from([RebuildRoute.PARTIAL_REBUILD.value, RebuildRoute.FULL_REBUILD.value]),
    min_willingness=st.none() | st.decimals(min_value=0, max_value=100, places=2),
    w_age=weights, age_full_years=st.integers(0, 60), w_basic_item=weights, w_improvement_item=weights,
    w_enhancement_item=weights, deficiency_cap=weights, w_willingness=weights, w_priority_housing=weights,
    w_hazard=weights,
)
facts_strategy = st.fixed_dictionaries({
    "built_year": st.none() | st.integers(1900, 2030),
    "housing_type": st.sampled_from(HousingType.values),
    "in_shantytown_plan": st.booleans(),
    "in_historic_district": st.booleans(),
    "has_precast_slab_hazard": st.booleans(),
    "willingness": st.none() | st.decimals(min_value=0, max_value=100, places=2),
    "counts": st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)),
})


@settings(max_examples=400, deadline=None)
@given(rules=rules_strategy, many=st.lists(facts_strategy, min_size=1, max_size=8))
def test_memoised_evaluator_equals_evaluate(rules, many):
    evaluator = MemoisedEvaluator(rules, dumps=dumps)
    for facts in many * 2:  # the second pass reads the caches
        counts = facts["counts"]
        outcome = evaluate(EstateFacts(
            built_year=facts["built_year"], housing_type=facts["housing_type"],
            in_shantytown_plan=facts["in_shantytown_plan"], in_historic_district=facts["in_historic_district"],
            has_precast_slab_hazard=facts["has_precast_slab_hazard"], willingness=facts["willingness"],
            deficiency_counts={BASIC: counts[0], IMPROVEMENT: counts[1], ENHANCEMENT: counts[2]}), rules)
        eligibility, reasons, route, score, breakdown = evaluator(**facts)
        assert (eligibility, route, score) == (outcome.eligibility, outcome.route, outcome.score)
        assert reasons == dumps(outcome.reasons)
        assert breakdown == dumps(outcome.breakdown)
        assert isinstance(score, Decimal)
