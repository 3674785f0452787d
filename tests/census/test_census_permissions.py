"""Scoping of the census routes (their rows in tests/test_permission_matrix.py ROUTE_KINDS point here):
every role × (own region, a sibling, the parent) for pages, jobs, commit, export and the API."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from gaizao.accounts.scoping import ROLE_REGION_ACTIONS, Role
from gaizao.core.models import Job, JobStatus
from gaizao.estates.census.jobs import JOB_KIND
from gaizao.estates.models import Estate
from gaizao.regions.models import Region

from ..conftest import ROLE_PLACES, make_user
from .sheets import good_row, xlsx_bytes

ROLES = list(Role.values)
NO_PLACE_TARGETS = ("330106004053", "330106004055", "330106004")


def targets_for(role):
    own, sibling, parent = ROLE_PLACES[role]
    if own is None:
        return dict(zip(("own", "sibling", "parent"), NO_PLACE_TARGETS, strict=True))
    return {k: v for k, v in (("own", own), ("sibling", sibling), ("parent", parent)) if v}


def can(role, action, relation) -> bool:
    return action in ROLE_REGION_ACTIONS[role] and relation == "own"


def estate_region(code: str, avoid: list[str]) -> Region:
    """A street or community at or inside `code` and outside the `avoid` subtrees."""
    candidates = Region.objects.filter(code__startswith=code, level__in=["street", "community"], is_active=True)
    for region in candidates.order_by("code"):
        if not any(region.code.startswith(a) for a in avoid):
            return region
    raise AssertionError(code)


@pytest.fixture
def census_world(zhejiang):
    other = make_user(Role.PROVINCE_ADMIN, username="someone-else")
    users = {role: make_user(role) for role in ROLES}
    jobs, estates = {}, {}
    path = default_storage.save("census-uploads/perm.xlsx", ContentFile(xlsx_bytes([good_row(1)])))
    for role in ROLES:
        targets = targets_for(role)
        for relation, code in targets.items():
            avoid = [c for r, c in targets.items() if r != relation and len(c) > len(code)]
            region = estate_region(code, avoid)
            estates[(role, relation)] = Estate.objects.create(
                code=f"P-{role}-{relation}", name=f"范围小区{role}{relation}", region=region,
                county=Region.objects.get(code=region.code[:6]))
            if code in jobs:
                continue
            report = {"dry_run": True, "committed": False, "created": 1, "updated": 0, "unchanged": 0,
                      "valid_rows": 1, "errors": [], "error_count": 0, "preview": {"created": [], "updated": []}}
            jobs[code] = Job.objects.create(kind=JOB_KIND, region=Region.objects.get(code=code), created_by=other,
                                            status=JobStatus.SUCCEEDED, result=report,
                                            params={"path": path, "filename": "perm.xlsx", "dry_run": True})
    return {"users": users, "jobs": jobs, "estates": estates}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_census_routes_are_scoped(census_world, role, django_capture_on_commit_callbacks):
    user = census_world["users"][role]
    page, api = Client(), APIClient()
    page.force_login(user)
    api.force_authenticate(user)
    may_import = can(role, "change", "own") and ROLE_PLACES[role][0] is not None
    failures = []
    for name in ("census:upload", "census:template"):
        status = page.get(reverse(name)).status_code
        if status != (200 if may_import else 404):
            failures.append(f"{name}: {status}")
    upload = io.BytesIO(xlsx_bytes([good_row(1)]))
    upload.name = "a.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        status = api.post(reverse("api:estate-import"), {"file": upload, "dry_run": "true"},
                          format="multipart").status_code
    if status != (202 if may_import else 404):
        failures.append(f"api import: {status}")

    for relation, code in targets_for(role).items():
        job = census_world["jobs"][code]
        for name in ("census:import", "census:errors"):
            status = page.get(reverse(name, args=[job.pk])).status_code
            want = can(role, "view", relation)
            if (status == 200) != want or status not in (200, 404):
                failures.append(f"{name} {relation}: {status}")
        with django_capture_on_commit_callbacks(execute=False):
            status = page.post(reverse("census:commit", args=[job.pk])).status_code
        want = can(role, "change", relation)
        if (status == 302) != want or status not in (302, 404):
            failures.append(f"commit {relation}: {status}")

        estate = census_world["estates"][(role, relation)]
        for fmt in ("csv", "xlsx"):
            response = page.get(reverse("census:export"), {"format": fmt})
            body = response.content.decode("utf-8-sig") if fmt == "csv" else None
            if fmt == "csv" and (response.status_code != 200 or (estate.name in body) != can(role, "view", relation)):
                failures.append(f"export page {relation}: {response.status_code} shown={estate.name in body}")
        response = api.get(reverse("api:estate-export"), {"format": "csv"})
        body = response.content.decode("utf-8-sig")
        if response.status_code != 200 or (estate.name in body) != can(role, "view", relation):
            failures.append(f"export api {relation}: {response.status_code}")
    assert failures == []


@pytest.mark.django_db
def test_job_of_another_kind_is_not_a_census_import(census_world):
    admin = census_world["users"][Role.PROVINCE_ADMIN]
    job = Job.objects.create(kind="regions.reload", region=Region.objects.get(code="33"), created_by=admin)
    client = Client()
    client.force_login(admin)
    assert client.get(reverse("census:import", args=[job.pk])).status_code == 404
    assert client.post(reverse("census:commit", args=[job.pk])).status_code == 404
