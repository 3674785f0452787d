"""Every plans route × every role × (own region, a sibling, the parent): allowed or denied.

The kinds are rows of ROUTE_KINDS in tests/test_permission_matrix.py (which also sends anonymous users to
sign in); the checks per kind are here. A plans route without a check here fails
`test_every_plans_route_is_checked`.
"""

import datetime

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role
from gaizao.core.models import Job
from gaizao.plans import services
from gaizao.plans.models import (
    ActionPlan,
    PlanBudget,
    PlanItem,
    PlanPeriod,
    PlanStatus,
    ProgressReport,
    TargetRule,
)
from gaizao.regions.models import Region, RegionLevel

from ..conftest import ROLE_PLACES, make_user
from ..conftest import api_client_for as api
from ..conftest import page_client as page
from ..test_permission_matrix import ROUTE_KINDS, targets_for
from .conftest import pool_estate

ROLES = list(Role.values)
PLAN_VIEWERS = {Role.PROVINCE_ADMIN, Role.CITY_OFFICIAL, Role.COUNTY_OFFICIAL, Role.DEPARTMENT_REVIEWER}
REGION_ROLES = {Role.PROVINCE_ADMIN, Role.CITY_OFFICIAL, Role.COUNTY_OFFICIAL, Role.STREET_OFFICIAL,
                Role.COMMUNITY_WORKER, Role.DEPARTMENT_REVIEWER}
# the county whose plan stands for each (role, relation): inside the place for "own", outside it otherwise
TARGET_COUNTY = {
    (Role.PROVINCE_ADMIN, "own"): "330106",
    (Role.CITY_OFFICIAL, "own"): "330106", (Role.CITY_OFFICIAL, "sibling"): "330203",
    (Role.CITY_OFFICIAL, "parent"): "330302",
    (Role.COUNTY_OFFICIAL, "own"): "330106", (Role.COUNTY_OFFICIAL, "sibling"): "330105",
    (Role.COUNTY_OFFICIAL, "parent"): "330102",
    (Role.DEPARTMENT_REVIEWER, "own"): "330106", (Role.DEPARTMENT_REVIEWER, "sibling"): "330105",
    (Role.DEPARTMENT_REVIEWER, "parent"): "330102",
}
PLAN_COUNTIES = ("330106", "330105", "330102", "330203", "330302")

# the kinds checked here
PLAN_KINDS = {
    "plans_list_page", "plans_region_page", "plans_region_post", "plans_county_post", "plan_object_page",
    "plan_object_post", "report_object_page", "report_object_post", "plan_estate_page", "plan_list_api",
    "plan_object_api", "plan_object_api_post", "plans_region_api", "report_list_api",
}


def target_county(role, relation) -> str:
    return TARGET_COUNTY.get((role, relation), "330106")


def sees_plan(role, relation) -> bool:
    return role in PLAN_VIEWERS and relation == "own"


def sees_region(role, relation) -> bool:
    """Region pages (dashboards, roll-ups, rules, budgets, export) take the province, a city or a county."""
    return role in PLAN_VIEWERS and relation == "own"


def may(role, relation, *roles) -> bool:
    return relation == "own" and role in roles


def estate_in(place: str, own: str | None):
    """A pool estate on a street or community inside `place` but outside `own` (when they differ)."""
    region = Region.objects.get(code=place)
    if region.level in (RegionLevel.STREET, RegionLevel.COMMUNITY) and (own is None or place == own
                                                                         or not place.startswith(own)):
        spot = region
    else:
        streets = Region.objects.filter(code__startswith=place, level=RegionLevel.STREET).order_by("code")
        spot = next(s for s in streets if own is None or place == own or not s.code.startswith(own))
    estate = pool_estate(spot.code[:6])
    estate.region = spot
    estate.save(update_fields=["region"])
    return estate


@pytest.fixture
def world(zhejiang):
    period = services.period_default()
    PlanPeriod.objects.get_or_create(start_year=2023, end_year=2025, defaults={"name": "2023-2025"})
    users = {role: make_user(role) for role in ROLES}
    plans, reports = {}, {}
    for code in PLAN_COUNTIES:
        county = Region.objects.get(code=code)
        plan = services.plan_create(actor=None, county=county, period=period)
        for year in (2020, 2021):
            services.plan_item_add(actor=None, plan=plan, estate=pool_estate(code), year=year)
        plans[code] = plan
        reports[code] = services.progress_report_open(actor=None, county=county, month="2020-04")
    return {"users": users, "plans": plans, "reports": reports, "period": period}


def _fresh(plan, status=PlanStatus.DRAFT):
    ActionPlan.objects.filter(pk=plan.pk).update(status=status)
    ActionPlan.objects.filter(previous=plan).delete()
    plan.refresh_from_db()
    return plan


