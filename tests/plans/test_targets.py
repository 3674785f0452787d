"""Target arithmetic: each unit, rounding up in exact arithmetic, year boundaries, other periods, model estates,
and agreement with the optimiser's independent verifier."""

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from gaizao.core.errors import ServiceError
from gaizao.plans import optimiser, selectors, services
from gaizao.plans.models import TargetMeasure
from gaizao.plans.targets import Milestone, Targets, parse_milestones, required, share_checks, to_units
from gaizao.regions.models import Region

from .conftest import pool_estate


@pytest.mark.parametrize(("share", "task", "need"), [
    (Fraction(3, 10), 7, 3),      # 2.1 -> 3: "at least the share"
    (Fraction(3, 10), 10, 3),     # exactly 3
    (Fraction(3, 10), 0, 0),
    (Fraction(3, 10), 1, 1),
    (Fraction(1), 7, 7),
    (Fraction(1, 3), 9, 3),       # a third of 9 is 3, never 3.0000001 -> 4
    (Fraction(1, 3), 10, 4),
    (Fraction(0), 10, 0),
])
def test_required_rounds_up_exactly(share, task, need):
    assert required(share, task) == need


def test_float_shares_are_not_trusted():
    # 0.3 as text is exactly 3/10; a float share is parsed through its shortest repr, not its binary value
    assert optimiser.parse_share("30%") == Fraction(3, 10)
    assert optimiser.parse_share(0.3) == Fraction(3, 10)
    with pytest.raises(ValueError):
        optimiser.parse_share("30")  # 30 without % would be 3000%: refused, never silently capped


def test_floor_area_units_are_hundredths_of_a_square_metre():
    units = to_units(Decimal("1000.55"), TargetMeasure.FLOOR_AREA)
    assert units == 100055
    # 30% of 1000.55 m² = 300.165 m² -> at least 300.17 m²
    assert required(Fraction(3, 10), units) == 30017


def test_default_milestones_in_the_seed_period():
    t = Targets()
    assert t.by_year(2020, 2022) == {2020: Fraction(3, 10), 2022: Fraction(1)}


@pytest.mark.parametrize(("start", "end", "expected"), [
    (2021, 2025, {2021: Fraction(3, 10), 2025: Fraction(1)}),
    (2020, 2021, {2020: Fraction(3, 10), 2021: Fraction(1)}),
    (2023, 2023, {2023: Fraction(1)}),  # both milestones on the one year: the larger share
])
def test_milestones_in_other_periods(start, end, expected):
    assert Targets().by_year(start, end) == expected


def test_milestone_beyond_a_short_period_is_checked_at_its_last_year():
    t = Targets(milestones=(Milestone(1, Fraction(3, 10)), Milestone(3, Fraction(1))))
    assert t.by_year(2020, 2021) == {2020: Fraction(3, 10), 2021: Fraction(1)}
    assert t.by_year(2020, 2024) == {2020: Fraction(3, 10), 2022: Fraction(1)}


def test_year_boundaries_of_share_checks():
    t = Targets()
    # 10 estates: 2020 needs 3. Planned 2 in 2020 and 8 in 2021: 2020 misses by 1, 2022 is met.
    checks = share_checks(t, 2020, 2022, 10, {2020: 2, 2021: 8})
    assert [(c.year, c.required, c.planned, c.meets, c.shortfall) for c in checks] == [
        (2020, 3, 2, False, 1), (2022, 10, 10, True, 0)]
    # the third estate planned on 31 December 2020 counts for 2020
    checks = share_checks(t, 2020, 2022, 10, {2020: 3, 2021: 7})
    assert checks[0].meets


@pytest.mark.parametrize("bad", [[], [{"year": 0, "share": "30"}], [{"year": 1, "share": "130"}],
                                 [{"year": "x", "share": "30"}], [{"year": 1, "share": "abc"}], ["30"], "30"])
def test_bad_milestones_are_refused(bad):
    with pytest.raises(ValueError):
        parse_milestones(bad)


