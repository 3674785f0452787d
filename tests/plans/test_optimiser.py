"""The plan optimiser as a pure module (no database): target arithmetic, the independent verifier, brute
force on small instances, infeasibility reasons, greedy, the budget file and the JSON result."""

import itertools
import json
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaizao.plans.optimiser import (
    BudgetFileError,
    Candidate,
    Instance,
    ModelRule,
    Target,
    candidate_measure,
    greedy_schedule,
    optimise,
    parse_budget_csv,
    parse_period,
    parse_share,
    precheck,
    reason_message,
    required_quantity,
    schedule_diff,
    schedule_objective,
    target_requirements,
    verify_schedule,
)

XIHU, HAISHU = "330106", "330203"
NAMES = {XIHU: "西湖区", HAISHU: "海曙区"}


def cand(i, county=XIHU, *, priority=50, households=100, area="8000", cost=100, estates=1, earliest=None,
         model=False):
    return Candidate(id=f"c{i}", county=county, priority=priority, households=households, floor_area=area,
                     cost_wan=cost, estates=estates, earliest_year=earliest, model_eligible=model)


# ----------------------------------------------------------------------------------------------
# target arithmetic


@pytest.mark.parametrize("share,total,need", [
    ("30%", 7, 3), ("30%", 10, 3), ("30%", 11, 4), ("30%", 0, 0), ("100%", 7, 7), ("0%", 7, 0),
    (0.3, 10, 3), (Decimal("0.30"), 10, 3), (Fraction(1, 3), 9, 3), (Fraction(1, 3), 10, 4),
    ("0.3", 20, 6), (0.7, 10, 7), ("33.3%", 3, 1), ("1", 1, 1), (0.1, 30, 3),
])
def test_required_quantity_rounds_up_exactly(share, total, need):
    # 0.3 * 10 and 0.7 * 10 and 0.1 * 30 are 3.0000000000000004, 7.000000000000001, 3.0000000000000004 in floats
    assert required_quantity(share, total) == need


def test_parse_share_forms_and_errors():
    assert parse_share("30%") == parse_share("0.3") == parse_share(0.3) == parse_share(Decimal("0.30")) == Fraction(3, 10)
    assert parse_share("100%") == 1
    for bad in ("abc", "130%", -0.1, "1.5", True):
        with pytest.raises((ValueError, TypeError)):
            parse_share(bad)


def test_measures_in_each_unit():
    c = cand(1, households=123, area="100.05", estates=3)
    assert candidate_measure(c, "estates") == 3
    assert candidate_measure(c, "households") == 123
    assert candidate_measure(c, "floor_area") == 10005  # 0.01 m²


@pytest.mark.parametrize("unit,need", [
    ("estates", 3),  # 30% of 1 + 3 + 1 + 1 + 1 + 1 = 8 estates -> 2.4 -> 3
    ("households", 301),  # 30% of 1001 -> 300.3 -> 301
    ("floor_area", 9005),  # 30% of 300.15 m² = 90.045 m² -> 90.05 m²
])
def test_target_requirements_per_unit(unit, need):
    cands = [cand(0, households=501, area="100.05", estates=1), cand(1, households=500, area="200.10", estates=3)]
    cands += [cand(i, households=0, area="0", estates=1) for i in range(2, 6)]
    inst = Instance(cands, 2020, 2022, unit=unit, model_rule=None)
    reqs = target_requirements(inst)[XIHU]
    assert [(r.year, r.required) for r in reqs][0] == (2020, need)
    assert reqs[-1].year == 2022 and reqs[-1].required == reqs[-1].task


