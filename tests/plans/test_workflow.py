"""The plan workflow: who may take which step, comments, versions after approval, the audit trail."""

import pytest

from gaizao.core.audit import history_of
from gaizao.core.errors import ServiceError
from gaizao.core.models import AuditEntry
from gaizao.plans import selectors, services, workflow
from gaizao.plans.models import ActionPlan, PlanEvent, PlanStatus

from .conftest import pool_estate


def step(actor, plan, name, comment=""):
    return services.plan_transition(actor=actor, plan=plan, step=name, comment=comment)


def refused(fn, code):
    with pytest.raises(ServiceError) as err:
        fn()
    assert err.value.code == code, err.value.code
    return err.value


@pytest.mark.django_db
def test_the_whole_path_with_a_return(people, draft_plan):
    county, city, province = people["county"], people["city"], people["province"]
    plan = step(county, draft_plan, "submit")
    assert plan.status == PlanStatus.SUBMITTED and plan.submitted_at
    # the city may not return without saying why
    assert "comment" in refused(lambda: step(city, plan, "return"), "plan_transition_invalid").fields
    plan = step(city, plan, "return", "2020年改造任务不足30%，请补充")
    assert plan.status == PlanStatus.RETURNED
    # the county fixes it (returned plans are editable) and submits again
    services.plan_item_add(actor=county, plan=plan, estate=pool_estate("330106"), year=2020)
    plan = step(county, plan, "submit")
    plan = step(city, plan, "city_approve")
    assert plan.status == PlanStatus.CITY_APPROVED
    plan = step(province, plan, "approve")
    assert plan.status == PlanStatus.APPROVED and plan.approved_at
    assert list(plan.events.values_list("transition", flat=True)) == [
        "create", "submit", "return", "submit", "city_approve", "approve"]
    returned = plan.events.get(transition="return")
    assert returned.comment.startswith("2020年") and returned.actor_name == city.username
    verbs = set(history_of(plan).values_list("verb", flat=True))
    assert {"plans.plan_create", "plans.submit", "plans.return", "plans.city_approve", "plans.approve"} <= verbs
    assert AuditEntry.objects.filter(verb="plans.item_add", region_code="330106").count() == 4


@pytest.mark.django_db
def test_a_county_cannot_approve_its_own_plan(people, draft_plan):
    county = people["county"]
    plan = step(county, draft_plan, "submit")
    for name in ("city_approve", "approve", "return"):
        refused(lambda name=name: step(county, plan, name, "ok"), "permission_denied")
    assert not any(s.role == "county_official" and s.target in (PlanStatus.CITY_APPROVED, PlanStatus.APPROVED)
                   for s in workflow.STEPS)


@pytest.mark.django_db
def test_a_city_cannot_edit_a_countys_draft(people, draft_plan):
    city, province = people["city"], people["province"]
    item = draft_plan.items.first()
    for actor in (city, province):
        refused(lambda actor=actor: services.plan_item_add(actor=actor, plan=draft_plan,
                                                            estate=pool_estate("330106"), year=2020),
                "permission_denied")
        refused(lambda actor=actor: services.plan_item_update(actor=actor, item=item, changes={"year": 2021}),
                "permission_denied")
        refused(lambda actor=actor: services.plan_item_remove(actor=actor, item=item), "permission_denied")
        refused(lambda actor=actor: step(actor, draft_plan, "submit"), "permission_denied")


@pytest.mark.django_db
def test_outsiders_do_not_learn_the_plan_exists(people, draft_plan):
    for who in ("sibling_county", "other_city", "street"):
        refused(lambda who=who: step(people[who], draft_plan, "submit"), "not_found")
        refused(lambda who=who: services.plan_item_add(actor=people[who], plan=draft_plan,
                                                        estate=pool_estate("330106"), year=2020), "not_found")
    # a reviewer sees the county's plan but takes no step
    refused(lambda: step(people["reviewer"], draft_plan, "submit"), "permission_denied")


