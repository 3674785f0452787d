"""The roll-up's targets read as the counties' (任务量的 30%, not 全部任务量), and the roll-up and the
dashboard say the same of each county, the model-estate rule included: a county with no task meets its
0-estate targets, and still needs its own model estate (the rule is per county, whatever its task)."""

import pytest
from django.urls import reverse

from gaizao.plans import selectors, services
from gaizao.plans.models import ModelEstate
from gaizao.regions.models import Region

from ..conftest import api_client_for
from ..conftest import page_client as client_for
from .conftest import pool_estate


def _checks_table(html: str) -> str:
    return html.split('data-testid="target-checks"', 1)[1].split("</table>", 1)[0]


def _marks(html: str, code: str) -> str:
    return html.split(f'data-testid="check-marks-{code}"', 1)[1].split("</td>", 1)[0]


@pytest.mark.django_db
def test_rollup_checks_carry_their_share(people, draft_plan):
    # 西湖区: three pool estates in the plan (2020, 2021, 2022); 30% by 2020, all by 2022
    html = client_for(people["county"]).get(reverse("plans:rollup"), {"region": "330106"}).content.decode()
    table = _checks_table(html)
    assert "任务量的 30%" in table and "全部任务量" in table
    assert table.index("任务量的 30%") < table.index("全部任务量")  # 2020, then 2022 (100%)
    plan_table = _checks_table(client_for(people["county"]).get(
        reverse("plans:detail", args=[draft_plan.pk])).content.decode())
    assert "任务量的 30%" in plan_table and "全部任务量" in plan_table  # the plan page says the same
    # a city: 30% of 杭州市's summed task
    html = client_for(people["city"]).get(reverse("plans:rollup"), {"region": "3301"}).content.decode()
    table = _checks_table(html)
    assert "任务量的 30%" in table and table.count("全部任务量") == 1


@pytest.mark.django_db
def test_counties_with_different_targets_roll_up_as_their_sum(people, draft_plan):
    services.target_rule_save(actor=people["province"], region=Region.objects.get(code="330102"),
                              milestones=[{"year": 1, "share": "50"}, {"year": -1, "share": "100"}])
    rollup = selectors.plan_rollup(people["city"], Region.objects.get(code="3301"), draft_plan.period)
    shares = {c.year: c.share_pct for c in rollup.total.checks if c.kind == "share"}
    assert shares == {2020: "", 2022: "100"}
    html = client_for(people["city"]).get(reverse("plans:rollup"), {"region": "3301"}).content.decode()
    assert "各县（市、区）目标之和" in _checks_table(html)


@pytest.mark.django_db
def test_a_county_without_a_task_reads_the_same_on_the_rollup_and_the_dashboard(people, draft_plan, xihu):
    city = client_for(people["city"])
    # 西湖区 has a model estate; 上城区 (330102) has no plan, no pool, no model estate
    ModelEstate.objects.create(county=xihu, estate=pool_estate("330106", name="样板小区一"), completed_on="2019-06-01")
    rollup = city.get(reverse("plans:rollup"), {"region": "3301"}).content.decode()
    dashboard = city.get(reverse("dashboard:region"), {"region": "3301"}).content.decode()
    for html in (rollup, dashboard):
        shangcheng = _marks(html, "330102")
        # its 0-estate targets are met, its model estate is missing
        assert "2020 <span class=\"ok\">✔</span>" in shangcheng and "2022 <span class=\"ok\">✔</span>" in shangcheng
        assert "样板小区 <span class=\"miss\">✘ −1</span>" in shangcheng
        assert "样板小区 <span class=\"ok\">✔</span>" in _marks(html, "330106")
    assert _marks(rollup, "330102") == _marks(dashboard, "330102")
    # the city's own targets name the model-estate rule per county
    table = _checks_table(rollup)
    assert "每个县（市、区）须有各自的样板小区" in table
    # a county with a model estate and no task meets every target
    ModelEstate.objects.create(county=Region.objects.get(code="330102"),
                               estate=pool_estate("330102", name="上城样板", pool_year=None, status="surveyed"),
                               completed_on="2019-06-01")
    figures = selectors.plan_rollup(people["city"], Region.objects.get(code="3301"), draft_plan.period)
    assert next(c for c in figures.children if c.code == "330102").meets_all
    # the targets API says the same (it said "not met" for any county without a plan)
    counties = api_client_for(people["city"]).get("/api/v1/targets/", {"region": "3301"}).json()["counties"]
    assert {c["county"]: c["meets_all"] for c in counties}["330102"] is True
