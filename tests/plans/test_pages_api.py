"""Pages and API of plans, progress and dashboards: the shapes, and never a 500 for anything typed in."""

import pytest
from django.urls import reverse

from gaizao.plans import services

from ..conftest import api_client_for as api_for
from ..conftest import page_client as client_for
from .conftest import pool_estate

BAD_VALUES = ["abc", "2020-13", "-1", "99999999999999999999", "2020-2019", "33' OR 1=1 --", "\x00", "2020-02-30",
              "１２", "330106" * 20, "²", "202²", "inf", "Infinity", "99999999999", "9" * 5000]


@pytest.mark.django_db
def test_no_500_for_any_query_on_region_pages_and_api(people, draft_plan):
    page, api = client_for(people["province"]), api_for(people["province"])
    pages = ["plans:list", "plans:rollup", "plans:rules", "plans:budgets", "plans:region-optimise", "plans:export",
             "progress:list", "dashboard:region", "dashboard:map"]
    apis = ["api:plan-list", "api:target-list", "api:progress-list", "api:progress-rollup", "api:dashboard"]
    for value in BAD_VALUES:
        for key in ("region", "period", "month", "measure", "status", "year", "page", "within", "by", "stage"):
            for name in pages:
                r = page.get(reverse(name), {key: value})
                assert r.status_code in (200, 400, 404), (name, key, value, r.status_code)
            for name in apis:
                r = api.get(reverse(name), {key: value})
                assert r.status_code in (200, 400, 404), (name, key, value, r.status_code)
                if r.status_code != 200:
                    assert set(r.json()) == {"code", "message", "fields"}
        r = page.get(reverse("plans:detail", args=[draft_plan.pk]), {"year": value, "page": value})
        assert r.status_code in (200, 400), (value, r.status_code)


