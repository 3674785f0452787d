"""Real Chromium: a county official ranks eligible estates, admits one from its page, sees the map."""

import os

import pytest

from gaizao.accounts.demo import DEMO_PASSWORD, demo_users_ensure
from gaizao.estates import services
from gaizao.estates.models import Estate

from ..conftest import sign_in_through_the_page
from .factories import make_estate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_county_official_ranks_admits_and_maps(live_server, page, zhejiang):
    demo_users_ensure()
    make_estate("330106004053", name="文三新村", built_year=1978, housing_type="reformed_public",
                longitude="120.135000", latitude="30.280000")
    make_estate("330106004055", name="学院小区", built_year=1996, housing_type="commodity",
                longitude="120.125000", latitude="30.275000")
    make_estate("330106004055", name="新商品房", built_year=2006, housing_type="commodity")
    make_estate("330105001051", name="拱墅小区", built_year=1980)
    sign_in_through_the_page(page, live_server.url, "xihu", DEMO_PASSWORD)

    page.goto(f"{live_server.url}/estates/?eligibility=eligible&sort=county_rank")
    rows = page.locator("[data-testid=estate-table] tbody tr").all_inner_texts()
    assert len(rows) == 2 and "文三新村" in rows[0] and "学院小区" in rows[1]
    assert "拱墅小区" not in page.content()

    page.click("text=文三新村")
    assert page.locator("[data-testid=eligibility] li").count() >= 2
    page.fill("#pool-panel input[name=year]", "2021")
    page.click("[data-testid=admit]")
    page.locator("#pool-panel .ok").wait_for()
    assert Estate.objects.get(name="文三新村").status == "pooled"
    assert page.locator("#pool-panel [data-testid=readmit]").count() == 0  # the panel was redrawn as pooled
    assert page.locator("#pool-panel [data-testid=admit]").count() == 0

    page.goto(f"{live_server.url}/estates/map/")
    page.wait_for_selector("#estate-map[data-ready=true]", timeout=20_000)
    assert page.locator("#estate-map").get_attribute("data-points") == "3"  # 西湖区 only
    assert page.locator("#estate-map").get_attribute("data-counties") == "89"  # the 2017 county outlines
    assert page.locator("#estate-map canvas").count() >= 1
    # zoomed to the county's estates, not left on the whole province (zoom about 7)
    assert float(page.locator("#estate-map").get_attribute("data-zoom")) >= 11
    # the zoom buttons' tooltips are Chinese, not Leaflet's English defaults
    assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == "放大"
    assert page.locator(".leaflet-control-zoom-out").get_attribute("title") == "缩小"
    # a reversed built-year range: the map says what is wrong (it said only 筛选条件无效。)
    page.goto(f"{live_server.url}/estates/map/?built_from=2010&built_to=1990")
    page.wait_for_selector("#estate-map[data-ready=error]", timeout=20_000)
    status = page.locator("[data-testid=map-status]")
    assert status.inner_text() == "建成年份起（2010）晚于建成年份止（1990）。"
    assert status.get_attribute("role") == "alert"


def test_enter_in_the_project_name_never_admits(live_server, page, zhejiang):
    """Enter in 片区项目名称 used to submit the bulk form through its first button, 纳入项目库."""
    demo_users_ensure()
    a = make_estate("330106004053", name="甲小区")
    b = make_estate("330106004053", name="乙小区")
    sign_in_through_the_page(page, live_server.url, "xihu", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/estates/?region=330106004&status=surveyed")
    for estate in (a, b):
        page.check(f"#bulk-form input[name=estates][value='{estate.pk}']")
    page.fill("#bulk-form input[name=name]", "甲乙片区")
    page.press("#bulk-form input[name=name]", "Enter")
    page.wait_for_timeout(1000)  # a submission would have navigated by now
    assert page.url.endswith("/estates/?region=330106004&status=surveyed")
    assert set(Estate.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"surveyed"}
    page.press("#bulk-form input[name=year]", "Enter")  # nor does Enter in the year
    page.wait_for_timeout(500)
    assert set(Estate.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"surveyed"}
    page.click("[data-testid=bulk-merge]")  # the buttons still do what they say
    page.wait_for_url("**/estates/projects/*/")
    assert Estate.objects.get(pk=a.pk).project.name == "甲乙片区"
    assert Estate.objects.get(pk=a.pk).status == "surveyed"


def test_the_list_reads_on_a_phone_without_sideways_scrolling(live_server, browser, zhejiang, tmp_path):
    """At 390×844 the table was 919 px wide in a 354 px box: score, rank and status were off-screen."""
    demo_users_ensure()
    a = make_estate("330106004053", name="石灰桥邮电局宿舍")
    b = make_estate("330106004053", name="石灰桥机械厂宿舍")
    services.estates_merge(actor=None, estates=[a, b], name="石灰桥片区")
    services.estate_admit(actor=None, estate=a, year=2026)
    make_estate("330106004055", name="新商品房", built_year=2006, housing_type="commodity")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone = context.new_page()
    try:
        sign_in_through_the_page(phone, live_server.url, "xihu", DEMO_PASSWORD)
        phone.goto(f"{live_server.url}/estates/")
        phone.screenshot(path=os.environ.get("ESTATES_SHOT", str(tmp_path / "estates-390.png")), full_page=True)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        card = phone.locator(f"[data-estate-code='{a.code}']")
        for part in ("td.name a", "td.code", ".status-pooled", "[data-label='得分']", "[data-label='排名']",
                     ".badge-eligible", "input[type=checkbox]"):
            box = card.locator(part).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, part
        name = card.locator("td.name a").bounding_box()
        assert name["height"] < 40  # the name on one line, not two characters a line
        tag = card.locator("td.name .tag").bounding_box()
        assert tag["height"] < 30  # the 片区 tag in one piece
    finally:
        context.close()
    wide = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    try:
        sign_in_through_the_page(wide, live_server.url, "xihu", DEMO_PASSWORD)
        wide.goto(f"{live_server.url}/estates/")
        assert wide.locator("[data-testid=estate-table] thead th").nth(1).is_visible()  # a table there
    finally:
        wide.context.close()
