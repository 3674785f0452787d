"""The forms of /plans/rules/ (targets, unit costs, model estates built): a refused save says every problem
at once beside its box (a target row named by its number), keeps what was typed, and saves nothing."""

import pytest
from django.urls import reverse

from gaizao.core.models import AuditEntry
from gaizao.plans.models import ModelEstate, TargetRule, UnitCosts

from ..conftest import page_client as client_for
from .conftest import pool_estate

RULES = reverse("plans:rules")


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _section(html: str, anchor: str) -> str:
    return html.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]


def _errors(section: str) -> list[str]:
    return [part.split("</span>", 1)[0] for part in section.split('data-testid="field-error">')[1:]]


@pytest.mark.django_db
def test_refused_unit_costs_name_each_field_and_keep_what_was_typed(people, xihu):
    county = client_for(people["county"])
    audited = AuditEntry.objects.count()
    r = county.post(RULES, {"what": "costs", "region": "330106", "basic": "abc", "improvement": "150",
                            "enhancement": "40", "area_per_household": "-3"})
    assert r.status_code == 302 and r["Location"] == f"{RULES}?region=330106#rules-costs"
    r = county.get(r["Location"])
    assert "未保存：2 项填写有误，请改正后再保存。" in _messages(r)
    costs = _section(r.content.decode(), "rules-costs")
    assert 'value="abc"' in costs and 'value="150"' in costs and 'value="-3"' in costs
    assert _errors(costs) == ["请输入数字。", "请输入 1 至 1000 之间的数字。"]
    assert costs.count('aria-invalid="true"') == 2
    assert costs.index('name="basic"') < costs.index("请输入数字。") < costs.index('name="improvement"')
    assert not UnitCosts.objects.filter(region=xihu).exists() and AuditEntry.objects.count() == audited
    # read once: the page shows the rules in force again
    costs = _section(county.get(f"{RULES}?region=330106").content.decode(), "rules-costs")
    assert 'value="abc"' not in costs and 'data-testid="field-error"' not in costs


@pytest.mark.django_db
def test_a_refused_model_estate_keeps_the_code_date_and_note(people, xihu):
    county = client_for(people["county"])
    r = county.post(RULES, {"what": "model_estate", "region": "330106", "estate": "330106-999999",
                            "completed_on": "2019-12-01", "note": "西溪样板"}, follow=True)
    assert "未保存：1 项填写有误，请改正后再保存。" in _messages(r)
    form = _section(r.content.decode(), "rules-model_estate")
    assert 'value="330106-999999"' in form and 'value="2019-12-01"' in form and 'value="西溪样板"' in form
    assert _errors(form) == ["您的管辖范围内没有编码为 330106-999999 的小区。"]
    # an estate that exists with a date in the future: the date is named; both problems at once
    estate = pool_estate("330106")
    ModelEstate.objects.create(county=xihu, estate=estate, completed_on="2019-01-01")
    r = county.post(RULES, {"what": "model_estate", "region": "330106", "estate": estate.code,
                            "completed_on": "2999-01-01"}, follow=True)
    form = _section(r.content.decode(), "rules-model_estate")
    assert _errors(form) == ["该小区已是样板小区。", "完工日期不能晚于今天。"]
    assert f'value="{estate.code}"' in form and 'value="2999-01-01"' in form


@pytest.mark.django_db
def test_refused_targets_name_the_row_and_keep_every_value(people, zhejiang):
    admin = client_for(people["province"])
    before = TargetRule.objects.filter(region__code="33").first()
    before = before.milestones if before else None
    r = admin.post(RULES, {"what": "targets", "region": "33", "measure": "estates",
                           "milestone_year": ["1", "-1", ""], "milestone_share": ["35", "abc", ""],
                           "model_estates_min": "2", "model_estate_deadline": "2019-12-31",
                           "report_due_day": "40"}, follow=True)
    words = _messages(r)
    assert "未保存：2 项填写有误，请改正后再保存。" in words
    assert "目标第 2 行“比例（%）”：比例须为 0 至 100 之间的百分数。" in words
    targets = _section(r.content.decode(), "rules-targets")
    assert 'value="35"' in targets and 'value="abc"' in targets and 'value="2"' in targets
    assert 'value="40"' in targets
    row = targets.split('data-testid="refused-milestone-2"', 1)[1].split("</div>", 1)[0]
    assert 'value="abc"' in row and "比例须为 0 至 100 之间的百分数。" in row
    assert 'data-testid="refused-milestone-1"' not in targets
    due = targets.split('name="report_due_day"', 1)[1].split("</label>", 1)[0]
    assert "请输入 1 至 28 之间的数字。" in due
    rule = TargetRule.objects.filter(region__code="33").first()
    assert (rule.milestones if rule else None) == before  # nothing saved


@pytest.mark.django_db
def test_the_province_reads_its_own_rules_as_its_own(people, xihu):
    html = client_for(people["province"]).get(f"{RULES}?region=33").content.decode()
    said = html.split('data-testid="targets-source">', 1)[1].split("</p>", 1)[0]
    assert "本级规则。" in said and "沿用" not in said
    # a county without its own rule follows the province
    html = client_for(people["province"]).get(f"{RULES}?region=330106").content.decode()
    assert "沿用浙江省的规则。" in html.split('data-testid="targets-source">', 1)[1].split("</p>", 1)[0]