@pytest.mark.django_db
def test_target_rule_validation_through_the_service(people, xihu):
    with pytest.raises(ServiceError) as err:
        services.target_rule_save(actor=people["province"], region=xihu, measure="metres")
    assert err.value.code == "plan_rules_invalid"
    with pytest.raises(ServiceError) as err:
        services.target_rule_save(actor=people["province"], region=xihu, milestones=[{"year": 1, "share": "101"}])
    assert "milestones" in err.value.fields
    with pytest.raises(ServiceError) as err:
        services.target_rule_save(actor=people["county"], region=xihu)
    assert err.value.code == "permission_denied"
    with pytest.raises(ServiceError) as err:
        services.target_rule_save(actor=people["province"], region=Region.objects.get(code="3301"))
    assert err.value.code == "rules_region_invalid"


def _plan_with(people, county, period, estates_by_year):
    plan = services.plan_create(actor=people["county"], county=county, period=period)
    for year, estates in estates_by_year.items():
        for e in estates:
            services.plan_item_add(actor=people["county"], plan=plan, estate=e, year=year)
    return plan


@pytest.mark.django_db
def test_estates_measure_against_the_pool(people, xihu, period):
    pool = [pool_estate("330106") for _ in range(7)]
    plan = _plan_with(people, xihu, period, {2020: pool[:2], 2021: pool[2:5]})
    checks = {c.year: c for c in selectors.plan_checks(plan).checks if c.kind == "share"}
    # the task is the pool (7 estates): 2020 needs 3, has 2; 2022 needs 7, has 5
    assert (checks[2020].required, checks[2020].planned, checks[2020].shortfall) == (3, 2, 1)
    assert (checks[2022].required, checks[2022].planned, checks[2022].shortfall) == (7, 5, 2)
    assert not checks[2020].meets and not checks[2022].meets


@pytest.mark.django_db
def test_households_measure_with_a_county_override(people, xihu, period):
    services.target_rule_save(actor=people["province"], region=xihu, measure=TargetMeasure.HOUSEHOLDS,
                              milestones=[{"year": 1, "share": "30"}, {"year": -1, "share": "100"}])
    small, big = pool_estate("330106", households=100), pool_estate("330106", households=233)
    plan = _plan_with(people, xihu, period, {2020: [small], 2022: [big]})
    checks = {c.year: c for c in selectors.plan_checks(plan).checks if c.kind == "share"}
    # 30% of 333 households = 99.9 -> 100: the small estate alone meets it
    assert checks[2020].measure == "households"
    assert (checks[2020].required, checks[2020].planned, checks[2020].meets) == (100, 100, True)
    assert (checks[2022].required, checks[2022].planned) == (333, 333)


@pytest.mark.django_db
def test_floor_area_measure_estimates_a_missing_area(people, xihu, period):
    services.target_rule_save(actor=people["province"], region=xihu, measure=TargetMeasure.FLOOR_AREA)
    known = pool_estate("330106", floor_area="1000.55")
    unknown = pool_estate("330106", households=10, floor_area=None)  # 10 × 80 m² = 800 m²
    plan = _plan_with(people, xihu, period, {2020: [known], 2021: [unknown]})
    checks = {c.year: c for c in selectors.plan_checks(plan).checks if c.kind == "share"}
    assert checks[2020].task == Decimal("1800.55")
    assert checks[2020].required == Decimal("540.17")  # 540.165 rounded up to the hundredth
    assert checks[2020].planned == Decimal("1000.55") and checks[2020].meets


@pytest.mark.django_db
def test_an_explicit_task_replaces_the_pool(people, xihu, period):
    services.target_rule_save(actor=people["province"], region=xihu, task="10")
    estates = [pool_estate("330106") for _ in range(3)]
    plan = _plan_with(people, xihu, period, {2020: estates})
    checks = {c.year: c for c in selectors.plan_checks(plan).checks if c.kind == "share"}
    assert (checks[2020].task, checks[2020].required, checks[2020].meets) == (10, 3, True)
    assert (checks[2022].required, checks[2022].shortfall) == (10, 7)