@pytest.mark.django_db
def test_no_500_for_bad_posts(people, draft_plan):
    county = client_for(people["county"])
    item = draft_plan.items.first()
    report = services.progress_report_open(actor=people["county"], county=draft_plan.county, month="2020-03")
    entry = report.entries.first()
    for value in BAD_VALUES:
        posts = [
            (reverse("plans:items", args=[draft_plan.pk]), {"estate": value, "year": value}),
            (reverse("plans:items", args=[draft_plan.pk]), {"estate": pool_estate("330106").code, "year": value,
                                                           "planned_start": value, "planned_finish": value}),
            (reverse("plans:item", args=[draft_plan.pk, item.pk]), {"year": value, "planned_start": value,
                                                                   "content_classes": value}),
            (reverse("plans:step", args=[draft_plan.pk]), {"step": value, "comment": value}),
            (reverse("plans:adjust", args=[draft_plan.pk]), {"reason": value}),
            (reverse("plans:adopt", args=[draft_plan.pk]), {"run": value, "key": value}),
            (reverse("plans:create"), {"county": value, "period": value}),
            (reverse("plans:rules"), {"region": "330106", "what": "costs", "basic": value, "improvement": "1",
                                      "enhancement": "1", "area_per_household": value}),
            (reverse("plans:rules"), {"region": "330106", "what": "model_estate", "estate": value,
                                      "completed_on": value}),
            (reverse("plans:budgets"), {"region": "330106", "county": "330106", "budget_2020": value}),
            (reverse("progress:open"), {"county": "330106", "month": value}),
            (reverse("progress:detail", args=[report.pk]), {f"e{value}-stage": "started"}),
            (reverse("progress:detail", args=[report.pk]), {f"e{entry.pk}-stage": value,
                                                            f"e{entry.pk}-started_on": value,
                                                            f"e{entry.pk}-investment_done_wan": value}),
        ]
        for url, data in posts:
            r = county.post(url, data)
            assert r.status_code in (200, 302, 400, 403, 404), (url, data, r.status_code)
    province = client_for(people["province"])
    for value in BAD_VALUES:
        r = province.post(reverse("plans:rules"), {"region": "330106", "what": "targets", "measure": value,
                                                   "milestone_year": [value, "1"], "milestone_share": [value, "30"],
                                                   "model_estates_min": value, "model_estate_deadline": value,
                                                   "report_due_day": value, "task": value})
        assert r.status_code in (302, 400), r.status_code
    api = api_for(people["county"])
    for value in BAD_VALUES + [None, 5, [], {}]:
        r = api.post(reverse("api:plan-transitions", args=[draft_plan.pk]), {"step": value, "comment": value},
                     format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid", (value, r.status_code)


@pytest.mark.django_db
def test_plan_api_shapes(people, draft_plan):
    api = api_for(people["county"])
    listed = api.get(reverse("api:plan-list"), {"period": "2020-2022", "within": "3301"}).json()
    assert [p["id"] for p in listed["results"]] == [draft_plan.pk]
    assert api.get(reverse("api:plan-list"), {"period": "20x"}).json()["code"] == "plan_period_invalid"
    assert api.get(reverse("api:plan-list"), {"within": "999999"}).json()["code"] == "unknown_region"
    detail = api.get(reverse("api:plan-detail", args=[draft_plan.pk])).json()
    assert detail["status"] == "draft" and detail["steps"] == ["submit"] and len(detail["items"]) == 3
    assert {c["kind"] for c in detail["checks"]} == {"share", "model"}
    assert set(detail["by_year"]) == {"2020", "2021", "2022"}
    r = api.post(reverse("api:plan-transitions", args=[draft_plan.pk]), {"step": "submit"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    again = api.post(reverse("api:plan-transitions", args=[draft_plan.pk]), {"step": "submit"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "plan_transition_invalid"
    city = api_for(people["city"])
    r = city.post(reverse("api:plan-transitions", args=[draft_plan.pk]), {"step": "return"}, format="json")
    assert r.status_code == 400 and "comment" in r.json()["fields"]
    r = city.post(reverse("api:plan-transitions", args=[draft_plan.pk]), {"step": "approve"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    events = city.get(reverse("api:plan-transitions", args=[draft_plan.pk])).json()
    assert [e["transition"] for e in events] == ["create", "submit"]
    targets = api.get(reverse("api:target-list"), {"region": "330106"}).json()
    assert targets["counties"][0]["county"] == "330106" and targets["counties"][0]["plan"] == draft_plan.pk
    assert api.get(reverse("api:target-list"), {"region": "3301"}).status_code == 404


@pytest.mark.django_db
def test_dashboard_and_progress_api(people, draft_plan):
    county = people["county"]
    report = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-03")
    services.progress_report_submit(actor=county, report=report)
    api = api_for(people["province"])
    d = api.get(reverse("api:dashboard"), {"region": "33", "month": "2020-03"}).json()
    assert d["region"]["code"] == "33" and d["month"] == "2020-03"
    assert d["plan_vs_target"]["years"] == [2020, 2021, 2022]
    assert d["progress"]["total"]["annual_estates"] == "1" and d["progress"]["total"]["reported"] == 1
    assert any(m["name"] == "西湖区" and m["annual_estates"] == 1 for m in d["map"])
    # the monthly series runs to the month shown
    assert [m["month"] for m in d["monthly"]] == ["2020-01", "2020-02", "2020-03"] and d["monthly"][2]["reported"] == 1
    rollup = api.get(reverse("api:progress-rollup"), {"region": "3301", "month": "2020-03", "by": "county"}).json()
    assert [r["code"] for r in rollup["rows"]] == ["330106"]
    reports = api_for(county).get(reverse("api:progress-list"), {"month": "2020-03"}).json()
    assert reports["results"][0]["figures"]["annual_estates"] == "1"
    assert api_for(county).get(reverse("api:progress-list"), {"month": "March"}).status_code == 400


@pytest.mark.django_db
def test_dashboard_pages_drill_down(people, draft_plan):
    page = client_for(people["province"])
    html = page.get(reverse("dashboard:region")).content.decode()
    assert 'href="?region=3301' in html and 'id="chart-map"' in html and "dashboard-data" in html
    html = page.get(reverse("dashboard:region"), {"region": "3301"}).content.decode()
    assert 'data-testid="plan-link-330106"' in html
    html = page.get(reverse("dashboard:region"), {"region": "330106"}).content.decode()
    estate = draft_plan.items.first().estate
    assert reverse("dashboard:estate", args=[estate.pk]) in html
    assert page.get(reverse("dashboard:estate", args=[estate.pk])).status_code == 200
    layer = page.get(reverse("dashboard:map"), {"region": "3301"}).json()
    names = {f["properties"]["name"] for f in layer["features"]}
    assert "西湖区" in names and "海曙区" not in names
    whole = page.get(reverse("dashboard:map"), {"region": "33"}).json()
    assert {"临安区", "玉环市", "苍南县"} <= {f["properties"]["name"] for f in whole["features"]}


@pytest.mark.django_db
def test_the_row_form_changes_year_model_and_classes(people, draft_plan):
    county = client_for(people["county"])
    item = draft_plan.items.get(year=2020)
    before = item.estimated_investment_wan
    county.post(reverse("plans:item", args=[draft_plan.pk, item.pk]), {
        "is_model_present": "1", "year": "2021", "is_model": "on", "content_classes": ["basic", "enhancement"]})
    item.refresh_from_db()
    assert (item.year, item.is_model, item.content_classes) == (2021, True, ["basic", "enhancement"])
    assert item.planned_finish.year == 2021 and item.estimated_investment_wan > before
    r = county.post(reverse("plans:item", args=[draft_plan.pk, item.pk]), {"is_model_present": "1"})
    assert r.status_code == 302
    item.refresh_from_db()
    assert item.content_classes == ["basic", "enhancement"]  # no class ticked: refused with a message


@pytest.mark.django_db
def test_the_province_adds_a_plan_period_on_the_rules_page(people):
    from gaizao.plans.models import PlanPeriod

    client_for(people["province"]).post(reverse("plans:rules"), {"region": "33", "what": "period",
                                                                 "start_year": "2023", "end_year": "2025"})
    assert PlanPeriod.objects.filter(start_year=2023, end_year=2025).exists()
    client_for(people["county"]).post(reverse("plans:rules"), {"region": "330106", "what": "period",
                                                               "start_year": "2026", "end_year": "2027"})
    assert not PlanPeriod.objects.filter(start_year=2026).exists()
    html = client_for(people["county"]).get(reverse("plans:rules"), {"region": "330106"}).content.decode()
    assert "2023-2025" in html and 'name="start_year"' not in html


@pytest.mark.django_db
def test_rules_page_names_the_region_whose_rules_are_in_force(people):
    page = client_for(people["county"])
    html = page.get(reverse("plans:rules"), {"region": "330106"}).content.decode()
    assert "沿用浙江省的规则" in html and "沿用33的规则" not in html


@pytest.mark.django_db
def test_target_checks_read_as_a_sentence_in_chinese_and_english(people, draft_plan):
    """The share of the task reads 任务量的 30% (not "30% 任务量", pieced together in English order)."""
    page = client_for(people["county"])
    html = page.get(reverse("plans:detail", args=[draft_plan.pk])).content.decode()
    assert "任务量的 30%" in html and "30% 任务量" not in html
    page.cookies["django_language"] = "en"
    assert "30% of the task" in page.get(reverse("plans:detail", args=[draft_plan.pk])).content.decode()
