"""The rules edit page reports every field error at once, each next to its field, and keeps what was typed."""

import re

import pytest

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.estates import services
from gaizao.estates.models import PriorityWeights

from ..conftest import make_user, page_client
from .factories import make_estate

pytestmark = pytest.mark.django_db


def rules_form(**changes) -> dict:
    form = {"policy-cutoff_year": "1999", "policy-exclude_shantytown": "on",
            "policy-priority_housing_types": ["reformed_public", "public"], "policy-hazard_route": "partial_rebuild",
            "policy-min_willingness": "", "weights-age": "30", "weights-age_full_years": "25",
            "weights-basic_item": "5", "weights-improvement_item": "2", "weights-enhancement_item": "1",
            "weights-deficiency_cap": "30", "weights-willingness": "20", "weights-priority_housing": "10",
            "weights-hazard": "10"}
    form.update(changes)
    return form


def label_errors(html: str) -> dict[str, list[str]]:
    """The errors shown inside each field's label, by the field's name."""
    out = {}
    for label in re.findall(r"<label>.*?</label>", html, re.S):
        name = re.search(r'name="([\w-]+)"', label)
        if name:
            out[name.group(1)] = re.findall(r'<span class="error">(.*?)</span>', label)
    return out


@pytest.fixture
def official(zhejiang):
    make_estate("330106004053")
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-o")


def test_every_field_error_shows_at_once_next_to_its_field(official):
    response = page_client(official).post("/estates/rules/330106/", rules_form(**{
        "policy-cutoff_year": "3000", "policy-min_willingness": "150", "weights-age": "-5",
        "weights-hazard": "-1"}))
    html = response.content.decode()
    errors = label_errors(html)
    assert errors["policy-cutoff_year"] and errors["policy-min_willingness"]
    assert errors["weights-age"] == ["权重不能为负数。"] and errors["weights-hazard"] == ["权重不能为负数。"]
    assert not errors["weights-basic_item"]
    for name, value in (("policy-cutoff_year", "3000"), ("policy-min_willingness", "150"), ("weights-age", "-5")):
        assert re.search(rf'name="{name}" value="{value}"', html), name
    assert not PriorityWeights.objects.filter(region__code="330106").exists()


def test_a_service_field_error_goes_next_to_its_field(official, monkeypatch):
    def refuse(**kwargs):
        raise ServiceError("invalid", "部分数值无效。", fields={"deficiency_cap": ["太大"], "elsewhere": ["别处"]})

    monkeypatch.setattr(services, "rules_save", refuse)
    html = page_client(official).post("/estates/rules/330106/", rules_form()).content.decode()
    assert label_errors(html)["weights-deficiency_cap"] == ["太大"]
    alert = re.search(r'role="alert">(.*?)</div>', html, re.S).group(1)
    assert "部分数值无效。" in alert and "别处" in alert and "太大" not in alert