@pytest.mark.django_db
def test_plan_items_must_finish_in_their_year(people, xihu, period):
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    e = pool_estate("330106")
    item = services.plan_item_add(actor=people["county"], plan=plan, estate=e, planned_finish="2020-12-31")
    assert item.year == 2020
    services.plan_item_update(actor=people["county"], item=item, changes={"planned_finish": "2021-01-01", "year": 2021})
    item.refresh_from_db()
    assert item.year == 2021
    with pytest.raises(ServiceError) as err:
        services.plan_item_update(actor=people["county"], item=item, changes={"planned_finish": "2022-03-01"})
    assert err.value.code == "plan_item_invalid" and "planned_finish" in err.value.fields
    with pytest.raises(ServiceError):
        services.plan_item_add(actor=people["county"], plan=plan, estate=pool_estate("330106"), year=2023)
    late = pool_estate("330106", pool_year=2022)
    with pytest.raises(ServiceError) as err:
        services.plan_item_add(actor=people["county"], plan=plan, estate=late, year=2021)
    assert "year" in err.value.fields and "2022" in err.value.message


@pytest.mark.django_db
def test_a_period_other_than_2020_2022(people, xihu):
    later = services.period_create(actor=people["province"], start_year=2023, end_year=2025)
    estates = [pool_estate("330106", pool_year=2023) for _ in range(4)]
    plan = _plan_with(people, xihu, later, {2023: estates[:1], 2025: estates[1:]})
    checks = {c.year: c for c in selectors.plan_checks(plan).checks if c.kind == "share"}
    assert set(checks) == {2023, 2025}
    # 30% of 4 = 1.2 -> 2 needed by the end of 2023
    assert (checks[2023].required, checks[2023].planned, checks[2023].shortfall) == (2, 1, 1)
    assert checks[2025].meets
    with pytest.raises(ServiceError):
        services.period_create(actor=people["county"], start_year=2026, end_year=2028)
    with pytest.raises(ServiceError):
        services.period_create(actor=people["province"], start_year=2026, end_year=2024)


@pytest.mark.django_db
def test_model_estate_rule(people, xihu, period):
    e1, e2 = pool_estate("330106"), pool_estate("330106")
    plan = _plan_with(people, xihu, period, {2020: [e1, e2]})
    model = [c for c in selectors.plan_checks(plan).checks if c.kind == "model"][0]
    # the seed's deadline (end of 2019) lies before the period: only built model estates count
    assert (model.required, model.planned, model.meets) == (1, 0, False) and model.note
    services.model_estate_register(actor=people["county"], estate=e1, completed_on="2019-12-20")
    model = [c for c in selectors.plan_checks(plan).checks if c.kind == "model"][0]
    assert model.meets and model.extra["existing"] == 1
    # a deadline inside the period: a planned model estate counts too
    services.target_rule_save(actor=people["province"], region=xihu, model_estates_min=2,
                              model_estate_deadline=datetime.date(2020, 12, 31))
    item = plan.items.get(estate=e2)
    services.plan_item_update(actor=people["county"], item=item, changes={"is_model": True})
    model = [c for c in selectors.plan_checks(plan).checks if c.kind == "model"][0]
    assert (model.required, model.planned, model.meets) == (2, 2, True)


@pytest.mark.django_db
def test_plan_checks_agree_with_the_optimisers_verifier(people, xihu, period):
    """Our page's checks and the optimiser's independent verifier reach the same verdict on a plan."""
    estates = [pool_estate("330106", households=100 + 17 * i) for i in range(9)]
    plan = _plan_with(people, xihu, period, {2020: estates[:2], 2021: estates[2:6], 2022: estates[6:8]})
    services.model_estate_register(actor=people["county"], estate=estates[0], completed_on="2019-11-01")
    for measure in TargetMeasure.values:
        services.target_rule_save(actor=people["province"], region=xihu, measure=measure)
        groups, _info = selectors.optimiser_instances(xihu, period)
        instance = groups[0].instance
        schedule = {i.subject_key: i.year for i in plan.items.all()}
        missed = {(v.county, v.year) for v in optimiser.verify_schedule(instance, schedule)
                  if v.code == "target_missed"}
        ours = {("330106", c.year) for c in selectors.plan_checks(plan).checks if c.kind == "share" and not c.meets}
        assert ours == missed, measure
