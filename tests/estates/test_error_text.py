"""Errors on the estate pages read in the user's language: fields by their labels, estate codes as a list, no
raw field keys or stored codes in parentheses."""

import re

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.estates import services
from gaizao.estates.views import _error_text

from ..conftest import make_user, page_client
from .factories import make_estate

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"[(（][^)）]*\b[a-z_]+: ")


@pytest.fixture
def official(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-o")


def alert(response) -> str:
    return re.search(r'role="alert">(.*?)</div>', response.content.decode(), re.S).group(1)


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pool_errors_name_the_field_in_words(official):
    year = timezone.localdate().year
    client = page_client(official)
    new = make_estate("330106004053", name="新小区", built_year=2010)
    text = alert(client.post(f"/estates/{new.pk}/admit/", {"year": year}, HTTP_HX_REQUEST="true"))
    assert "不符合条件" in text and "ineligible" not in text and "eligibility" not in text
    estate = make_estate("330106004053")
    services.estate_admit(actor=official, estate=estate, year=year)
    text = alert(client.post(f"/estates/{estate.pk}/defer/", {"reason": "资金", "to_year": year - 1},
                             HTTP_HX_REQUEST="true"))
    assert "暂缓至年度：" in text and "to_year" not in text
    text = alert(client.post(f"/estates/{estate.pk}/defer/", {"reason": " "}, HTTP_HX_REQUEST="true"))
    assert "原因：" in text and "reason" not in text
    services.estate_drop(actor=official, estate=estate, reason="居民意愿不足")
    text = alert(client.post(f"/estates/{estate.pk}/readmit/", {"year": year}, HTTP_HX_REQUEST="true"))
    assert "入库年份：" in text and not RAW_KEY.search(text), text


def test_bulk_errors_list_estate_codes_as_a_list(official):
    a = make_estate("330106004053", name="甲")
    b = make_estate("330106004053", name="乙")
    far = make_estate("330106002051", name="远", longitude="120.000000", latitude="30.000000")
    client = page_client(official)
    text = flashed(client.post("/estates/merge/", {"estates": [a.pk, b.pk], "name": ""}))[-1]
    assert text.startswith("请为项目命名") or "片区项目名称：" in text, text
    assert "name:" not in text
    text = flashed(client.post("/estates/merge/", {"estates": [a.pk, b.pk, far.pk], "name": "片区"}))[-1]
    assert far.code in text and "estates" not in text
    services.estate_admit(actor=official, estate=a, year=timezone.localdate().year)
    text = flashed(client.post("/estates/admit/", {"estates": [a.pk, b.pk], "year": timezone.localdate().year}))[-1]
    assert f"{a.code}：" in text and "status" not in text
    error = ServiceError("invalid", "这些小区不能合并。", fields={"estates": [a.code, b.code]})
    assert _error_text(error) == f"这些小区不能合并。（{a.code}、{b.code}）"
    error = ServiceError("invalid", "部分数值无效。", fields={"age": ["权重不能为负数。"], "mystery_key": ["x"]})
    assert _error_text(error) == "部分数值无效。（房龄：满分分值：权重不能为负数。；x）"