def test_year_boundaries_count_by_the_end_of_the_year():
    cands = [cand(i) for i in range(10)]
    inst = Instance(cands, 2020, 2022, model_rule=None)
    three_in_2020 = {f"c{i}": 2020 for i in range(3)} | {f"c{i}": 2022 for i in range(3, 10)}
    assert verify_schedule(inst, three_in_2020) == []
    two_in_2020 = {f"c{i}": 2020 for i in range(2)} | {f"c{i}": 2021 for i in range(2, 10)}
    assert [(v.code, v.year) for v in verify_schedule(inst, two_in_2020)] == [("target_missed", 2020)]
    one_left_out = {f"c{i}": 2020 for i in range(3)} | {f"c{i}": 2022 for i in range(3, 9)}
    assert [(v.code, v.year) for v in verify_schedule(inst, one_left_out)] == [("target_missed", 2022)]


def test_other_periods_and_target_years():
    cands = [cand(i) for i in range(10)]
    five = Instance(cands, 2021, 2025, targets=(Target(1, "30%"), Target(3, "60%"), Target(-1, "100%")), model_rule=None)
    assert [(r.year, r.required) for r in target_requirements(five)[XIHU]] == [(2021, 3), (2023, 6), (2025, 10)]
    cal = Instance(cands, 2021, 2025, targets=(Target.in_year(2022, "50%"),), model_rule=None)
    assert [(r.year, r.required) for r in target_requirements(cal)[XIHU]] == [(2022, 5)]
    one = Instance(cands, 2023, 2023, model_rule=None)  # year 1 and the last year coincide: the larger share
    assert [(r.year, r.required) for r in target_requirements(one)[XIHU]] == [(2023, 10)]
    with pytest.raises(ValueError):
        Instance(cands, 2020, 2021, targets=(Target(3, "100%"),))
    with pytest.raises(ValueError):
        Instance(cands, 2020, 2022, targets=(Target.in_year(2019, "10%"),))
    assert parse_period("2020-2022") == (2020, 2022) and parse_period("2024") == (2024, 2024)
    with pytest.raises(ValueError):
        parse_period("2022-2020")
    res = optimise(Instance(cands, 2021, 2025, targets=(Target(1, "30%"), Target(-1, "100%")), model_rule=None,
                            budgets={(XIHU, y): 300 for y in range(2021, 2026)}), mip_rel_gap=0)
    assert res.feasible and set(res.schedule.values()) <= set(range(2021, 2026))
    assert sum(1 for y in res.schedule.values() if y == 2021) >= 3 and len(res.schedule) == 10


def test_explicit_task_and_candidates_after_the_period():
    cands = [cand(i) for i in range(6)] + [cand(9, earliest=2023)]
    inst = Instance(cands, 2020, 2022, task={XIHU: 5}, model_rule=None)
    assert [r.required for r in target_requirements(inst)[XIHU]] == [2, 5]
    assert inst.out_of_period == ["c9"]
    assert verify_schedule(inst, {"c9": 2022})[0].code == "before_earliest_year"


# ----------------------------------------------------------------------------------------------
# the verifier


def test_verifier_finds_every_kind_of_violation():
    cands = [cand(0, model=True), cand(1, earliest=2021, cost=150), cand(2), cand(3)]
    inst = Instance(cands, 2020, 2022, budgets={(XIHU, 2020): 200, (XIHU, 2021): 500, (XIHU, 2022): 500},
                    model_rule=ModelRule(count=1, deadline=1))
    codes = {v.code for v in verify_schedule(inst, [("c0", 2021), ("c1", 2020), ("c2", 2020), ("c2", 2021),
                                                    ("zz", 2020), ("c3", 2019)])}
    assert codes == {"unknown_candidate", "scheduled_twice", "year_outside_period", "before_earliest_year",
                     "over_budget", "target_missed", "model_estates_missing"}
    ok = {"c0": 2020, "c1": 2021, "c2": 2020, "c3": 2022}
    assert verify_schedule(inst, ok) == []


