"""万元 amounts on the pages: two decimals at most, thousands separated; input boxes keep every decimal the
row has (without trailing zeros); storage keeps them all."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from gaizao.plans import services
from gaizao.plans.models import OptimisationRun, PlanBudget
from gaizao.plans.templatetags.plans_tags import plain_number, wan

from ..conftest import page_client as client_for
from .conftest import pool_estate

FOUR_DECIMALS = re.compile(r"\b\d+\.\d{3,}\b")


def test_wan_and_plain_number():
    assert wan(Decimal("6400.0000")) == "6,400.00"
    assert wan("5550.2557") == wan(Decimal("5550.2557")) == "5,550.26"
    assert wan(Decimal("4107.311")) == "4,107.31" and wan(0) == "0.00" and wan(None) == "—"
    assert wan(Decimal("0.005")) == "0.01"  # half up, as people round
    assert plain_number(Decimal("6400.0000")) == "6400" and plain_number(Decimal("12.3400")) == "12.34"
    assert plain_number(Decimal("0.0001")) == "0.0001" and plain_number(None) == ""


@pytest.mark.django_db
def test_budgets_page(people, xihu, period):
    PlanBudget.objects.create(county=xihu, year=2020, budget_wan=Decimal("6400.0000"))
    PlanBudget.objects.create(county=xihu, year=2021, budget_wan=Decimal("5550.2557"))
    html = client_for(people["county"]).get(reverse("plans:budgets"), {"region": "330106"}).content.decode()
    assert 'value="6400"' in html and 'value="5550.2557"' in html and "6400.0000" not in html
    html = client_for(people["reviewer"]).get(reverse("plans:budgets"), {"region": "330106"}).content.decode()
    assert "<td>6,400.00</td>" in html and "<td>5,550.26</td>" in html
    # saving the boxes unchanged changes nothing
    client_for(people["county"]).post(reverse("plans:budgets") + "?region=330106", {
        "county": "330106", "region": "330106", "budget_2020": "6400", "budget_2021": "5550.2557"})
    assert PlanBudget.objects.get(county=xihu, year=2021).budget_wan == Decimal("5550.2557")


@pytest.mark.django_db
def test_plan_optimiser_and_progress_pages(people, xihu, period):
    county = people["county"]
    plan = services.plan_create(actor=county, county=xihu, period=period)
    for i, year in enumerate((2020, 2021, 2022)):
        services.plan_item_add(actor=county, plan=plan, year=year, estate=pool_estate(
            "330106", households=413 + i, floor_area=str(24000 + 7 * i), classes=("basic", "improvement")))
    for year, amount in ((2020, "5550.2557"), (2021, "4107.311"), (2022, "9000")):
        services.budget_set(actor=county, county=xihu, year=year, budget_wan=amount)
    page = Client()
    page.force_login(county)
    html = page.get(reverse("plans:detail", args=[plan.pk])).content.decode()
    items = html.split('data-testid="plan-items"', 1)[1].split("</table>", 1)[0]
    years = html.split('data-testid="plan-years"', 1)[1].split("</table>", 1)[0]
    assert not FOUR_DECIMALS.search(items + years)
    assert re.search(r"\d,\d{3}\.\d\d", years)  # the total with a thousands separator
    page.post(reverse("plans:optimise", args=[plan.pk]))
    assert OptimisationRun.objects.exists()
    html = page.get(reverse("plans:optimise", args=[plan.pk])).content.decode()
    assert ">5,550.26<" in html and ">4,107.31<" in html and ">9,000.00<" in html
    tables = "".join(re.findall(r"<table.*?</table>", html, re.S))
    assert not FOUR_DECIMALS.search(tables), FOUR_DECIMALS.findall(tables)
    # a progress entry's box: every decimal, never 6.4E+3
    report = services.progress_report_open(actor=county, county=xihu, month="2020-03")
    entry = report.entries.first()
    services.progress_entries_update(actor=county, report=report, rows={entry.pk: {
        "stage": "started", "started_on": "2020-03-02", "investment_done_wan": "6400"}})
    html = page.get(reverse("progress:detail", args=[report.pk])).content.decode()
    assert f'name="e{entry.pk}-investment_done_wan" value="6400"' in html and "E+3" not in html
    assert "6,400.00" in html
