"""The score breakdown on an estate's page: the per-class deficiency points are sub-items of the capped line, so
the visible top-level rows add up to the total (78.82 against 45.82 before)."""

import re
from decimal import Decimal

import pytest

from gaizao.accounts.scoping import Role
from gaizao.estates.models import CatalogueItem
from gaizao.estates.selectors import score_rows

from ..conftest import make_user, page_client
from .factories import catalogue_ensure, make_estate

pytestmark = pytest.mark.django_db


def test_the_top_level_rows_add_up_to_the_total(zhejiang):
    catalogue_ensure()
    codes = list(CatalogueItem.objects.order_by("sort", "code").values_list("code", flat=True))
    estate = make_estate("330106004053", deficiencies=codes)  # every item: far over the cap
    parts = estate.priority_breakdown
    assert parts["basic"] + parts["improvement"] + parts["enhancement"] > parts["deficiencies"]
    html = page_client(make_user(Role.COUNTY_OFFICIAL, username="xihu-o")).get(
        f"/estates/{estate.pk}/").content.decode()
    table = re.search(r'data-testid="score-breakdown">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r'<tr( class="(\w+)")?><th>(.*?)</th><td>([\d.]+)</td></tr>', table, re.S)
    top = [Decimal(points) for _attr, kind, _label, points in rows if kind == ""]
    subs = [label for _attr, kind, label, _points in rows if kind == "sub"]
    total = [Decimal(points) for _attr, kind, _label, points in rows if kind == "total"]
    assert total == [Decimal(str(parts["total"]))] and sum(top) == total[0]
    assert len(subs) == 3 and all(re.search(name, " ".join(subs)) for name in ("基础类", "完善类", "提升类"))
    labels = [re.sub("<[^>]+>", "", label) for _attr, _kind, label, _points in rows]
    capped = labels.index("缺失项（封顶）")
    assert [rows[i][1] for i in range(capped + 1, capped + 4)] == ["sub"] * 3  # right under the capped line


def test_without_a_capped_line_nothing_is_a_sub_item():
    rows = score_rows({"age": 10.0, "basic": 5.0, "total": 15.0})
    assert [(r["sub"], r["total"]) for r in rows] == [(False, False), (False, False), (False, True)]
    assert score_rows({}) == []