def test_verifier_budgets_with_carry_over():
    cands = [cand(0, cost=100), cand(1, cost=100)]
    budgets = {(XIHU, 2020): 50, (XIHU, 2021): 150}
    plain = Instance(cands, 2020, 2021, budgets=budgets, targets=(), model_rule=None)
    carry = Instance(cands, 2020, 2021, budgets=budgets, targets=(), model_rule=None, carry_over=True)
    both_2021 = {"c0": 2021, "c1": 2021}
    assert [(v.code, v.year) for v in verify_schedule(plain, both_2021)] == [("over_budget", 2021)]
    assert verify_schedule(carry, both_2021) == []  # 50 unspent in 2020 rolls into 2021
    assert [(v.code, v.year) for v in verify_schedule(carry, {"c0": 2020})] == [("over_budget", 2020)]
    assert len(optimise(plain, mip_rel_gap=0).schedule) == 1
    assert optimise(carry, mip_rel_gap=0).schedule == both_2021


def test_model_estates_already_done_count():
    cands = [cand(0), cand(1)]
    rule = ModelRule(count=1, deadline=2019, calendar=True)
    before = Instance(cands, 2020, 2022, model_rule=rule, targets=())
    assert [r["code"] for r in precheck(before)] == ["model_estate_deadline_before_period"]
    done = Instance(cands, 2020, 2022, model_rule=rule, targets=(), existing_model_estates={XIHU: 1})
    assert precheck(done) == [] and verify_schedule(done, {}) == []


# ----------------------------------------------------------------------------------------------
# brute force on small instances


def brute_force(inst: Instance):
    """The best objective over every schedule (None when no schedule meets every rule), computed from
    the instance's raw data only."""
    start, end = inst.start_year, inst.end_year
    cands = list(inst.candidates)

    def qty(c):
        return {"estates": Fraction(c.estates), "households": Fraction(c.households),
                "floor_area": Fraction(c.floor_area)}[inst.unit]

    task = {}
    for c in cands:
        if c.earliest_year is None or c.earliest_year <= end:
            task[c.county] = task.get(c.county, 0) + qty(c)
    if inst.task:
        task.update({k: Fraction(Decimal(str(v))) for k, v in inst.task.items()})
    target_years = []
    for t in inst.targets:
        y = t.year if t.calendar else (start + t.year - 1 if t.year > 0 else end + t.year + 1)
        target_years.append((y, t.share))
    rule = inst.model_rule
    if rule is not None and rule.count > 0:
        deadline = rule.deadline if rule.calendar else (start + rule.deadline - 1 if rule.deadline > 0 else end + rule.deadline + 1)
    options = []
    for c in cands:
        first = max(start, c.earliest_year or start)
        options.append([None, *range(first, end + 1)])
    best = None
    for choice in itertools.product(*options):
        spend = {}
        for c, y in zip(cands, choice, strict=True):
            if y is not None:
                spend[(c.county, y)] = spend.get((c.county, y), 0) + c.cost_wan
        if inst.budgets is not None:
            ok = True
            for county in task:
                run_s = run_b = Decimal(0)
                for y in range(start, end + 1):
                    s, b = spend.get((county, y), 0), Decimal(inst.budgets.get((county, y), 0))
                    if inst.carry_over:
                        run_s, run_b = run_s + s, run_b + b
                        ok &= run_s <= run_b
                    else:
                        ok &= s <= b
            if not ok:
                continue
        ok = True
        for county, total in task.items():
            for y, share in target_years:
                done = sum((qty(c) for c, yy in zip(cands, choice, strict=True)
                            if yy is not None and yy <= y and c.county == county), Fraction(0))
                ok &= done >= share * total
            if rule is not None and rule.count > 0:
                n = sum(1 for c, yy in zip(cands, choice, strict=True)
                        if yy is not None and yy <= deadline and c.county == county and c.model_eligible)
                ok &= n + (inst.existing_model_estates or {}).get(county, 0) >= rule.count
        if not ok:
            continue
        value = sum(inst.benefit_of(c) * (1 + inst.earliness * (end - y))
                    for c, y in zip(cands, choice, strict=True) if y is not None)
        if best is None or value > best:
            best = value
    return best


