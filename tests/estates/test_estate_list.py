"""The estate list page: its status counts, its sorts, its export links and what it says about odd filters."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gaizao.accounts.scoping import Role
from gaizao.estates import services
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
