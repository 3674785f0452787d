"""The estate list's and map's filter form: regions in scope as a drop-down, checkbox groups; the API unchanged."""

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gaizao.accounts.models import User
from gaizao.accounts.scoping import Role
from gaizao.regions.models import Region
from gaizao.regions.selectors import region_choices_for

from ..conftest import api_client_for, make_user, page_client
from .factories import make_estate

pytestmark = pytest.mark.django_db


class FormParser(HTMLParser):
    """The region drop-down's options and the checkboxes of a page."""

    def __init__(self):
        super().__init__()
        self.options: list[tuple[str, str, bool]] = []  # (value, label, selected)
        self.checkboxes: list[tuple[str, str, bool]] = []  # (name, value, checked)
        self.region_inputs: list[str] = []  # tags carrying name=region
        self._in_region = False
        self._option: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("name") == "region":
            self.region_inputs.append(tag)
        if tag == "select" and a.get("name") == "region":
            self._in_region = True
        elif tag == "option" and self._in_region:
            self._option = [a.get("value", ""), "", "selected" in a]
        elif tag == "input" and a.get("type") == "checkbox" and a.get("name") in ("housing_type", "eligibility",
                                                                                  "status"):
            self.checkboxes.append((a["name"], a["value"], "checked" in a))

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            self.options.append(tuple(self._option))
            self._option = None
        elif tag == "select":
            self._in_region = False


def parse(response) -> FormParser:
    assert response.status_code == 200
    parser = FormParser()
    parser.feed(response.content.decode())
    return parser


def values(parser: FormParser) -> list[str]:
    return [value for value, _label, _selected in parser.options]


def selected(parser: FormParser) -> list[str]:
    return [value for value, _label, chosen in parser.options if chosen]


@pytest.fixture
def estates(zhejiang):
    return [
        make_estate("330106004053", name="文三新村", built_year=1980, housing_type="reformed_public"),
        make_estate("330106004055", name="学院小区", built_year=1992, housing_type="public"),
        make_estate("330106002051", name="北山宿舍", built_year=1975, housing_type="work_unit"),
        make_estate("330106002052", name="宝石商品房", built_year=2004, housing_type="commodity"),
    ]