@st.composite
def small_instances(draw, max_candidates=6):
    n = draw(st.integers(1, max_candidates))
    start = draw(st.sampled_from([2020, 2031]))
    years = draw(st.integers(1, 3))
    end = start + years - 1
    counties = [XIHU, HAISHU][: draw(st.integers(1, 2))]
    cands = []
    for i in range(n):
        cands.append(Candidate(
            id=f"c{i}", county=draw(st.sampled_from(counties)), priority=draw(st.integers(1, 100)),
            households=draw(st.integers(0, 400)), floor_area=draw(st.sampled_from(["1000", "2500.5", "800.25"])),
            cost_wan=draw(st.sampled_from([0, 10, 40, 55.5, 80, 120])), estates=draw(st.sampled_from([1, 1, 1, 2, 3])),
            earliest_year=draw(st.sampled_from([None, start, start + 1, end + 1])),
            model_eligible=draw(st.booleans())))
    budgets = None  # no budget limit in about a quarter of the cases
    if draw(st.integers(0, 3)):
        budgets = {(c, y): draw(st.sampled_from([0, 40, 60, 100, 150, 300])) for c in counties for y in range(start, end + 1)}
    targets = draw(st.sampled_from([
        (Target(1, "30%"), Target(-1, "100%")), (), (Target(1, "50%"),), (Target(-1, "60%"),),
    ]))
    model = draw(st.sampled_from([None, ModelRule(1, 1), ModelRule(1, -1), ModelRule(0, 1)]))
    return Instance(cands, start, end, budgets=budgets, targets=targets,
                    unit=draw(st.sampled_from(["estates", "households", "floor_area"])), model_rule=model,
                    earliness=draw(st.sampled_from([0.0, 0.01])), carry_over=draw(st.booleans()),
                    benefit=draw(st.sampled_from(["priority_households", "priority", "priority_area"])))


def check_against_brute_force(inst):
    res = optimise(inst, mip_rel_gap=0.0, time_limit=30)
    best = brute_force(inst)
    if best is None:
        assert not res.feasible and res.status == "infeasible" and res.reasons
        # the best-effort schedule still keeps to the money, the years and each candidate once
        assert {v.code for v in res.violations} <= {"target_missed", "model_estates_missing"}
    else:
        assert res.feasible, (res.reasons, res.violations)
        assert res.violations == [] and verify_schedule(inst, res.schedule) == []
        assert res.objective == pytest.approx(best, rel=1e-7, abs=1e-6)
        assert schedule_objective(inst, res.schedule) == pytest.approx(res.objective, rel=1e-9, abs=1e-9)
        assert res.bound >= best - 1e-6 * max(1.0, abs(best)) and res.lp_bound >= res.bound - 1e-6 * max(1, abs(best))
    return res


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_optimiser_equals_brute_force_on_random_small_instances(inst):
    check_against_brute_force(inst)


@pytest.mark.parametrize("seed", range(4))
def test_optimiser_equals_brute_force_with_eight_candidates(seed):
    rng = random.Random(seed)
    cands = [Candidate(id=f"c{i}", county=rng.choice([XIHU, HAISHU]), priority=rng.randint(10, 100),
                       households=rng.randint(50, 400), floor_area=rng.randint(2000, 20000),
                       cost_wan=rng.choice([30, 45, 60, 75, 90]), estates=rng.choice([1, 1, 2]),
                       earliest_year=rng.choice([None, None, 2021]), model_eligible=rng.random() < 0.4)
             for i in range(8)]
    budgets = {(c, y): rng.choice([60, 90, 120, 150]) for c in (XIHU, HAISHU) for y in (2020, 2021, 2022)}
    inst = Instance(cands, 2020, 2022, budgets=budgets, task=None, model_rule=ModelRule(1, 1),
                    targets=(Target(1, "30%"), Target(-1, "60%")))
    check_against_brute_force(inst)


# ----------------------------------------------------------------------------------------------
# the optimiser's and greedy's schedules pass the verifier on larger random instances