def check_plan_routes(world, role, relation, failures):
    user = world["users"][role]
    code = target_county(role, relation)
    plan = _fresh(world["plans"][code])
    view = sees_plan(role, relation)
    deny = (403, 404)

    def expect(what, got_allowed, want):
        if got_allowed != want:
            failures.append(f"{what} {relation} {code}: allowed={got_allowed}, expected {want}")

    # pages that show one plan
    for name in ("plans:detail", "plans:optimise"):
        status = page(user).get(reverse(name, args=[plan.pk])).status_code
        expect(name, status == 200, view)
        if status != 200 and status not in deny:
            failures.append(f"{name}: status {status}")
    # the plans list shows it or not
    listing = page(user).get(reverse("plans:list")).content.decode()
    expect("plans:list", f'href="{reverse("plans:detail", args=[plan.pk])}"' in listing, view)

    # edits: only the county, on its own draft
    edit = may(role, relation, Role.COUNTY_OFFICIAL)
    estate = pool_estate(code)
    before = plan.items.count()
    r = page(user).post(reverse("plans:items", args=[plan.pk]), {"estate": estate.code, "year": "2022"})
    expect("plans:items", plan.items.count() == before + 1, edit)
    if not edit and r.status_code not in deny:
        failures.append(f"plans:items {relation}: status {r.status_code}")
    item = plan.items.order_by("id").first()
    page(user).post(reverse("plans:item", args=[plan.pk, item.pk]), {"year": "2022"})
    expect("plans:item", PlanItem.objects.get(pk=item.pk).year == 2022, edit)
    PlanItem.objects.filter(pk=item.pk).update(estimated_investment_wan=1)
    page(user).post(reverse("plans:reestimate", args=[plan.pk]))
    expect("plans:reestimate", PlanItem.objects.get(pk=item.pk).estimated_investment_wan != 1, edit)
    second = plan.items.order_by("id")[1]
    run = services.optimisation_run_save(actor=None, region=plan.county, period=plan.period, params={}, result={
        "schedule": [{"id": second.subject_key, "county": code, "year": 2022, "model": False}],
        "candidate_ids": {code: [second.subject_key]}})
    page(user).post(reverse("plans:adopt", args=[plan.pk]), {"run": run.pk, "all": "1"})
    expect("plans:adopt", PlanItem.objects.get(pk=second.pk).year == 2022, edit)

    # workflow steps: each by its own role
    for step, source, role_needed in (("submit", PlanStatus.DRAFT, Role.COUNTY_OFFICIAL),
                                      ("city_approve", PlanStatus.SUBMITTED, Role.CITY_OFFICIAL),
                                      ("approve", PlanStatus.CITY_APPROVED, Role.PROVINCE_ADMIN)):
        plan = _fresh(plan, source)
        r = page(user).post(reverse("plans:step", args=[plan.pk]), {"step": step})
        plan.refresh_from_db()
        expect(f"plans:step {step}", plan.status != source, may(role, relation, role_needed))
        plan = _fresh(plan, source)
        r = api(user).post(reverse("api:plan-transitions", args=[plan.pk]), {"step": step}, format="json")
        plan.refresh_from_db()
        expect(f"api:plan-transitions {step}", plan.status != source, may(role, relation, role_needed))
        if plan.status == source and r.status_code not in (400, 403, 404, 409):
            failures.append(f"api:plan-transitions {step}: status {r.status_code}")
    plan = _fresh(plan, PlanStatus.APPROVED)
    page(user).post(reverse("plans:adjust", args=[plan.pk]), {"reason": "调整"})
    expect("plans:adjust", ActionPlan.objects.filter(previous=plan).exists(), edit)
    plan = _fresh(plan)

    # API views of the plan
    status = api(user).get(reverse("api:plan-detail", args=[plan.pk])).status_code
    expect("api:plan-detail", status == 200, view)
    status = api(user).get(reverse("api:plan-transitions", args=[plan.pk])).status_code
    expect("api:plan-transitions", status == 200, view)
    listed = api(user).get(reverse("api:plan-list"), {"page_size": 500}).json()
    expect("api:plan-list", any(p["id"] == plan.pk for p in listed["results"]), view)

    # a new plan for another period, and monthly reports
    later = PlanPeriod.objects.get(start_year=2023)
    page(user).post(reverse("plans:create"), {"county": code, "period": "2023-2025"})
    expect("plans:create", ActionPlan.objects.filter(county__code=code, period=later).exists(), edit)
    ActionPlan.objects.filter(county__code=code, period=later).delete()
    page(user).post(reverse("progress:open"), {"county": code, "month": "2020-05"})
    opened = ProgressReport.objects.filter(county__code=code, month=datetime.date(2020, 5, 1))
    expect("progress:open", opened.exists(), edit)
    opened.delete()
    report = world["reports"][code]
    status = page(user).get(reverse("progress:detail", args=[report.pk])).status_code
    expect("progress:detail", status == 200, view)
    listed = api(user).get(reverse("api:progress-list"), {"page_size": 500}).json()
    expect("api:progress-list", any(r["id"] == report.pk for r in listed["results"]), view)
    page(user).post(reverse("progress:submit", args=[report.pk]))
    report.refresh_from_db()
    expect("progress:submit", report.is_locked, edit)
    ProgressReport.objects.filter(pk=report.pk).update(status="draft")


