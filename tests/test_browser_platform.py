"""Real Chromium through the pages a county and a city official click."""

import pytest

from gaizao.accounts.demo import DEMO_PASSWORD, demo_users_ensure
from gaizao.regions.models import Region

from .conftest import sign_in_through_the_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def region_codes_on_page(page) -> list[str]:
    return page.locator("[data-testid=region-table] tbody code").all_inner_texts()


def test_county_official_sees_only_their_county_in_chinese_then_english(live_server, page, zhejiang):
    demo_users_ensure()
    sign_in_through_the_page(page, live_server.url, "xihu", DEMO_PASSWORD)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "欢迎" in page.content()
    page.click("nav.mainnav >> text=行政区划")
    codes = region_codes_on_page(page)
    xihu_streets = set(Region.objects.filter(parent__code="330106").values_list("code", flat=True))
    assert set(codes) == {"330106"} | xihu_streets
    assert "西湖区" in page.content() and "上城区" not in page.content()

    page.click("[data-testid=lang-en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("nav.mainnav >> text=Regions").is_visible()
    assert set(region_codes_on_page(page)) == {"330106"} | xihu_streets

    # Even asking for another county by hand shows nothing of it.
    page.goto(f"{live_server.url}/regions/?within=330105")
    assert region_codes_on_page(page) == []
    response = page.goto(f"{live_server.url}/regions/330105/")
    assert response.status == 404


def test_city_official_sees_all_of_hangzhou(live_server, page, zhejiang):
    demo_users_ensure()
    sign_in_through_the_page(page, live_server.url, "hangzhou", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/regions/?level=county&parent=3301")
    codes = region_codes_on_page(page)
    expected = set(Region.objects.filter(parent__code="3301").values_list("code", flat=True))
    assert set(codes) == expected and len(expected) == 15
    page.goto(f"{live_server.url}/regions/?level=county&parent=3302")
    assert region_codes_on_page(page) == []


def test_wrong_password_gives_a_clear_message(live_server, page, zhejiang):
    demo_users_ensure()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "xihu")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit].primary")
    assert "用户名或密码错误" in page.locator("[data-testid=login-error]").inner_text()
