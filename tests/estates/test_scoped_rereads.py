"""After an action the API answers with the object read through the user's scope (or the object the
service made from the user's own rows), never with a bare re-read: another county's estate stays out of
reach on every route."""

import pytest

from gaizao.accounts.scoping import Role
from gaizao.estates.models import Estate, RenovationProject

from ..conftest import api_client_for as api_for
from ..conftest import make_user
from .factories import community_in, make_estate

pytestmark = pytest.mark.django_db


@pytest.fixture
def official(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-reread", region_code="330106")


def test_pool_actions_answer_with_the_estate_read_through_the_scope(official):
    own = make_estate(community_in("330106"), name="本区小区")
    other = make_estate(community_in("330105"), name="邻区小区")
    api = api_for(official)
    done = api.post(f"/api/v1/estates/{own.pk}/admit/", {"year": 2021}, format="json")
    assert done.status_code == 200
    assert (done.json()["code"], done.json()["status"]) == (own.code, "pooled")
    status = other.status
    for action, body in (("admit", {"year": 2021}), ("defer", {"reason": "资金不足"}),
                         ("drop", {"reason": "居民不同意"}), ("readmit", {"year": 2022})):
        refused = api.post(f"/api/v1/estates/{other.pk}/{action}/", body, format="json")
        assert refused.status_code == 404 and refused.json()["code"] == "not_found", action
        assert other.code not in refused.content.decode() and other.name not in refused.content.decode()
    assert api.get(f"/api/v1/estates/{other.pk}/").status_code == 404
    assert Estate.objects.get(pk=other.pk).status == status


def test_merge_answers_with_the_project_made_and_never_reaches_another_county(official):
    first = make_estate(community_in("330106"), name="甲小区")
    second = make_estate(community_in("330106"), name="乙小区")
    other = make_estate(community_in("330105"), name="邻区小区")
    api = api_for(official)
    refused = api.post("/api/v1/estates/merge/", {"estates": [first.pk, other.pk], "name": "跨区片区"}, format="json")
    assert refused.status_code == 404 and not RenovationProject.objects.exists()
    made = api.post("/api/v1/estates/merge/", {"estates": [first.pk, second.pk], "name": "甲乙片区"}, format="json")
    assert made.status_code == 201
    project = RenovationProject.objects.get()
    assert made.json() == {"id": project.pk, "code": project.code, "name": "甲乙片区", "region": project.region.code,
                           "county": "330106", "is_active": True, "estates": sorted([first.code, second.code])}