def region_target(role, relation) -> str:
    own, sibling, parent = ROLE_PLACES[role]
    return {"own": own, "sibling": sibling, "parent": parent}[relation] or "330106004053"


def check_region_routes(world, role, relation, failures):
    user = world["users"][role]
    code = region_target(role, relation)
    view = sees_region(role, relation)

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what} {relation} {code}: allowed={got}, expected {want}")

    for name in ("plans:rollup", "plans:rules", "plans:budgets", "plans:region-optimise", "plans:export",
                 "progress:list", "dashboard:region", "dashboard:map"):
        r = page(user).get(reverse(name), {"region": code})
        expect(name, r.status_code == 200, view)
        if r.status_code != 200 and r.status_code not in (400, 403, 404):
            failures.append(f"{name}: status {r.status_code}")
    for name in ("api:target-list", "api:progress-rollup", "api:dashboard"):
        r = api(user).get(reverse(name), {"region": code})
        expect(name, r.status_code == 200, view)
        if r.status_code != 200 and r.json().get("code") not in ("not_found", "region_level_mismatch"):
            failures.append(f"{name}: {r.status_code} {r.json()}")
    # budgets: the county, its city or the province; targets: the province only
    county = target_county(role, relation)
    page(user).post(reverse("plans:budgets"), {"region": code, "county": county, "period": "2020-2022",
                                               "budget_2020": "1234"})
    expect("plans:budgets post", PlanBudget.objects.filter(county__code=county, year=2020).exists(),
           may(role, relation, Role.COUNTY_OFFICIAL, Role.CITY_OFFICIAL, Role.PROVINCE_ADMIN))
    PlanBudget.objects.filter(county__code=county).delete()
    page(user).post(reverse("plans:rules"), {"region": county, "what": "targets", "measure": "households",
                                             "milestone_year": ["1", "-1"], "milestone_share": ["30", "100"],
                                             "model_estates_min": "1", "report_due_day": "5"})
    expect("plans:rules post", TargetRule.objects.filter(region__code=county).exists(),
           may(role, relation, Role.PROVINCE_ADMIN))
    TargetRule.objects.filter(region__code=county).delete()
    jobs = Job.objects.filter(kind="plans.optimise").count()
    page(user).post(reverse("plans:region-optimise"), {"region": code, "period": "2020-2022"})
    expect("plans:region-optimise post", Job.objects.filter(kind="plans.optimise").count() > jobs,
           may(role, relation, Role.COUNTY_OFFICIAL, Role.CITY_OFFICIAL, Role.PROVINCE_ADMIN))
    # one estate's progress page: anyone whose regions hold the estate
    own = ROLE_PLACES[role][0]
    estate = estate_in(code if len(code) > 2 else target_county(role, relation), own if relation != "own" else None)
    r = page(user).get(reverse("dashboard:estate", args=[estate.pk]))
    expect("dashboard:estate", r.status_code == 200, role in REGION_ROLES and relation == "own")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_plans_routes(world, role):
    failures = []
    for relation in targets_for(role):
        check_plan_routes(world, role, relation, failures)
        check_region_routes(world, role, relation, failures)
    assert failures == []


CHECKED = {
    "plans:list", "plans:create", "plans:rollup", "plans:rules", "plans:budgets", "plans:region-optimise",
    "plans:export", "plans:detail", "plans:items", "plans:item", "plans:step", "plans:adjust", "plans:reestimate",
    "plans:optimise", "plans:adopt", "progress:list", "progress:open", "progress:detail", "progress:submit",
    "dashboard:region", "dashboard:map", "dashboard:estate", "api:plan-list", "api:plan-detail",
    "api:plan-transitions", "api:target-list", "api:progress-list", "api:progress-rollup", "api:dashboard",
}


def test_every_plans_route_is_checked():
    ours = {name for name, kind in ROUTE_KINDS.items() if kind in PLAN_KINDS}
    assert ours == CHECKED
    from ..test_permission_matrix import named_routes

    prefixes = ("plans:", "progress:", "dashboard:", "api:plan-", "api:target-", "api:progress-", "api:dashboard")
    assert {n for n in named_routes() if n.startswith(prefixes)} == CHECKED
