"""Plans, items, reports and exports reached through a scoped lookup are read again (after an action, for
rendering, for the export) through the user's scope too: another county's plan stays out of reach."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from gaizao.plans import services
from gaizao.plans.models import PlanStatus
from gaizao.regions.models import Region

from ..conftest import api_client_for as api_for
from ..conftest import page_client as page_for
from .conftest import pool_estate


@pytest.mark.django_db
def test_the_plan_detail_api_reads_the_plan_once_through_the_scope(people, draft_plan):
    own = api_for(people["county"]).get(reverse("api:plan-detail", args=[draft_plan.pk]))
    assert own.status_code == 200 and len(own.json()["items"]) == 3 and own.json()["county"] == "330106"
    for who in ("sibling_county", "other_city", "street"):
        r = api_for(people[who]).get(reverse("api:plan-detail", args=[draft_plan.pk]))
        assert r.status_code == 404 and r.json()["code"] == "not_found", who


@pytest.mark.django_db
def test_plan_pages_and_steps_refuse_another_county(people, draft_plan):
    item = draft_plan.items.first()
    year = item.year
    sibling = page_for(people["sibling_county"])
    assert sibling.get(reverse("plans:detail", args=[draft_plan.pk])).status_code == 404
    r = sibling.post(reverse("plans:item", args=[draft_plan.pk, item.pk]), {"year": str(year + 1)})
    assert r.status_code == 404
    assert sibling.post(reverse("plans:step", args=[draft_plan.pk]), {"step": "submit"}).status_code == 404
    item.refresh_from_db()
    draft_plan.refresh_from_db()
    assert item.year == year and draft_plan.status == PlanStatus.DRAFT
    # the county's own step answers with the plan the service returned
    own = page_for(people["county"])
    r = own.post(reverse("plans:step", args=[draft_plan.pk]), {"step": "submit"}, follow=True)
    assert r.status_code == 200
    draft_plan.refresh_from_db()
    assert draft_plan.status == PlanStatus.SUBMITTED and draft_plan.get_status_display() in r.content.decode()
    # an item of another plan is not reached through this plan's address
    other_plan = services.plan_create(actor=people["sibling_county"], county=Region.objects.get(code="330105"),
                                      period=draft_plan.period)
    other_item = services.plan_item_add(actor=people["sibling_county"], plan=other_plan,
                                        estate=pool_estate("330105"), year=2020)
    r = page_for(people["sibling_county"]).post(reverse("plans:item", args=[other_plan.pk, item.pk]), {"year": "2021"})
    assert r.status_code == 404
    assert own.post(reverse("plans:item", args=[draft_plan.pk, other_item.pk]), {"year": "2021"}).status_code == 404


@pytest.mark.django_db
def test_the_export_holds_only_the_users_counties(people, draft_plan):
    codes = set(draft_plan.items.values_list("estate__code", flat=True))
    sibling = page_for(people["sibling_county"])
    assert sibling.get(reverse("plans:export"), {"region": "330106"}).status_code == 404
    mine = sibling.get(reverse("plans:export"), {"region": "330105", "tables": "annual_plan,basic_information"})
    assert mine.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(mine.streaming_content)), read_only=True)
    cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert not codes & cells
    city = page_for(people["city"]).get(reverse("plans:export"), {"region": "3301", "year": "2020"})
    book = load_workbook(io.BytesIO(b"".join(city.streaming_content)), read_only=True)
    cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert codes & cells  # the city does see the county's items
