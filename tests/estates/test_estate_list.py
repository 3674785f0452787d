"""The estate list page: its status counts, its sorts, its export links and what it says about odd filters."""

import csv
import io
import re
from html import unescape

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gaizao.accounts.scoping import Role
from gaizao.estates import services
from gaizao.estates.census.columns import COLUMNS
from gaizao.estates.models import Estate

from ..conftest import api_client_for, make_user, page_client
from .factories import make_estate

pytestmark = pytest.mark.django_db


@pytest.fixture
def official(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-o")


@pytest.fixture
def estates(official):
    made = [make_estate("330106004053", name=f"小区{i}", built_year=1980 + i, households=100 + 10 * i)
            for i in range(6)]
    made.append(make_estate("330106004055", name="新小区", built_year=2010))  # ineligible, unranked
    services.estates_admit(actor=official, estates=made[:3], year=2026)
    services.estate_defer(actor=official, estate=made[3], reason="资金未落实")
    return made


def chips(html: str) -> dict[str, int]:
    nav = re.search(r'data-testid="status-counts">(.*?)</nav>', html, re.S).group(1)
    found = {"all": int(re.search(r"<strong>([\d,]+)</strong>", nav).group(1).replace(",", ""))}
    for status, n in re.findall(r'data-status="(\w+)">[^<]*<strong>([\d,]+)</strong>', nav):
        found[status] = int(n.replace(",", ""))
    return found


def listed(html: str) -> list[str]:
    return re.findall(r'data-estate-code="([^"]+)"', html)


def test_each_status_chip_counts_what_its_link_lists(official, estates):
    client = page_client(official)
    html = client.get("/estates/", {"status": "surveyed", "eligibility": "eligible"}).content.decode()
    counts = chips(html)
    assert counts == {"all": 6, "surveyed": 2, "pooled": 3, "deferred": 1, "dropped": 0}
    assert len(listed(html)) == 2
    for status in ("surveyed", "pooled", "deferred", "dropped"):
        link = client.get("/estates/", {"status": status, "eligibility": "eligible"}).content.decode()
        assert len(listed(link)) == counts[status], status
    assert len(listed(client.get("/estates/", {"eligibility": "eligible"}).content.decode())) == counts["all"]
    # two statuses: the list holds both, the chips are the same
    both = client.get("/estates/?status=surveyed&status=deferred&eligibility=eligible").content.decode()
    assert len(listed(both)) == 3 and chips(both) == counts


def test_the_status_counts_stay_cached(official, estates):
    client = page_client(official)
    client.get("/estates/", {"status": "pooled"})
    with CaptureQueriesContext(connection) as queries:
        client.get("/estates/", {"status": "pooled"})
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_rank_sort_puts_rank_one_first_and_the_unranked_last(official, estates):
    """On SQLite the unranked (rank —) came first and rank 1 was far down the list."""
    services.estate_drop(actor=official, estate=estates[5], reason="居民意愿不足")  # drops out of the ranking
    expected = list(Estate.objects.filter(county_rank__isnull=False).order_by("county_rank")
                    .values_list("code", flat=True))
    unranked = set(Estate.objects.filter(county_rank__isnull=True).values_list("code", flat=True))
    assert len(unranked) == 2 and Estate.objects.get(code=expected[0]).county_rank == 1
    page = listed(page_client(official).get("/estates/", {"sort": "county_rank"}).content.decode())
    assert page[:len(expected)] == expected and set(page[len(expected):]) == unranked
    api = api_client_for(official).get("/api/v1/estates/", {"sort": "county_rank"}).json()["results"]
    assert [e["code"] for e in api][:len(expected)] == expected and api[-1]["county_rank"] is None


def export_links(html: str) -> dict[str, str]:
    return {fmt: unescape(href) for href, fmt in
            re.findall(r'href="(/census/export/\?[^"]*format=(xlsx|csv))"', html)}


def test_the_list_and_the_map_export_what_they_show_in_the_list_order(official, estates):
    client = page_client(official)
    html = client.get("/estates/", {"eligibility": "eligible", "sort": "-households", "page": "1"}).content.decode()
    links = export_links(html)
    assert set(links) == {"xlsx", "csv"}
    shown = listed(html)
    assert len(shown) == 6
    text = client.get(links["csv"]).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [f"{c.header}*" if c.required else c.header for c in COLUMNS]  # the template's, no more
    assert [r[0] for r in rows[1:]] == shown  # the list's estates in the list's order (households, most first)
    book = openpyxl.load_workbook(io.BytesIO(client.get(links["xlsx"]).content))
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == shown
    assert len(next(book.active.iter_rows(max_row=1, values_only=True))) == len(COLUMNS)
    by_code = client.get(re.sub(r"sort=[^&]*&?", "", links["csv"])).content.decode("utf-8-sig")
    assert [r[0] for r in list(csv.reader(io.StringIO(by_code)))[1:]] == sorted(shown)  # no sort: by code
    the_map = client.get("/estates/map/", {"status": "pooled"}).content.decode()
    assert "status=pooled" in export_links(the_map)["xlsx"]


def test_a_built_year_range_that_ends_before_it_starts_is_said_next_to_the_fields(official, estates):
    response = page_client(official).get("/estates/", {"built_from": "2010", "built_to": "1990"})
    html = response.content.decode()
    label = re.search(r'<label>建成年份止.*?</label>', html, re.S).group(0)
    assert "建成年份起（2010）晚于建成年份止（1990）。" in label
    api = api_client_for(official).get("/api/v1/estates/", {"built_from": "2010", "built_to": "1990"})
    assert api.status_code == 400 and api.json()["fields"]["built_to"]
    assert len(listed(page_client(official).get("/estates/", {"built_from": "1981", "built_to": "1983"})
                      .content.decode())) == 3  # a sound range still filters


def test_the_map_says_what_is_wrong_with_a_reversed_built_year_range(official, estates):
    """The map said only 筛选条件无效。: its data endpoint answers 400 with the list's words, the page shows them."""
    client = page_client(official)
    reversed_range = {"built_from": "2010", "built_to": "1990"}
    data = client.get("/estates/map/data/", reversed_range)
    assert data.status_code == 400 and data.json()["mode"] == "error"
    assert data.json()["message"] == "建成年份起（2010）晚于建成年份止（1990）。"
    assert data.json()["fields"]["built_to"]
    page = client.get("/estates/map/", reversed_range).content.decode()
    label = re.search(r'<label>建成年份止.*?</label>', page, re.S).group(0)
    assert "建成年份起（2010）晚于建成年份止（1990）。" in label
    bad_number = client.get("/estates/map/data/", {"built_from": "abc"})
    assert bad_number.status_code == 400 and bad_number.json()["message"].startswith("建成年份起：")
    assert client.get("/estates/map/data/", {"built_from": "1981", "built_to": "1983"}).json()["total"] == 3


def test_an_unknown_sort_falls_back_to_the_default_order(official, estates):
    client = page_client(official)
    html = client.get("/estates/", {"sort": "score", "eligibility": "eligible"}).content.decode()
    assert listed(html) == sorted(e.code for e in estates[:6])  # by code, not an empty list
    assert 'role="alert"' not in html and 'name="sort"' not in html
    assert re.search(r"<strong>代码</strong>", html)  # the default order is the one marked
    assert "sort=score" not in export_links(html)["csv"]
    assert client.get(export_links(html)["csv"]).status_code == 200
    assert client.get("/estates/map/data/", {"sort": "score"}).status_code == 200
    assert api_client_for(official).get("/api/v1/estates/", {"sort": "score"}).status_code == 400  # the API says so


def test_a_resident_is_offered_no_link_that_answers_404_or_an_empty_sheet(zhejiang, estates):
    """QA: as a resident, /estates/ linked 改造条件与优先级规则 (/estates/rules/, 404) and offered the export
    links (an empty sheet). Each link of the list and the map now answers the person it is shown to."""
    resident = make_user(Role.RESIDENT, username="resident-links")
    official_page = page_client(make_user(Role.COUNTY_OFFICIAL, username="xihu-links")).get("/estates/")
    assert 'href="/estates/rules/"' in official_page.content.decode()
    assert 'data-testid="export-links"' in official_page.content.decode()
    client = page_client(resident)
    for page in ("/estates/", "/estates/map/"):
        html = client.get(page).content.decode()
        assert "/census/export/" not in html and 'href="/estates/rules/"' not in html, page
        main = html.split("<main", 1)[1].split("</main>", 1)[0]
        for href in {unescape(h) for h in re.findall(r'href="(/[^"]*)"', main)}:
            if not href.startswith("/static/"):
                assert client.get(href).status_code != 404, (page, href)
    assert client.get("/estates/rules/").status_code == 404  # the page the link went to
