"""Real Chromium: a county submits its plan, the city returns it with a comment, the county fixes it, the
city and the province approve, and the province's dashboard shows it."""

import pytest

from gaizao.accounts.scoping import Role
from gaizao.plans import services
from gaizao.plans.models import ActionPlan, PlanStatus
from gaizao.plans.workflow import STEPS_BY_NAME
from gaizao.regions.models import Region

from ..conftest import BROWSER_ARGS, PASSWORD, make_user, sign_in_through_the_page  # noqa: F401
from .conftest import pool_estate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "2020年计划改造小区不足三年任务的30%，请补充"


def as_user(browser, base_url, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    sign_in_through_the_page(page, base_url, username, PASSWORD)
    return context, page


def take_step(page, step, comment=None):
    if comment is not None:
        page.fill(f"[data-testid=comment-{step}]", comment)
    page.click(f"[data-testid=step-{step}]")
    page.wait_for_load_state()


def test_plan_from_county_draft_to_province_dashboard(live_server, browser, zhejiang):
    make_user(Role.COUNTY_OFFICIAL, "b-xihu", "330106")
    make_user(Role.CITY_OFFICIAL, "b-hangzhou", "3301")
    make_user(Role.PROVINCE_ADMIN, "b-admin", "33")
    xihu = Region.objects.get(code="330106")
    period = services.period_default()
    pool = [pool_estate("330106", name=f"浏览器测试小区{i}") for i in range(7)]
    plan = services.plan_create(actor=None, county=xihu, period=period)
    # the county's first draft: only 2 of 7 estates in 2020 (the target needs 3)
    for estate, year in zip(pool[:6], (2020, 2020, 2021, 2021, 2022, 2022), strict=True):
        services.plan_item_add(actor=None, plan=plan, estate=estate, year=year)
    url = f"{live_server.url}/plans/{plan.pk}/"

    county_ctx, county = as_user(browser, live_server.url, "b-xihu")
    county.goto(url)
    assert "✘" in county.locator("[data-testid=target-checks]").inner_text()
    take_step(county, "submit")
    assert county.locator("[data-testid=plan-status]").get_attribute("class").endswith("status-submitted")

    city_ctx, city = as_user(browser, live_server.url, "b-hangzhou")
    city.goto(url)
    # the city sees the plan but cannot edit it
    assert city.locator("[data-testid=add-item]").count() == 0
    take_step(city, "return", COMMENT)
    assert city.locator("[data-testid=plan-status]").get_attribute("class").endswith("status-returned")

    county.goto(url)
    assert COMMENT in county.locator("[data-testid=return-comment]").inner_text()
    # the fix: the seventh pool estate into 2020
    county.fill("[data-testid=add-estate]", pool[6].code)
    county.fill("[data-testid=add-year]", "2020")
    county.click("[data-testid=add-submit]")
    county.wait_for_load_state()
    assert pool[6].name in county.locator("[data-testid=plan-items]").inner_text()
    assert "✘" not in county.locator("[data-testid=target-checks]").inner_text().split("\n")[1]
    take_step(county, "submit")

    city.goto(url)
    take_step(city, "city_approve")
    assert city.locator("[data-testid=plan-status]").get_attribute("class").endswith("status-city_approved")

    province_ctx, province = as_user(browser, live_server.url, "b-admin")
    province.goto(url)
    take_step(province, "approve")
    assert province.locator("[data-testid=plan-status]").get_attribute("class").endswith("status-approved")
    assert ActionPlan.objects.get(pk=plan.pk).status == PlanStatus.APPROVED

    # the province's dashboard shows the approved plan, and drills down to it
    province.goto(f"{live_server.url}/dashboard/")
    assert province.locator("[data-testid=fig-plans]").inner_text().startswith("1 /")
    assert province.locator("[data-testid=fig-plan-estates]").inner_text() == "7"
    assert province.locator("[data-testid=status-3301]").get_attribute("class").endswith("status-approved")
    province.wait_for_selector("#chart-years canvas")
    province.wait_for_selector("#chart-map canvas")
    province.click("[data-testid=plans-by-region] >> text=杭州市")
    province.wait_for_load_state()
    link = province.locator("[data-testid=plan-link-330106]")
    assert link.is_visible()
    link.click()
    province.wait_for_load_state()
    assert province.url == url
    events = province.locator("[data-testid=plan-events]").inner_text()
    assert COMMENT in events and events.count(str(STEPS_BY_NAME["submit"].label)) == 2
    for ctx in (county_ctx, city_ctx, province_ctx):
        ctx.close()