@pytest.fixture
def county(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-o")  # 西湖区 330106


def names(response) -> set[str]:
    body = response.content.decode()
    return {name for name in ("文三新村", "学院小区", "北山宿舍", "宝石商品房") if f">{name}</a>" in body}


def test_county_official_picks_among_the_county_its_streets_and_communities(county):
    parser = parse(page_client(county).get("/estates/"))
    assert parser.region_inputs == ["select"]  # no free-text code box any more
    assert parser.options[0][0] == "" and parser.options[0][1] in ("全部", "All") and selected(parser) == [""]
    codes = values(parser)[1:]
    active = set(Region.objects.filter(code__startswith="330106", is_active=True).values_list("code", flat=True))
    streets = set(Region.objects.filter(code__startswith="330106", level="street").values_list("code", flat=True))
    assert set(codes) == active and streets <= set(codes) and "330106004053" in codes
    assert 150 < len(codes) < 300
    assert codes == sorted(codes)  # tree order: each street is followed by its communities
    assert not [c for c in codes if not c.startswith("330106")]  # nothing of 330102 上城区, 3302 宁波, …
    labels = dict((value, label) for value, label, _chosen in parser.options)
    assert labels["330106"] == "西湖区"
    assert labels["330106004"].strip("\u00a0") == "西溪街道" and labels["330106004"].startswith("\u00a0")
    assert len(labels["330106004053"]) - len(labels["330106004053"].lstrip("\u00a0")) > \
        len(labels["330106004"]) - len(labels["330106004"].lstrip("\u00a0"))  # communities sit under their street


def test_province_users_pick_among_cities_and_counties_not_communities(zhejiang):
    admin = User.objects.create_superuser("root", password="x-pass-1234")
    province = make_user(Role.PROVINCE_ADMIN, username="prov")
    for user in (admin, province):
        codes = values(parse(page_client(user).get("/estates/")))[1:]
        assert "33" in codes and "3301" in codes and "330106" in codes and "330203" in codes
        assert all(len(code) <= 6 for code in codes)  # no streets, no communities
        assert "330103" not in codes  # retired 下城区 is not offered
        assert 90 < len(codes) < 120


def test_city_official_picks_among_counties_and_streets(zhejiang):
    city = make_user(Role.CITY_OFFICIAL, username="hz")
    codes = values(parse(page_client(city).get("/estates/")))[1:]
    assert codes[0] == "3301" and "330106" in codes and "330106004" in codes
    assert all(code.startswith("3301") and len(code) <= 9 for code in codes)


def test_a_community_from_a_link_is_shown_chosen(zhejiang):
    city = make_user(Role.CITY_OFFICIAL, username="hz")
    parser = parse(page_client(city).get("/estates/?region=330106004053"))
    assert selected(parser) == ["330106004053"]
    assert dict((v, label) for v, label, _c in parser.options)["330106004053"].strip("\u00a0") == "石灰桥社区"
    codes = values(parser)
    assert codes.index("330106004053") == codes.index("330106004") + 1  # under its street


def test_choosing_a_street_lists_its_estates_only(estates, county):
    client = page_client(county)
    response = client.get("/estates/", {"region": "330106004"})
    assert names(response) == {"文三新村", "学院小区"}
    assert selected(parse(response)) == ["330106004"]
    assert names(client.get("/estates/", {"region": "330106002"})) == {"北山宿舍", "宝石商品房"}
    assert names(client.get("/estates/")) == {"文三新村", "学院小区", "北山宿舍", "宝石商品房"}
    map_page = parse(client.get("/estates/map/", {"region": "330106004"}))
    assert selected(map_page) == ["330106004"] and len(map_page.options) > 150


def test_repeated_checkbox_parameters_filter(estates, county):
    response = page_client(county).get("/estates/?housing_type=public&housing_type=work_unit")
    assert names(response) == {"学院小区", "北山宿舍"}
    parser = parse(response)
    housing = {value: checked for name, value, checked in parser.checkboxes if name == "housing_type"}
    assert housing["public"] and housing["work_unit"] and not housing["commodity"]
    assert {name for name, _value, _checked in parser.checkboxes} == {"housing_type", "eligibility", "status"}
    assert b'<select name="housing_type"' not in response.content and b"multiple" not in response.content
    assert names(page_client(county).get("/estates/?status=surveyed&status=pooled&region=330106002")) == {
        "北山宿舍", "宝石商品房"}


def test_the_region_choices_cost_one_query(county, zhejiang):
    client = page_client(county)
    client.get("/estates/")  # the user's scope is resolved (and cached) once
    with CaptureQueriesContext(connection) as captured:
        choices = region_choices_for(user=county, selected="330106004053")
    assert len(captured.captured_queries) == 1 and len(choices) > 150
    with CaptureQueriesContext(connection) as captured:
        client.get("/estates/")
    region_reads = [q["sql"] for q in captured.captured_queries if 'FROM "regions_region"' in q["sql"]]
    assert len(region_reads) == 1, region_reads


def test_an_unknown_or_foreign_code_is_not_offered_as_a_region(estates, county):
    client = page_client(county)
    response = client.get("/estates/", {"region": "999999"})
    assert "999999" in response.content.decode() and names(response) == set()  # the form says the code is unknown
    foreign = parse(client.get("/estates/", {"region": "330203"}))  # 海曙区: outside the user's scope
    labels = dict((v, label) for v, label, _c in foreign.options)
    assert labels["330203"] == "330203"  # shown as asked, its name not read
    for junk in ("33\x0006", "3" * 40):  # no 500 (PostgreSQL refuses NUL bytes in text)
        assert client.get("/estates/", {"region": junk}).status_code == 200
        assert client.get("/estates/map/", {"region": junk}).status_code == 200


def test_the_api_still_takes_any_code_and_rejects_unknown_ones(estates, county):
    api = api_client_for(county)
    response = api.get("/api/v1/estates/", {"region": "999999"})
    assert response.status_code == 400 and response.json()["code"] == "unknown_region"
    community = api.get("/api/v1/estates/", {"region": "330106004053"}).json()
    assert [e["name"] for e in community["results"]] == ["文三新村"]
    repeated = api.get("/api/v1/estates/?housing_type=public&housing_type=work_unit").json()
    assert {e["name"] for e in repeated["results"]} == {"学院小区", "北山宿舍"}


def test_open_yes_no_and_management_filters_read_all(zhejiang):
    from gaizao.accounts.scoping import Role

    from ..conftest import make_user, page_client

    user = make_user(Role.COUNTY_OFFICIAL, "yes-no-xihu", "330106")
    html = page_client(user).get("/estates/?in_shantytown_plan=true").content.decode()
    select = html[html.index('name="in_shantytown_plan"'):]
    select = select[:select.index("</select>")]
    assert "未知" not in select and "Unknown" not in select and "全部" in select
    assert 'value="true" selected' in select
    management = html[html.index('name="management_mode"'):]
    assert "---------" not in management[:management.index("</select>")]
