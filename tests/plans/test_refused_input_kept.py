"""A refused form says what is wrong and where, and keeps what was typed: the plan item row, the budget
cells, the add-to-plan form; a bad period in the address names the parameter."""

import pytest
from django.urls import reverse

from gaizao.plans.models import PlanBudget

from ..conftest import page_client as client_for
from .conftest import merged_project, pool_estate


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.django_db
def test_a_refused_item_row_names_the_estate_and_keeps_the_dates(people, draft_plan):
    county = client_for(people["county"])
    item = draft_plan.items.get(year=2020)
    saved = (item.planned_start, item.planned_finish)
    r = county.post(reverse("plans:item", args=[draft_plan.pk, item.pk]), {
        "is_model_present": "1", "year": "2020", "planned_start": "2020-10-01", "planned_finish": "2020-03-01",
        "content_classes": ["basic", "improvement"]}, follow=True)
    item.refresh_from_db()
    assert (item.planned_start, item.planned_finish) == saved  # nothing saved
    assert f"{item.estate.name}未保存：计划开工时间不能晚于计划完工时间。" in _messages(r)
    html = r.content.decode()
    row = html.split('data-testid="refused-row"', 1)[1].split("</tr>", 1)[0]
    assert 'value="2020-10-01"' in row and 'value="2020-03-01"' in row and 'aria-invalid="true"' in row
    assert row.count("checked") == 2  # the two classes ticked, as typed (the model box was not)
    # read once: the next view shows the saved row again
    html = county.get(reverse("plans:detail", args=[draft_plan.pk])).content.decode()
    assert 'data-testid="refused-row"' not in html and 'value="2020-10-01"' not in html


@pytest.mark.django_db
def test_add_to_plan_keeps_the_typed_code(people, draft_plan):
    county = client_for(people["county"])
    r = county.post(reverse("plans:items", args=[draft_plan.pk]), {"estate": "330106-999999", "year": "2021"},
                    follow=True)
    assert "本县（市、区）没有编码为 330106-999999 的小区。" in _messages(r)
    html = r.content.decode()
    form = html.split('data-testid="add-item"', 1)[1].split("</form>", 1)[0]
    assert 'value="330106-999999"' in form and 'value="2021"' in form
    # a refusal by the service names the estate too, and keeps its code
    estate = pool_estate("330106", pool_year=2022, name="晚入库小区")
    r = county.post(reverse("plans:items", args=[draft_plan.pk]), {"estate": estate.code, "year": "2020"},
                    follow=True)
    assert any(m.startswith("晚入库小区") for m in _messages(r)), _messages(r)
    assert f'value="{estate.code}"' in r.content.decode().split('data-testid="add-item"', 1)[1]


@pytest.mark.django_db
def test_budget_cells_each_named_input_kept_and_region_period_kept(people, draft_plan, xihu):
    PlanBudget.objects.create(county=xihu, year=2020, budget_wan="6400")
    county = client_for(people["county"])
    url = reverse("plans:budgets") + "?region=330106&period=2020-2022"
    r = county.post(url, {"county": "330106", "region": "330106", "period": "2020-2022", "budget_2020": "abc",
                          "budget_2021": "-5", "budget_2022": "300"})
    assert r.status_code == 302 and r["Location"] == url
    r = county.get(r["Location"])
    words = _messages(r)
    assert "未保存：2 个金额有误，请改正后再保存。" in words
    assert "西湖区 2020 年：“abc”——请输入数字。" in words
    assert "西湖区 2021 年：“-5”——预算不能为负数。" in words
    html = r.content.decode()
    assert 'value="abc"' in html and 'value="-5"' in html and 'value="300"' in html
    assert 'data-testid="refused-330106-2020"' in html and 'data-testid="refused-330106-2021"' in html
    assert 'data-testid="refused-330106-2022"' not in html
    assert not PlanBudget.objects.filter(county=xihu, year=2022).exists()  # all or none
    assert PlanBudget.objects.get(county=xihu, year=2020).budget_wan == 6400


@pytest.mark.django_db
def test_a_bad_period_in_the_address_names_the_parameter(people, draft_plan):
    r = client_for(people["county"]).get(reverse("plans:list"), {"period": "abc"})
    assert r.status_code == 400
    html = r.content.decode()
    assert "参数 period=abc 不是计划期：规划期应写作起止年份，如 2020-2022" in html


@pytest.mark.django_db
def test_a_refused_budget_file_keeps_region_and_period(people, draft_plan):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("plans:budgets") + "?region=330106&period=2020-2022"
    upload = SimpleUploadedFile("b.csv", b"county,year,budget_wan\n330106,2020,abc\n", content_type="text/csv")
    r = client_for(people["county"]).post(url, {"region": "330106", "period": "2020-2022", "budget_file": upload})
    assert r.status_code == 302 and r["Location"] == url


@pytest.mark.django_db
def test_the_picker_offers_only_what_can_be_added_and_says_why_not(people, draft_plan, xihu):
    fits = pool_estate("330106", pool_year=2021, name="可排小区")
    late = pool_estate("330106", pool_year=2026, name="晚入库小区")
    merged_project("P330106PICK", "半入库片区", fits.region, (2021,), surveyed=1)
    merged_project("P330106WHOLE", "整片区", fits.region, (2022, 2022))
    html = client_for(people["county"]).get(reverse("plans:detail", args=[draft_plan.pk])).content.decode()
    form = html.split('data-testid="add-item"', 1)[1]
    offered = form.split("</datalist>", 1)[0]
    assert f'value="{fits.code}"' in offered and "2021 年入库" in offered
    assert late.code not in offered
    for item in draft_plan.items.all():  # what is in the plan already is not offered again
        assert f'value="{item.estate.code}"' not in offered
    projects = form.split('name="project"', 1)[1].split("</select>", 1)[0]
    assert "整片区" in projects and "半入库片区" not in projects
    said = form.split('data-testid="not-offered"', 1)[1].split("</details>", 1)[0]
    assert "未列出：2 个项目库条目不能排入本计划期" in said
    assert "晚入库小区" in said and "2026 年入库，晚于计划期" in said
    assert "半入库片区" in said and "片区内尚有小区未入项目库" in said