@st.composite
def county_instances(draw):
    rnd = random.Random(draw(st.integers(0, 10**6)))
    counties = [XIHU, HAISHU, "330102", "330212"][: draw(st.integers(1, 4))]
    cands, budgets = [], {}
    for county in counties:
        n = rnd.randint(3, 40)
        for i in range(n):
            cands.append(Candidate(
                id=f"{county}-{i}", county=county, priority=rnd.randint(20, 100), households=rnd.randint(30, 500),
                floor_area=rnd.randint(2000, 40000), cost_wan=round(rnd.uniform(50, 900), 2),
                estates=rnd.choice([1] * 9 + [3]), earliest_year=rnd.choice([None] * 6 + [2021, 2022]),
                model_eligible=rnd.random() < 0.15))
        total = sum(c.cost_wan for c in cands if c.county == county)
        for y, part in zip((2020, 2021, 2022), (0.3, 0.35, 0.35), strict=True):
            budgets[(county, y)] = (total * Decimal(str(part)) * Decimal(str(rnd.uniform(0.7, 1.3)))).quantize(Decimal("0.01"))
    return Instance(cands, 2020, 2022, budgets=budgets, carry_over=draw(st.booleans()),
                    unit=draw(st.sampled_from(["estates", "households", "floor_area"])),
                    county_names=NAMES)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(county_instances())
def test_schedules_pass_the_verifier(inst):
    res = optimise(inst, time_limit=10)
    assert res.violations == verify_schedule(inst, res.schedule)
    if res.feasible:
        assert res.violations == [] and res.reasons == []
        assert res.objective <= res.bound * (1 + 1e-9) and res.bound <= res.lp_bound * (1 + 1e-9)
        assert res.gap <= 0.005 + 1e-12
    else:
        assert res.reasons and {r["county"] for r in res.reasons} <= {c.county for c in inst.candidates}
        assert {v.code for v in res.violations} <= {"target_missed", "model_estates_missing"}
        failing = {v.county for v in res.violations}
        assert failing <= {r["county"] for r in res.reasons}
    # greedy never spends money it does not have, nor places a candidate twice or too early
    greedy = greedy_schedule(inst)
    assert greedy == res.greedy
    assert {v.code for v in verify_schedule(inst, greedy)} <= {"target_missed", "model_estates_missing"}
    assert res.greedy_feasible == (verify_schedule(inst, greedy) == [])
    json.dumps(res.to_json(include_greedy_schedule=True), ensure_ascii=False)


def test_greedy_fills_by_benefit_in_year_order():
    cands = [cand(0, priority=10, cost=60), cand(1, priority=90, cost=80), cand(2, priority=50, cost=30),
             cand(3, priority=70, cost=50)]
    budgets = {(XIHU, 2020): 110, (XIHU, 2021): 60, (XIHU, 2022): 0}
    inst = Instance(cands, 2020, 2022, budgets=budgets, targets=(), model_rule=None)
    # 2020: c1 (80) fits, c3 (50) does not, c2 (30) fits; 2021: c3 (50) fits, c0 (60) does not
    assert greedy_schedule(inst) == {"c1": 2020, "c2": 2020, "c3": 2021}
    carry = Instance(cands, 2020, 2022, budgets=budgets, targets=(), model_rule=None, carry_over=True)
    assert greedy_schedule(carry) == {"c1": 2020, "c2": 2020, "c3": 2021}


def test_optimiser_meets_a_target_greedy_misses_and_says_why_it_differs():
    # greedy takes the two big estates first; the target of 30% of 10 estates by 2020 needs three
    cands = [cand(0, households=400, cost=100), cand(1, households=390, cost=100)]
    cands += [cand(i, households=100, cost=40, model=(i == 2)) for i in range(2, 10)]
    budgets = {(XIHU, 2020): 200, (XIHU, 2021): 200, (XIHU, 2022): 200}
    inst = Instance(cands, 2020, 2022, budgets=budgets, county_names=NAMES)
    res = optimise(inst, mip_rel_gap=0)
    assert res.feasible and not res.greedy_feasible
    assert {(v.code, v.year) for v in res.greedy_violations} >= {("target_missed", 2020)}
    assert sum(1 for y in res.schedule.values() if y == 2020) >= 3
    assert "c2" in res.model_estates
    diff = schedule_diff(inst, res.schedule, res.greedy)
    assert diff and all(d["proposed"] != d["other"] for d in diff)


