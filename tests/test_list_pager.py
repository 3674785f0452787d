"""The pager under every list keeps the list's filters, every value of a repeated one included."""

import re
from html import unescape

import pytest
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory

from gaizao.accounts.scoping import Role
from gaizao.estates import views as estate_views
from gaizao.estates.models import Estate

from .conftest import make_user, page_client
from .estates.factories import make_estate

pytestmark = pytest.mark.django_db


def listed(html: str) -> list[str]:
    return re.findall(r'data-estate-code="([^"]+)"', html)


def pager_link(html: str, label: str) -> str:
    nav = re.search(r'<nav class="pager">(.*?)</nav>', html, re.S).group(1)
    return unescape(re.search(rf'<a href="([^"]*)">[^<]*(?:{label})', nav).group(1))


def test_page_two_of_a_two_value_filter_is_the_second_page_of_the_same_list(zhejiang, monkeypatch):
    """/estates/?housing_type=public&housing_type=commodity linked 下一页 to ?housing_type=commodity&page=2: the
    pager wrote one value per parameter, so page 2 was a page of another list."""
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu-pager")
    for i, housing_type in enumerate(["public"] * 5 + ["commodity"] * 4 + ["mixed"] * 4):
        make_estate("330106004053", name=f"分页小区{i:02d}", housing_type=housing_type)
    monkeypatch.setattr(estate_views, "PAGE_SIZE", 4)
    wanted = list(Estate.objects.filter(housing_type__in=["public", "commodity"]).order_by("code")
                  .values_list("code", flat=True))
    assert len(wanted) == 9

    client = page_client(official)
    first = client.get("/estates/?housing_type=public&housing_type=commodity").content.decode()
    assert listed(first) == wanted[:4]
    following = pager_link(first, "下一页")
    assert following.startswith("?") and "housing_type=public" in following and "housing_type=commodity" in following
    second = client.get(f"/estates/{following}").content.decode()
    assert listed(second) == wanted[4:8]
    third = client.get(f"/estates/{pager_link(second, '下一页')}").content.decode()
    assert listed(third) == wanted[8:]
    back = client.get(f"/estates/{pager_link(third, '上一页')}").content.decode()
    assert listed(back) == wanted[4:8]


def test_the_shared_pager_keeps_every_value_of_every_parameter():
    """The same template pages the regions, audit, job and plan lists."""
    request = RequestFactory().get("/audit/?action=create&action=update&object_type=estates.estate&page=2")
    page = Paginator(range(200), 50).get_page(2)
    html = render_to_string("_pager.html", {"page": page}, request=request)
    following = pager_link(html, "Next|下一页")
    previous = pager_link(html, "Previous|上一页")
    assert following == "?action=create&action=update&object_type=estates.estate&page=3"
    assert previous == "?action=create&action=update&object_type=estates.estate&page=1"
