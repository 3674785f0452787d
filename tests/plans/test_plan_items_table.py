"""The plan's item table: each value sits in the column of its header (the row's form spanned three
columns and put the model box under 计划完工)."""

import re

import pytest
from django.urls import reverse

from ..conftest import page_client as client_for

HEADERS = ["小区或片区项目", "年度", "计划开工", "计划完工", "改造内容类别", "户数", "估算（万元）", "样板"]


def _table(html: str) -> str:
    return re.search(r'<table class="[^"]*plan-items[^"]*" data-testid="plan-items">(.*?)</table>', html, re.S).group(1)


def _cells(row: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)


@pytest.mark.django_db
@pytest.mark.parametrize("who,editable", [("county", True), ("city", False)])
def test_each_value_under_its_header(people, draft_plan, who, editable):
    item = draft_plan.items.get(year=2021)
    item.is_model = True
    item.save()
    html = client_for(people[who]).get(reverse("plans:detail", args=[draft_plan.pk])).content.decode()
    table = _table(html)
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
    assert headers == HEADERS + ([""] if editable else [])
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    assert len(rows) == 3 and "colspan" not in table.split("<tbody>", 1)[1]
    for row in rows:
        cells = _cells(row)
        assert len(cells) == len(headers), cells
        if editable:
            assert 'name="year"' in cells[1] and 'name="planned_start"' in cells[2]
            assert 'name="planned_finish"' in cells[3] and cells[4].count('name="content_classes"') == 3
            assert 'name="is_model"' in cells[7] and "保存" in cells[8] and "移除" in cells[8]
            form_id = re.search(r'<form [^>]*id="(item-\d+)"', cells[8]).group(1)
            # every input of the row belongs to the row's form
            for name in ("year", "planned_start", "planned_finish", "is_model"):
                assert re.search(rf'form="{form_id}"[^>]*name="{name}"', row), name
        else:
            assert re.fullmatch(r"20\d\d", cells[1].strip())
    model_row = next(r for r in rows if f"{item.estate.code}" in r)
    if editable:
        assert "checked" in _cells(model_row)[7]
    else:
        assert "★" in _cells(model_row)[7]


@pytest.mark.django_db
def test_the_row_form_still_saves_with_its_inputs_outside_the_form(people, draft_plan):
    """(The browser sends inputs tied to a form by their form attribute; the view takes the same fields.)"""
    item = draft_plan.items.get(year=2020)
    client_for(people["county"]).post(reverse("plans:item", args=[draft_plan.pk, item.pk]), {
        "is_model_present": "1", "year": "2020", "planned_start": "2020-02-01", "planned_finish": "2020-11-30",
        "is_model": "on", "content_classes": ["basic"]})
    item.refresh_from_db()
    assert (str(item.planned_start), str(item.planned_finish), item.is_model, item.content_classes) == (
        "2020-02-01", "2020-11-30", True, ["basic"])
