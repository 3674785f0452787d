"""Roll-ups equal the sum of their parts, and the xlsx export equals what the screen shows."""

import datetime
import io
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from gaizao.accounts.scoping import Role
from gaizao.plans import selectors, services
from gaizao.plans.models import ProgressEntry, ProgressStage
from gaizao.regions.models import Region

from ..conftest import make_user
from .conftest import pool_estate

COUNTIES = {"330106": 5, "330102": 4, "330203": 6}  # 西湖区, 上城区 (杭州), 海曙区 (宁波)
MONTH = datetime.date(2020, 6, 1)


@pytest.fixture
def province_world(people, period):
    officials = {"330106": people["county"]}
    for code in ("330102", "330203"):
        officials[code] = make_user(Role.COUNTY_OFFICIAL, f"p-{code}", code)
    plans = {}
    for code, n in COUNTIES.items():
        county = Region.objects.get(code=code)
        plan = services.plan_create(actor=officials[code], county=county, period=period)
        for i in range(n):
            e = pool_estate(code, households=120 + 10 * i, floor_area=str(9000 + 500 * i),
                            classes=("basic", "improvement") if i % 2 else ("basic",))
            services.plan_item_add(actor=officials[code], plan=plan, estate=e, year=2020 + i % 3)
        pool_estate(code)  # one pool estate left out of the plan: the task is larger than the plan
        plans[code] = plan
        report = services.progress_report_open(actor=officials[code], county=county, month=MONTH)
        rows = {}
        for k, entry in enumerate(report.entries.order_by("estate__code")):
            if k % 3 == 0:
                rows[entry.pk] = {"stage": "completed", "started_on": "2020-02-01", "completed_on": "2020-06-20",
                                  "investment_done_wan": str(100 + k)}
            elif k % 3 == 1:
                rows[entry.pk] = {"stage": "started", "started_on": "2020-04-01", "investment_done_wan": "12.5"}
        services.progress_entries_update(actor=officials[code], report=report, rows=rows)
        services.progress_report_submit(actor=officials[code], report=report)
    services.plan_transition(actor=officials["330106"], plan=plans["330106"], step="submit")
    return {"plans": plans, "officials": officials, "period": period}


FIG_KEYS = ("estates", "households", "floor_area", "investment_wan")


@pytest.mark.django_db
def test_plan_rollups_are_the_sum_of_county_plans(province_world, people):
    period = province_world["period"]
    province = Region.objects.get(code="33")
    rollup = selectors.plan_rollup(people["province"], province, period)
    assert {c.code for c in rollup.counties if c.plan} == set(COUNTIES)
    # every city is the sum of its counties, the province the sum of its cities, per year and key
    for city in rollup.children:
        parts = [c for c in rollup.counties if c.code.startswith(city.code)]
        for y in period.years:
            for k in FIG_KEYS:
                assert city.by_year[y][k] == sum(p.by_year[y][k] for p in parts)
        for y in city.required_units:
            assert city.required_units[y] == sum(p.required_units.get(y, 0) for p in parts)
    for y in period.years:
        for k in FIG_KEYS:
            assert rollup.total.by_year[y][k] == sum(c.by_year[y][k] for c in rollup.children)
    assert rollup.total.total["estates"] == sum(COUNTIES.values())
    # the city's roll-up seen by the city official equals the city row of the province's
    hangzhou = selectors.plan_rollup(people["city"], Region.objects.get(code="3301"), period)
    row = next(c for c in rollup.children if c.code == "3301")
    assert hangzhou.total.by_year == row.by_year and hangzhou.total.task_units == row.task_units
    # and from the county plans' own items, independently
    direct = defaultdict(int)
    for plan in province_world["plans"].values():
        for item in plan.items.all():
            direct[item.year] += item.households
    assert {y: rollup.total.by_year[y]["households"] for y in period.years} == dict(direct)


@pytest.mark.django_db
def test_progress_rollups_are_the_sum_of_their_parts(province_world, people):
    province = Region.objects.get(code="33")
    by_city = selectors.progress_rollup(people["province"], province, MONTH)
    by_county = selectors.progress_rollup(people["province"], province, MONTH, by="county")
    assert [r.code for r in by_city["rows"]] == ["3301", "3302"]
    for city in by_city["rows"]:
        parts = [r for r in by_county["rows"] if r.code.startswith(city.code)]
        for k in selectors.SUM_FIELDS:
            assert city.values[k] == sum(p.values[k] for p in parts), k
    for k in selectors.SUM_FIELDS:
        assert by_city["total"].values[k] == sum(r.values[k] for r in by_city["rows"])
    # independently, from the estates' entries
    entries = ProgressEntry.objects.filter(report__month=MONTH)
    started = sum(1 for e in entries if e.stage != ProgressStage.NOT_STARTED and e.plan_year)
    completed = sum(1 for e in entries if e.stage in ("completed", "accepted") and e.plan_year)
    assert by_city["total"].values["started_estates"] == started
    assert by_city["total"].values["completed_estates"] == completed
    assert by_city["total"].values["investment_done_wan"] == sum(e.investment_done_wan for e in entries)
    annual = [e for e in entries if e.plan_year == 2020]
    assert by_city["total"].values["annual_estates"] == len(annual)
    assert by_city["total"].reported == by_city["total"].expected == 3


