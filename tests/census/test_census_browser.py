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