def test_counties_are_independent():
    rnd = random.Random(7)
    cands = [Candidate(id=f"{c}-{i}", county=c, priority=rnd.randint(1, 99), households=rnd.randint(10, 300),
                       floor_area=1000, cost_wan=rnd.randint(20, 90), model_eligible=i == 0)
             for c in (XIHU, HAISHU) for i in range(12)]
    budgets = {(c, y): 300 for c in (XIHU, HAISHU) for y in (2020, 2021, 2022)}
    both = optimise(Instance(cands, 2020, 2022, budgets=budgets), mip_rel_gap=0)
    parts = [optimise(Instance([c for c in cands if c.county == k], 2020, 2022, budgets=budgets), mip_rel_gap=0)
             for k in (XIHU, HAISHU)]
    assert both.objective == pytest.approx(sum(p.objective for p in parts), rel=1e-9)
    assert both.lp_bound == pytest.approx(sum(p.lp_bound for p in parts), rel=1e-7)


# ----------------------------------------------------------------------------------------------
# infeasibility, explained


def test_budget_short_of_target_is_named_before_solving():
    cands = [cand(i, cost=100, model=(i == 0)) for i in range(10)]
    budgets = {(XIHU, 2020): 250, (XIHU, 2021): 600, (XIHU, 2022): 600}
    inst = Instance(cands, 2020, 2022, budgets=budgets, county_names=NAMES)
    reasons = precheck(inst)
    assert [(r["code"], r["county"], r["year"]) for r in reasons] == [("budget_short_of_target", XIHU, 2020)]
    r = reasons[0]
    assert (r["reachable"], r["required"], r["task"], r["reachable_pct"], r["target_pct"]) == ("2", "3", "10", "20", "30")
    assert r["message"] == "西湖区 2020 budget reaches 20% of estates, target 30%"
    assert reason_message(r, lang="zh") == "西湖区 2020年预算最多可完成小区的20%，目标30%"
    res = optimise(inst)
    assert not res.feasible and res.status == "infeasible" and res.bound is None
    assert [(x["code"], x["year"]) for x in res.reasons] == [("budget_short_of_target", 2020)]
    assert {(v.code, v.year) for v in res.violations} == {("target_missed", 2020)}
    # the best-effort schedule gets as close as the money allows
    assert sum(1 for y in res.schedule.values() if y == 2020) == 2 and len(res.schedule) == 10


def test_budget_short_names_the_cumulative_span_and_the_unit():
    cands = [cand(i, cost=100, households=100 + i) for i in range(4)]  # 406 households
    budgets = {(XIHU, 2020): 200, (XIHU, 2021): 50, (XIHU, 2022): 50}
    inst = Instance(cands, 2020, 2022, budgets=budgets, unit="households", model_rule=None, county_names=NAMES)
    (r,) = precheck(inst)
    assert (r["code"], r["year"], r["required"], r["reachable"]) == ("budget_short_of_target", 2022, "406", "306")
    assert r["message"] == "西湖区 2020-2022 budget reaches 75.3% of households, target 100%"


def test_candidates_short_of_target_and_model_estate_reasons():
    cands = [cand(0, earliest=2022), cand(1, earliest=2022), cand(2, earliest=2022), cand(3)]
    inst = Instance(cands, 2020, 2022, county_names=NAMES, model_rule=ModelRule(1, 1))
    codes = [(r["code"], r["year"] if "year" in r else r["deadline"]) for r in precheck(inst)]
    assert codes == [("candidates_short_of_target", 2020), ("model_estate_unavailable", 2020)]
    assert precheck(inst)[1]["message"] == "西湖区 has 0 candidate(s) that may serve as a model estate by 2020, needs 1"

    pricey = [cand(0, model=True, cost=500)] + [cand(i, cost=10) for i in range(1, 10)]
    inst = Instance(pricey, 2020, 2022, budgets={(XIHU, y): 400 for y in (2020, 2021, 2022)}, county_names=NAMES)
    (r,) = precheck(inst)
    assert (r["code"], r["deadline"], r["budget_wan"], r["cost_wan"]) == ("model_estate_budget_short", 2020, "400", "500")