def _sheet_rows(ws):
    return [list(r) for r in ws.iter_rows(min_row=4, values_only=True)]


@pytest.mark.django_db
def test_export_equals_screen(province_world, people):
    client = Client()
    client.force_login(people["province"])
    response = client.get(reverse("plans:export"), {"region": "33", "period": "2020-2022", "month": "2020-06"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    api = APIClient()
    api.force_authenticate(people["province"])
    data = api.get(reverse("api:dashboard"), {"region": "33", "period": "2020-2022", "month": "2020-06"}).json()
    page = client.get(reverse("dashboard:region"), {"region": "33", "period": "2020-2022", "month": "2020-06"})
    html = page.content.decode()

    results = _sheet_rows(book.worksheets[0])
    # the results table: one row per county, a subtotal per city, the total; equal to the dashboard's figures
    totals = results[-1]
    assert "浙江省" in totals[0]
    assert totals[3] == int(data["progress"]["total"]["annual_estates"])
    assert totals[5] == int(data["progress"]["total"]["annual_completed"])
    assert Decimal(str(totals[15])) == Decimal(data["progress"]["total"]["investment_done_wan"])
    subtotals = {r[1]: r for r in results if r[1] in ("3301", "3302")}
    for row in data["progress"]["rows"]:
        assert subtotals[row["code"]][3] == int(row["annual_estates"])
        assert subtotals[row["code"]][4] == int(row["annual_started"])
        assert subtotals[row["code"]][5] == int(row["annual_completed"])
        # and the page shows the same row
        cells = re.search(rf'data-testid="drill-{row["code"]}">[^<]+</a></td>(.*?)</tr>', html, re.S).group(1)
        numbers = re.findall(r"<td>([^<]*)</td>", cells)
        assert numbers[1:4] == [row["annual_estates"], row["annual_started"], row["annual_completed"]]

    # the progress table: estate rows (0/1 columns) sum to each county subtotal and to the total
    progress = _sheet_rows(book.worksheets[2])
    sums, checked = defaultdict(int), 0
    for row in progress:
        if row[2]:  # an estate row
            sums["plan"] += row[9]
            sums["started"] += row[10]
            sums["completed"] += row[11]
            continue
        if sums:  # the first figures row after estates is their county's subtotal
            assert (row[9], row[10], row[11]) == (sums["plan"], sums["started"], sums["completed"])
            checked += 1
            sums.clear()
    assert checked == 3
    total = progress[-1]
    assert total[9] == int(data["progress"]["total"]["plan_estates"])
    assert total[11] == int(data["progress"]["total"]["completed_estates"])

    # the annual plan table: estate rows sum to the subtotals, the total is the roll-up's 2020
    annual = _sheet_rows(book.worksheets[1])
    year_2020 = data["plan"]["total"]["by_year"]["2020"]
    assert annual[-1][9] == int(year_2020["estates"])
    assert annual[-1][10] == int(year_2020["households"])
    assert sum(r[10] for r in annual if r[2]) == int(year_2020["households"])
    basic = _sheet_rows(book.worksheets[3])
    assert basic[-1][10] == int(data["plan"]["total"]["total"]["estates"]) == sum(COUNTIES.values())
    assert sum(r[11] for r in basic if r[3]) == int(data["plan"]["total"]["total"]["households"])


@pytest.mark.django_db
def test_a_city_export_holds_only_its_counties(province_world, people):
    client = Client()
    client.force_login(people["city"])
    response = client.get(reverse("plans:export"), {"region": "3301", "month": "2020-06"})
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    codes = {r[1] for r in _sheet_rows(book.worksheets[0])}
    assert codes == {"330106", "330102", "3301"}
    assert client.get(reverse("plans:export"), {"region": "3302"}).status_code == 404
    assert client.get(reverse("plans:export"), {"region": "33"}).status_code == 404


@pytest.mark.django_db
def test_one_table_can_be_exported_alone(province_world, people):
    client = Client()
    client.force_login(people["province"])
    response = client.get(reverse("plans:export"), {"region": "33", "month": "2020-06", "tables": "progress"})
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    assert len(book.worksheets) == 1
    assert client.get(reverse("plans:export"), {"region": "33", "tables": "progress,secrets"}).status_code == 400
