"""A refused budget file says each problem once, and names a county outside the user's regions by name."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from gaizao.plans.models import PlanBudget

from ..conftest import page_client as client_for

URL = reverse("plans:budgets") + "?region=330106&period=2020-2022"


def _upload(client, text: str):
    upload = SimpleUploadedFile("预算.csv", text.encode("utf-8"), content_type="text/csv")
    return client.post(URL, {"region": "330106", "period": "2020-2022", "budget_file": upload}, follow=True)


@pytest.mark.django_db
def test_each_problem_of_a_budget_file_is_said_once(people, draft_plan):
    r = _upload(client_for(people["county"]), "county,year,budget_wan\n330106,2020,6400\n330106,2021,abc\n"
                                              "330106,2025,5\n")
    shown = [str(m) for m in r.context["messages"]]
    first = "第 3 行“预算（万元）”列：“abc”不是以万元计的金额"
    assert sum(first in m for m in shown) == 1, shown
    assert shown[0] == "文件有 2 处错误，未导入："
    assert "第 4 行“年度”列：2025 不在 2020—2022 期间内" in shown
    assert not PlanBudget.objects.exists()


@pytest.mark.django_db
def test_a_county_outside_the_users_regions_is_named(people, draft_plan):
    r = _upload(client_for(people["county"]), "county,year,budget_wan\n330106,2020,6400\n330102,2020,5\n")
    shown = [str(m) for m in r.context["messages"]]
    assert "文件为您管辖范围以外的县（市、区）设定了预算：上城区（330102）" in shown, shown
    assert not PlanBudget.objects.exists()


@pytest.mark.django_db
def test_the_optimiser_upload_says_each_problem_once_too(people, draft_plan):
    upload = SimpleUploadedFile("预算.csv", b"county,year,budget_wan\n330106,2020,abc\n", content_type="text/csv")
    r = client_for(people["county"]).post(reverse("plans:optimise", args=[draft_plan.pk]), {"budget_file": upload},
                                          follow=True)
    shown = [str(m) for m in r.context["messages"]]
    assert sum("“abc”不是以万元计的金额" in m for m in shown) == 1, shown
