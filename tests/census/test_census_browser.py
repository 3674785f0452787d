"""Real Chromium: a county official uploads a sheet with one bad row, reads the row number in the
error list, fixes the file, uploads it again and finds the estates."""

import importlib

import pytest
from django.core.management import call_command

from gaizao.accounts.scoping import Role
from gaizao.estates.models import Estate

from ..conftest import PASSWORD, make_user, sign_in_through_the_page
from .sheets import good_row, xlsx_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module", autouse=True)
def catalogue_restored_afterwards(django_db_blocker):
    """A live-server test ends with a flush, which also removes the catalogue the migrations seeded;
    put it back for the tests after this module."""
    yield
    with django_db_blocker.unblock():
        from django.apps import apps

        importlib.import_module("gaizao.estates.migrations.0002_seed_catalogue").seed(apps, None)


def run_worker():
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)


def sheet(bad: bool) -> bytes:
    # no catalogue items: earlier browser tests flush the database, seeded catalogue included
    rows = [good_row(1, **{"小区名称": "浏览器一区", "主要问题": ""}),
            good_row(2, **{"小区名称": "浏览器二区", "建成年份": "19x5" if bad else "1995年", "主要问题": ""}),
            good_row(3, **{"小区名称": "浏览器三区", "主要问题": ""})]
    return xlsx_bytes(rows, title="西湖区老旧小区调查摸底表")


def test_upload_fix_and_find_the_estates(live_server, page, zhejiang, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    make_user(Role.COUNTY_OFFICIAL, username="xihu-browser")
    sign_in_through_the_page(page, live_server.url, "xihu-browser", PASSWORD)
    page.goto(f"{live_server.url}/census/")
    bad_file = tmp_path / "西湖区调查表.xlsx"
    bad_file.write_bytes(sheet(bad=True))
    page.set_input_files("input[name=file]", str(bad_file))
    page.click("[data-testid=upload-submit]")
    page.wait_for_url("**/census/imports/*/")
    run_worker()
    rows = page.locator("[data-testid=error-row]")
    rows.first.wait_for()
    assert rows.all_inner_texts() == ["4"]  # title row, header row, then the second estate
    assert "19x5" in page.locator("[data-testid=error-table]").inner_text()
    assert Estate.objects.count() == 0

    good_file = tmp_path / "西湖区调查表-改.xlsx"
    good_file.write_bytes(sheet(bad=False))
    page.click("[data-testid=upload-again]")
    page.set_input_files("input[name=file]", str(good_file))
    page.check("input[name=mode][value=import]")
    page.click("[data-testid=upload-submit]")
    page.wait_for_url("**/census/imports/*/")
    run_worker()
    page.locator("[data-testid=import-done]").wait_for()
    assert Estate.objects.filter(name__startswith="浏览器").count() == 3

    page.goto(f"{live_server.url}/estates/?search=浏览器")
    content = page.content()
    assert all(name in content for name in ("浏览器一区", "浏览器二区", "浏览器三区"))


def test_the_import_preview_reads_on_a_phone(live_server, browser, zhejiang, tmp_path, settings):
    """At 390×844 the preview's 处理结果 column was reachable only by scrolling inside the table: each row of
    the preview (and of the problems) now stacks as a card, with what happens to it first."""
    from gaizao.estates.census.importer import census_import

    settings.MEDIA_ROOT = tmp_path / "media"
    make_user(Role.COUNTY_OFFICIAL, username="xihu-phone")
    census_import(actor=None, data=sheet(bad=False), filename="x.xlsx", dry_run=False)
    code = Estate.objects.get(name="浏览器一区").code
    rows = [good_row(1, **{"小区编码": code, "小区名称": "浏览器一区", "户数": 999, "楼栋数": 12, "主要问题": ""}),
            good_row(4, **{"小区名称": "浏览器四区（石灰桥邮电局宿舍）", "主要问题": ""}),
            good_row(5, **{"小区名称": "浏览器五区", "建成年份": "19x5", "主要问题": ""})]
    upload = tmp_path / "西湖区调查表-手机.xlsx"
    upload.write_bytes(xlsx_bytes(rows, title="西湖区老旧小区调查摸底表"))
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone = context.new_page()
    try:
        sign_in_through_the_page(phone, live_server.url, "xihu-phone", PASSWORD)
        phone.goto(f"{live_server.url}/census/")
        phone.set_input_files("input[name=file]", str(upload))
        phone.click("[data-testid=upload-submit]")
        phone.wait_for_url("**/census/imports/*/")
        run_worker()
        phone.reload()
        phone.locator("[data-testid=preview-table]").wait_for()
        phone.screenshot(path=str(tmp_path / "census-import-390.png"), full_page=True)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        for table, rows_seen in (("preview-table", 2), ("error-table", 1)):
            cells = phone.locator(f"[data-testid={table}] tbody td.outcome")
            assert cells.count() == rows_seen, table
            for i in range(rows_seen):
                box = cells.nth(i).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (table, i, box)
                # on the screen, not inside a box that scrolls sideways
                assert phone.evaluate("(el) => el.closest('.table-wrap').scrollWidth <= el.closest('.table-wrap')"
                                      ".clientWidth", cells.nth(i).element_handle()), table
        changed = phone.locator("[data-testid=preview-table] tbody tr", has_text="浏览器一区")
        assert changed.locator("td.outcome").inner_text() == "修改: 楼栋数、户数"
        card, outcome = changed.bounding_box(), changed.locator("td.outcome").bounding_box()
        assert outcome["y"] - card["y"] < 30  # what happens comes first in the card
    finally:
        context.close()
