"""Real Chromium: a county official ranks eligible estates, admits one from its page, sees the map."""

import pytest

from gaizao.accounts.demo import DEMO_PASSWORD, demo_users_ensure
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
