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


def as_user(browser, base_url, username, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
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


def test_phone_pages_fit_the_screen_and_the_item_table_lines_up(live_server, browser, zhejiang, tmp_path):
    """At 390×844 the dashboard does not scroll sideways (its chart cards overflowed) and its charts follow
    their cards; the plan's targets show 结果 on the screen, the note is not squeezed to two characters a
    line; on a desktop each value of the item table sits under its header."""
    make_user(Role.COUNTY_OFFICIAL, "m-xihu", "330106")
    make_user(Role.CITY_OFFICIAL, "m-hangzhou", "3301")
    xihu = Region.objects.get(code="330106")
    plan = services.plan_create(actor=None, county=xihu, period=services.period_default())
    for year in (2020, 2021, 2022):
        services.plan_item_add(actor=None, plan=plan, estate=pool_estate("330106", name=f"手机测试小区{year}"),
                               year=year)
    width = "document.documentElement.scrollWidth"
    for username in ("m-xihu", "m-hangzhou"):
        context, page = as_user(browser, live_server.url, username, 390, 844)
        page.goto(f"{live_server.url}/dashboard/")
        page.wait_for_selector("#chart-years canvas")
        if username == "m-hangzhou":
            page.wait_for_selector("#chart-map canvas")
        page.screenshot(path=str(tmp_path / f"dashboard-{username}.png"), full_page=True)
        assert page.evaluate(width) <= 390, (username, page.evaluate(width))
        for chart in page.locator(".chart").all():
            card = chart.evaluate("e => e.closest('.card').getBoundingClientRect().right")
            assert chart.bounding_box()["x"] + chart.bounding_box()["width"] <= card + 0.5
        context.close()
    context, page = as_user(browser, live_server.url, "m-xihu")
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("#chart-years canvas")
    page.set_viewport_size({"width": 390, "height": 844})  # the charts follow their cards, not only the window
    page.wait_for_function("document.querySelector('#chart-years canvas').getBoundingClientRect().width <= 360")
    assert page.evaluate(width) <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    headers = page.locator("[data-testid=plan-items] thead th")
    row = page.locator("[data-testid=plan-items] tbody tr").first
    for column, control in ((1, "input[name=year]"), (2, "input[name=planned_start]"),
                            (3, "input[name=planned_finish]"), (4, "input[name=content_classes]"),
                            (7, "input[name=is_model]")):
        head, box = headers.nth(column).bounding_box(), row.locator(control).first.bounding_box()
        assert head["x"] - 1 <= box["x"] and box["x"] + box["width"] <= head["x"] + head["width"] + 1, control
    remove = row.locator("button", has_text="移除").bounding_box()
    assert remove["height"] < 60  # one line, not 移 over 除
    assert page.evaluate(width) <= 1280
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "plan.png"), full_page=True)
    assert page.evaluate(width) <= 390
    result = page.locator("[data-testid=check-result]").first
    assert result.is_visible() and result.bounding_box()["x"] + result.bounding_box()["width"] <= 390
    note = page.locator("[data-testid=target-checks] td.what .muted").first
    assert note.bounding_box()["width"] > 200  # not two characters a line
    context.close()


def test_refused_budget_cells_are_named_readably_and_kept(live_server, browser, zhejiang):
    make_user(Role.COUNTY_OFFICIAL, "e-xihu", "330106")
    services.period_default()
    context, page = as_user(browser, live_server.url, "e-xihu")
    page.goto(f"{live_server.url}/plans/budgets/?region=330106&period=2020-2022")
    page.fill("input[name=budget_2020]", "abc")
    page.fill("input[name=budget_2021]", "-5")
    page.click("form#budget-330106 button")
    page.wait_for_load_state()
    assert page.url.endswith("/plans/budgets/?region=330106&period=2020-2022")
    assert page.input_value("input[name=budget_2020]") == "abc" and page.input_value("input[name=budget_2021]") == "-5"
    error = page.locator(".messages li.error", has_text="西湖区 2021 年：“-5”——预算不能为负数。")
    # readable: dark text on a light background (white on pale blue before)
    color = error.evaluate("e => getComputedStyle(e).color")
    assert color != "rgb(255, 255, 255)", color
    context.close()