def test_yearly_budgets_that_cannot_be_pooled_are_found_by_the_solve():
    # cumulative money is enough for all three by 2021 (450), but 2020 pays one and leaves 50 unused
    cands = [cand(i, cost=150) for i in range(3)]
    inst = Instance(cands, 2020, 2021, budgets={(XIHU, 2020): 200, (XIHU, 2021): 250}, model_rule=None,
                    county_names=NAMES)
    assert precheck(inst) == []
    res = optimise(inst)
    assert not res.feasible
    (r,) = res.reasons
    assert (r["code"], r["county"], r["year"], r["stage"], r["reachable"], r["required"]) == (
        "budget_short_of_target", XIHU, 2021, "solve", "2", "3")
    assert r["message"] == "西湖区 2020-2021 budget spent year by year reaches 66.6% of estates, target 100%"
    # with the money carried over the same instance is feasible
    carry = Instance(cands, 2020, 2021, budgets={(XIHU, 2020): 200, (XIHU, 2021): 250}, model_rule=None,
                     carry_over=True)
    assert optimise(carry).feasible


def test_rules_that_conflict_only_together_are_named():
    # 2020's money pays the model estate or two small estates (the 2020 target), not both
    cands = [cand(0, model=True, cost=100), cand(1, cost=50), cand(2, cost=50), cand(3, cost=50), cand(4, cost=50)]
    budgets = {(XIHU, 2020): 100, (XIHU, 2021): 400, (XIHU, 2022): 400}
    inst = Instance(cands, 2020, 2022, budgets=budgets, county_names=NAMES, model_rule=ModelRule(1, 1))
    assert precheck(inst) == []
    res = optimise(inst)
    assert not res.feasible
    (r,) = res.reasons
    assert r["code"] == "constraints_conflict" and r["county"] == XIHU and r["year"] == 2020
    assert [x["kind"] for x in r["rules"]] == ["target", "model"] and r["rules"][0]["year"] == 2020
    assert r["message"] == ("西湖区: the budget cannot meet the 2020 target (30% of estates) and 1 model estate(s) "
                            "by 2020 together")


def test_one_infeasible_county_does_not_hide_the_others():
    ok = [cand(i, county=HAISHU, cost=10, model=(i == 0)) for i in range(5)]
    short = [cand(10 + i, cost=100, model=(i == 0)) for i in range(10)]
    budgets = {(XIHU, 2020): 250, (XIHU, 2021): 600, (XIHU, 2022): 600}
    budgets |= {(HAISHU, y): 100 for y in (2020, 2021, 2022)}
    res = optimise(Instance(ok + short, 2020, 2022, budgets=budgets, county_names=NAMES))
    assert {r["county"] for r in res.reasons} == {XIHU}
    rows = {c["county"]: c for c in res.counties}
    assert rows[HAISHU]["status"] == "optimal" and rows[XIHU]["status"] == "infeasible"
    assert all(t["met"] for t in rows[HAISHU]["targets"])
    missed = [t for t in rows[XIHU]["targets"] if not t["met"]]
    assert [(t["year"], t["shortfall"]) for t in missed] == [(2020, "1")]


# ----------------------------------------------------------------------------------------------
# budget file and JSON


def test_parse_budget_csv():
    text = "\ufeffcounty,year,budget_wan,note\n330106,2020,1200.5,西湖\n330106,2021,0,\n\n330203, 2020 ,30000,\n"
    assert parse_budget_csv(text) == {(XIHU, 2020): Decimal("1200.5"), (XIHU, 2021): Decimal("0"),
                                      (HAISHU, 2020): Decimal("30000")}