@pytest.mark.django_db
def test_steps_only_from_their_states(people, draft_plan):
    err = refused(lambda: step(people["city"], draft_plan, "city_approve"), "plan_transition_invalid")
    assert err.status == 409
    refused(lambda: step(people["province"], draft_plan, "approve"), "plan_transition_invalid")
    refused(lambda: step(people["county"], draft_plan, "teleport"), "plan_transition_invalid")


@pytest.mark.django_db
def test_an_empty_plan_is_not_submitted(people, xihu, period):
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    refused(lambda: step(people["county"], plan, "submit"), "plan_transition_invalid")
    refused(lambda: services.plan_create(actor=people["county"], county=xihu, period=period), "plan_exists")


@pytest.mark.django_db
def test_the_province_may_return_a_city_approved_plan(people, draft_plan):
    plan = step(people["county"], draft_plan, "submit")
    plan = step(people["city"], plan, "city_approve")
    plan = step(people["province"], plan, "province_return", "样板小区未落实")
    assert plan.status == PlanStatus.RETURNED and services.can_edit_plan(people["county"], plan)


@pytest.mark.django_db
def test_changes_after_approval_are_a_new_version(people, draft_plan):
    county, city, province = people["county"], people["city"], people["province"]
    for name, who in (("submit", county), ("city_approve", city), ("approve", province)):
        plan = step(who, draft_plan, name)
    refused(lambda: services.plan_item_add(actor=county, plan=plan, estate=pool_estate("330106"), year=2020),
            "plan_not_editable")
    assert "reason" in refused(lambda: services.plan_adjust(actor=county, plan=plan, reason=" "),
                               "plan_transition_invalid").fields
    refused(lambda: services.plan_adjust(actor=city, plan=plan, reason="x"), "permission_denied")
    v2 = services.plan_adjust(actor=county, plan=plan, reason="2021年新增入库小区")
    assert (v2.version, v2.status, v2.previous_id, v2.items.count()) == (2, PlanStatus.DRAFT, plan.pk, 3)
    refused(lambda: services.plan_adjust(actor=county, plan=plan, reason="again"), "plan_exists")
    # v1 stays in force while v2 is being worked on
    assert selectors.plans_in_force([plan.county_id], plan.period)[plan.county_id].pk == plan.pk
    services.plan_item_add(actor=county, plan=v2, estate=pool_estate("330106"), year=2021)
    for name, who in (("submit", county), ("city_approve", city), ("approve", province)):
        v2 = step(who, v2, name)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUPERSEDED
    assert selectors.plans_in_force([plan.county_id], plan.period)[plan.county_id].pk == v2.pk
    assert PlanEvent.objects.filter(plan=v2, transition="adjust", comment="2021年新增入库小区").exists()
    assert ActionPlan.objects.filter(county=plan.county, period=plan.period).count() == 2


@pytest.mark.django_db
def test_estimates_come_from_floor_area_and_unit_costs(people, xihu, period):
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    all_three = pool_estate("330106", households=300, floor_area="24000",
                            classes=("basic", "improvement", "enhancement"))
    item = services.plan_item_add(actor=people["county"], plan=plan, estate=all_three, year=2020)
    # 24,000 m² × (200 + 100 + 40) 元/m² = 816 万元, i.e. ¥27,200 per household
    assert item.estimated_investment_wan == 816
    assert item.content_classes == ["basic", "improvement", "enhancement"]
    services.unit_costs_save(actor=people["county"], region=xihu, basic="250", improvement="100", enhancement="40",
                             area_per_household="80")
    assert services.plan_reestimate(actor=people["county"], plan=plan) == 1
    item.refresh_from_db()
    assert item.estimated_investment_wan == 936
    # a scheme's budget replaces the estimate and is not re-estimated
    services.plan_item_set_scheme_budget(actor=None, item=item, amount_wan="900.5")
    assert services.plan_reestimate(actor=people["county"], plan=plan) == 0
    refused(lambda: services.unit_costs_save(actor=people["city"], region=xihu, basic="1", improvement="1",
                                             enhancement="1", area_per_household="80"), "permission_denied")
