"""Estate and census actions given ids and jobs they should not act on: refused as a whole, never a 500."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from gaizao.accounts.models import Membership
from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.core.models import AuditEntry, Job, JobStatus
from gaizao.estates import services
from gaizao.estates.models import Estate, EstateStatus, RenovationProject
from gaizao.regions.models import Region, RegionLevel

from ..conftest import make_user
from .factories import make_estate

pytestmark = pytest.mark.django_db

TOO_BIG = 99999999999999999999  # more than a 64-bit id


@pytest.fixture
def mine_and_theirs(zhejiang):
    mine = [make_estate("330106004053", name=f"西湖{i}", built_year=1980) for i in range(2)]
    gongshu = Region.objects.filter(code__startswith="330105", level=RegionLevel.COMMUNITY, is_active=True).first()
    theirs = make_estate(gongshu, name="拱墅1", built_year=1980)
    return mine, theirs


def test_bulk_admit_is_all_or_nothing_and_huge_ids_are_not_found(mine_and_theirs):
    mine, theirs = mine_and_theirs
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu-bulk")
    api = APIClient()
    api.force_authenticate(official)
    for ids in ([mine[0].pk, theirs.pk], [mine[0].pk, TOO_BIG], [TOO_BIG]):
        r = api.post(reverse("api:estate-admit-bulk"), {"estates": ids, "year": 2021}, format="json")
        assert r.status_code == 404, (ids, r.status_code)
    web = Client()
    web.force_login(official)
    for ids in ([mine[0].pk, theirs.pk], [mine[0].pk, str(TOO_BIG)], ["²"]):
        r = web.post(reverse("estates:admit-bulk"), {"estates": ids, "year": "2021"})
        assert r.status_code == 302, (ids, r.status_code)
    r = web.post(reverse("estates:merge"), {"estates": [mine[0].pk, mine[1].pk, theirs.pk], "name": "片区"})
    assert r.status_code == 302 and not RenovationProject.objects.exists()
    assert not Estate.objects.filter(status=EstateStatus.POOLED).exists()  # nothing was admitted


def test_a_dissolved_project_cannot_be_dissolved_again(mine_and_theirs):
    mine, _theirs = mine_and_theirs
    project = services.estates_merge(actor=None, estates=[e.pk for e in mine], name="片区")
    services.project_dissolve(actor=None, project=project, reason="分开改造")
    entries = AuditEntry.objects.filter(verb="estates.project_dissolve").count()
    with pytest.raises(ServiceError) as err:
        services.project_dissolve(actor=None, project=project, reason="again")
    assert err.value.code == "estate_transition_invalid"
    assert AuditEntry.objects.filter(verb="estates.project_dissolve").count() == entries


def test_census_commit_needs_change_rights_and_a_finished_check(zhejiang):
    from gaizao.estates.census.jobs import census_commit_start

    admin = make_user(Role.PROVINCE_ADMIN, username="census-admin")
    hangzhou = Region.objects.get(code="3301")
    job = Job.objects.create(kind="estates.census_import", region=hangzhou, created_by=admin,
                             status=JobStatus.QUEUED, params={"path": "census-uploads/none.xlsx", "dry_run": True})
    with pytest.raises(ServiceError) as err:
        census_commit_start(actor=admin, job=job)
    assert err.value.code == "census_file_invalid"
    # imports in 西湖区, reviews (views only) all of 杭州市: sees the city's jobs but may not import them
    mixed = make_user(Role.COUNTY_OFFICIAL, username="census-mixed")
    Membership.objects.create(user=mixed, role=Role.DEPARTMENT_REVIEWER, region=hangzhou)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    client = Client()
    client.force_login(mixed)
    assert client.get(reverse("census:import", args=[job.pk])).status_code == 200
    assert client.post(reverse("census:commit", args=[job.pk])).status_code == 404
    assert Job.objects.count() == 1
