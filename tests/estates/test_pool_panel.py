"""The pool panel on an estate's page: the readmit year it offers, what it keeps after an error, its messages."""

import re

import pytest
from django.utils import timezone

from gaizao.accounts.scoping import Role
from gaizao.estates import services
from gaizao.estates.models import Estate

from ..conftest import make_user, page_client
from .factories import make_estate

pytestmark = pytest.mark.django_db

XIXI = "330106004053"


@pytest.fixture
def official(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-o")


def readmit_year(html: str) -> str:
    form = re.search(r'<form[^>]*readmit.*?</form>', html, re.S).group(0)
    return re.search(r'name="year" value="(\d+)"', form).group(1)


def test_the_readmit_form_offers_the_year_deferred_to_and_that_year_is_taken(official):
    year = timezone.localdate().year
    estate = make_estate(XIXI)
    client = page_client(official)
    client.post(f"/estates/{estate.pk}/admit/", {"year": year}, HTTP_HX_REQUEST="true")
    panel = client.post(f"/estates/{estate.pk}/defer/", {"reason": "资金未落实", "to_year": year + 2},
                        HTTP_HX_REQUEST="true").content.decode()
    assert readmit_year(panel) == str(year + 2)
    assert f"至 {year + 2} 年" in panel  # the year deferred to reads as such
    panel = client.post(f"/estates/{estate.pk}/readmit/", {"year": readmit_year(panel)},
                        HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' not in panel
    assert Estate.objects.get(pk=estate.pk).status == "pooled"


def test_a_dropped_estate_shows_no_year_deferred_to(official):
    year = timezone.localdate().year
    estate = make_estate(XIXI, name="退出小区")
    services.estate_admit(actor=official, estate=estate, year=year)
    services.estate_defer(actor=official, estate=estate, reason="资金未落实", to_year=year + 1)
    services.estate_drop(actor=official, estate=estate, reason="居民意愿不足")
    client = page_client(official)
    detail = client.get(f"/estates/{estate.pk}/").content.decode()
    heading = re.search(r'data-testid="estate-status".*?</h2>', detail, re.S).group(0)
    assert str(year + 1) not in heading
    assert readmit_year(detail) == str(year + 1)
    row = re.search(rf'data-estate-code="{estate.code}".*?</tr>', client.get("/estates/").content.decode(),
                    re.S).group(0)
    assert "已退出" in row and str(year + 1) not in row


def form_of(html: str, action: str) -> str:
    return re.search(rf'<form[^>]*action="[^"]*/{action}/".*?</form>', html, re.S).group(0)


@pytest.mark.parametrize("htmx", [True, False])
def test_the_panel_keeps_what_was_typed_after_an_error(official, htmx):
    year = timezone.localdate().year
    estate = make_estate(XIXI)
    services.estate_admit(actor=official, estate=estate, year=year)
    client = page_client(official)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(f"/estates/{estate.pk}/defer/", {"reason": "资金未落实，明年再议", "to_year": year - 1},
                           **headers)
    html = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in html
    assert ("<html" in html) is not htmx
    defer = form_of(html, "defer")
    assert 'value="资金未落实，明年再议"' in defer and f'value="{year - 1}"' in defer
    assert 'value="资金未落实' not in form_of(html, "drop")  # the other reason stays empty
    assert Estate.objects.get(pk=estate.pk).status == "pooled"
    services.estate_drop(actor=official, estate=estate, reason="居民意愿不足")
    html = client.post(f"/estates/{estate.pk}/readmit/", {"year": year}, **headers).content.decode()
    assert 'role="alert"' in html and f'name="year" value="{year}"' in form_of(html, "readmit")


def test_the_defer_form_and_the_api_refuse_a_year_already_past(official):
    """QA: in December 2026, 暂缓 with 暂缓至年度 2020 on a surveyed estate saved as 暂缓 至 2020 年."""
    from ..conftest import api_client_for

    year = timezone.localdate().year
    estate = make_estate(XIXI)
    client = page_client(official)
    detail = client.get(f"/estates/{estate.pk}/").content.decode()
    assert f'name="to_year" min="{year}"' in form_of(detail, "defer")  # the form offers no past year
    html = client.post(f"/estates/{estate.pk}/defer/", {"reason": "资金未落实", "to_year": 2020},
                       HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' in html and f"{year} 年或以后" in html and "暂缓至年度：" in html
    response = api_client_for(official).post(f"/api/v1/estates/{estate.pk}/defer/",
                                             {"reason": "资金未落实", "to_year": year - 1}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "estate_pool_year_invalid"
    assert Estate.objects.get(pk=estate.pk).status == "surveyed"
    client.post(f"/estates/{estate.pk}/defer/", {"reason": "资金未落实", "to_year": year}, HTTP_HX_REQUEST="true")
    assert Estate.objects.values_list("status", "pool_year").get(pk=estate.pk) == ("deferred", year)
