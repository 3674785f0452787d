"""Estate pages and API: filters, sorting, counts, detail, htmx pool actions, map; bad input never a 500."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gaizao.accounts.scoping import Role
from gaizao.estates import services
from gaizao.estates.models import Estate

from ..conftest import api_client_for as api_for
from ..conftest import make_user
from .factories import make_estate

pytestmark = pytest.mark.django_db


@pytest.fixture
def estates(zhejiang):
    made = [
        make_estate("330106004053", name="文三新村", built_year=1980, housing_type="reformed_public"),
        make_estate("330106004055", name="学院小区", built_year=1992, housing_type="public",
                    has_precast_slab_hazard=True),
        make_estate("330106004055", name="商品房小区", built_year=2004, housing_type="commodity"),
        make_estate("330106002051", name="北山宿舍", built_year=1975, housing_type="work_unit",
                    in_shantytown_plan=True),
    ]
    services.estate_admit(actor=None, estate=made[0], year=2021)
    return made


@pytest.fixture
def official(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-o")


def codes(response):
    return [e["name"] for e in response.json()["results"]]


def test_api_filters_sorting_and_counts(estates, official):
    api = api_for(official)
    everything = api.get("/api/v1/estates/").json()
    assert everything["count"] == 4
    assert everything["status_counts"] == {"surveyed": 3, "pooled": 1, "deferred": 0, "dropped": 0}
    first = everything["results"][0]
    for key in ("code", "name", "region", "county", "built_year", "buildings", "households", "floor_area",
                "housing_type", "eligibility", "eligibility_reasons", "priority_score", "status"):
        assert key in first
    assert first["county"] == "330106" and isinstance(first["eligibility_reasons"][0], str)
    assert codes(api.get("/api/v1/estates/", {"region": "330106004055", "sort": "name"})) == ["商品房小区", "学院小区"]
    assert codes(api.get("/api/v1/estates/", {"built_from": 1979, "built_to": 1995, "sort": "built_year"})) == [
        "文三新村", "学院小区"]
    assert set(codes(api.get("/api/v1/estates/?housing_type=public&housing_type=work_unit"))) == {"学院小区", "北山宿舍"}
    assert codes(api.get("/api/v1/estates/", {"eligibility": "excluded"})) == ["北山宿舍"]
    assert codes(api.get("/api/v1/estates/", {"status": "pooled"})) == ["文三新村"]
    assert codes(api.get("/api/v1/estates/", {"has_precast_slab_hazard": "true"})) == ["学院小区"]
    assert codes(api.get("/api/v1/estates/", {"search": "学院"})) == ["学院小区"]
    assert codes(api.get("/api/v1/estates/", {"search": estates[3].code})) == ["北山宿舍"]
    ranked = api.get("/api/v1/estates/", {"sort": "-priority_score"}).json()["results"]
    scores = [float(e["priority_score"]) for e in ranked]
    assert scores == sorted(scores, reverse=True)
    page = api.get("/api/v1/estates/", {"page_size": 2, "page": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["previous"]
    filtered = api.get("/api/v1/estates/", {"region": "330106004055"}).json()
    assert filtered["count"] == 2 and sum(filtered["status_counts"].values()) == 2


def test_api_detail_and_errors(estates, official):
    api = api_for(official)
    detail = api.get(f"/api/v1/estates/{estates[1].pk}/").json()
    assert detail["rebuild_route"] == "partial_rebuild"
    assert detail["priority_breakdown"]["hazard"] == 10.0
    assert detail["history_url"] == f"/audit/history/estates.estate/{estates[1].pk}/"
    assert {d["code"] for d in detail["deficiencies"]} == {"roof", "water_supply"}
    for params, code in (({"region": "99"}, "unknown_region"), ({"built_from": "x"}, "invalid"),
                         ({"status": "flying"}, "invalid"), ({"sort": "password"}, "invalid"),
                         ({"page": "999"}, "not_found")):
        response = api.get("/api/v1/estates/", params)
        assert response.status_code in (400, 404) and response.json()["code"] == code, params
    refused = api.post(f"/api/v1/estates/{estates[2].pk}/admit/", {"year": 2021}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "estate_not_eligible"
    bad = api.post(f"/api/v1/estates/{estates[1].pk}/admit/", {"year": "soon"}, format="json")
    assert bad.status_code == 400 and bad.json()["fields"]["year"]
    merged = api.post("/api/v1/estates/merge/", {"estates": [estates[1].pk, estates[2].pk], "name": "学院片区"},
                      format="json")
    assert merged.status_code == 201 and merged.json()["estates"] == sorted([estates[1].code, estates[2].code])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(
    st.sampled_from(["region", "built_from", "built_to", "housing_type", "eligibility", "status", "search", "sort",
                     "page", "page_size", "in_project", "pool_year", "management_mode", "in_shantytown_plan"]),
    st.text(max_size=30)))
def test_no_query_makes_a_500(estates, official, params):
    api = api_for(official)
    page = Client()
    page.force_login(official)
    assert api.get("/api/v1/estates/", params).status_code in (200, 400, 404)
    assert page.get("/estates/", params).status_code == 200
    assert page.get("/estates/map/data/", params).status_code in (200, 400)


def test_list_page_detail_page_and_htmx_pool_panel(estates, official):
    client = Client()
    client.force_login(official)
    page = client.get("/estates/", {"status": "surveyed"}).content.decode()
    assert f'data-estate-code="{estates[1].code}"' in page and f'data-estate-code="{estates[0].code}"' not in page
    assert 'data-status="pooled"' in page
    detail = client.get(f"/estates/{estates[1].pk}/").content.decode()
    assert f'href="/audit/history/estates.estate/{estates[1].pk}/"' in detail
    assert 'data-testid="pool-panel"' in detail and 'data-testid="admit"' in detail
    panel = client.post(f"/estates/{estates[1].pk}/admit/", {"year": 2022}, HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and 'data-testid="estate-status"' in panel.content.decode()
    assert "<html" not in panel.content.decode()
    assert Estate.objects.get(pk=estates[1].pk).status == "pooled"
    refused = client.post(f"/estates/{estates[2].pk}/admit/", {"year": 2022}, HTTP_HX_REQUEST="true")
    assert 'role="alert"' in refused.content.decode()
    history = client.get(f"/audit/history/estates.estate/{estates[1].pk}/")
    assert history.status_code == 200


def test_households_show_masked_phones(estates, official):
    services.estate_buildings_add(actor=None, estate=estates[0], buildings=[
        {"number": "1幢", "floors": 6, "units": 2, "dwellings": [
            {"unit": "1单元", "room": "101", "floor": 1, "floor_area": "72.5", "owner_name": "王伟",
             "owner_phone": "13812345678"}]}])
    client = Client()
    client.force_login(official)
    page = client.get(f"/estates/{estates[0].pk}/").content.decode()
    assert "138****5678" in page and "13812345678" not in page


def test_map_layer_matches_every_county(estates, official):
    client = Client()
    client.force_login(official)
    layer = client.get("/estates/map/counties/").json()
    by_name = {f["properties"]["name"]: f["properties"]["code"] for f in layer["features"]}
    assert by_name["临安区"] == "330112" and by_name["玉环市"] == "331083"
    assert all(by_name.values()), [n for n, c in by_name.items() if not c]
    data = client.get("/estates/map/data/").json()
    assert data["mode"] == "points" and len(data["points"]) == 4 and data["total"] == 4
    assert client.get("/estates/map/").status_code == 200