def test_parse_budget_csv_errors_name_row_and_column():
    text = ("county,year,budget_wan\n3301,2020,10\n330106,20x0,10\n330106,2020,-5\n330106,2020,abc\n"
            "330106,2021,10\n330106,2021,20\n330106,2030,1\n330106,2022,1.00001\n")
    with pytest.raises(BudgetFileError) as exc:
        parse_budget_csv(text, period=(2020, 2022))
    got = [(e["row"], e["column"], e["code"]) for e in exc.value.errors]
    assert got == [(2, "county", "bad_county"), (3, "year", "bad_year"), (4, "budget_wan", "negative_amount"),
                   (5, "budget_wan", "bad_amount"), (7, "county", "duplicate"), (8, "year", "year_outside_period"),
                   (9, "budget_wan", "too_precise")]
    with pytest.raises(BudgetFileError) as exc:
        parse_budget_csv("county,budget\n330106,1\n")
    assert [(e["row"], e["column"], e["code"]) for e in exc.value.errors] == [
        (1, "year", "missing_column"), (1, "budget_wan", "missing_column")]
    with pytest.raises(BudgetFileError) as exc:
        parse_budget_csv("county,year,budget_wan\n330999,2020,1\n", counties={XIHU})
    assert exc.value.errors[0]["code"] == "unknown_county"


def test_parse_budget_csv_reads_chinese_headers_and_county_names():
    """Headers as counties write them (县（市、区）,年度,预算（万元）; 区县, 县区代码, 年份, 预算, 预算(万元), with stray
    spaces or full-width brackets) are the same columns; a county by name goes through `county_named`."""
    expected = {(XIHU, 2020): Decimal("1200.5"), (XIHU, 2021): Decimal("30")}
    for header in ("县（市、区）,年度,预算（万元）", "区县,年份,预算", " 县区代码 , 年度 ,预算(万元) ", "县（市、区）,年度,预算 （万元）",
                   "ＣＯＵＮＴＹ,Year,预算（ 万元 ）"):
        assert parse_budget_csv(f"{header}\n330106,2020,1200.5\n330106,2021,30\n") == expected, header

    def named(text):
        if text in ("西湖区", "杭州市西湖区"):
            return XIHU
        raise ValueError("no county of this name")

    text = "区县,年度,预算\n西湖区,2020,1200.5\n杭州市西湖区,2021,30\n"
    assert parse_budget_csv(text, county_named=named, counties={XIHU}) == expected
    with pytest.raises(BudgetFileError) as exc:
        parse_budget_csv("区县,年度,预算\n西胡区,2020,1\n3301,2020,1\n", county_named=named)
    assert [(e["row"], e["column"], e["code"]) for e in exc.value.errors] == [
        (2, "county", "unknown_county_name"), (3, "county", "bad_county")]
    assert exc.value.errors[0]["params"] == {"value": "西胡区", "reason": "no county of this name"}
    with pytest.raises(BudgetFileError) as exc:  # without a resolver a name is not a code
        parse_budget_csv("区县,年度,预算\n西湖区,2020,1\n")
    assert exc.value.errors[0]["code"] == "bad_county"


def test_json_result_has_the_cli_fields(tmp_path):
    path = tmp_path / "budgets.csv"
    path.write_text("county,year,budget_wan\n330106,2020,400\n330106,2021,400\n330106,2022,400\n", encoding="utf-8")
    budgets = parse_budget_csv(path)
    cands = [cand(i, cost=90, model=(i == 0), priority=10 * i) for i in range(10)]
    res = optimise(Instance(cands, 2020, 2022, budgets=budgets, county_names=NAMES))
    data = json.loads(json.dumps(res.to_json()))
    for key in ("objective", "bound", "gap", "greedy_objective", "feasible", "reasons", "schedule", "lp_bound",
                "counties", "status"):
        assert key in data
    assert data["feasible"] is True and len(data["schedule"]) == 10
    assert {"id", "county", "year", "model"} <= set(data["schedule"][0])
    assert data["objective"] <= data["bound"] <= data["lp_bound"]
    assert sum(1 for s in data["schedule"] if s["model"]) == 1
