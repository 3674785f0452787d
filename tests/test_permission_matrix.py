"""Every route × every role × (own region, a sibling, the parent) → allowed or denied.

Routes are enumerated from the URL resolver. A route without an entry in ROUTE_KINDS
fails `test_every_route_has_a_kind`, so a route added later without scoping (and
without a row here) cannot slip through.
"""

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from gaizao.accounts.scoping import ROLE_REGION_ACTIONS, Role
from gaizao.core.audit import record_change
from gaizao.core.models import AuditAction, Job
from gaizao.regions.models import Region

from .conftest import ROLE_PLACES, make_user
from .estates.factories import community_in, make_estate

# kind of each named route
ROUTE_KINDS = {
    "home": "signed_in_page",
    "login": "public_page",
    "favicon": "public_redirect",
    "logout": "post_action",
    "set_language": "post_action",
    "javascript-catalog": "public_page",
    "regions:list": "region_list_page",
    "regions:detail": "region_object_page",
    "regions:reload": "province_admin_post",
    "jobs:list": "job_list_page",
    "jobs:detail": "job_object_page",
    "audit:list": "province_admin_page",
    "audit:history": "region_history_page",
    "api:auth-token": "post_action",
    "api:me": "signed_in_api",
    "api:region-list": "region_list_api",
    "api:region-detail": "region_object_api",
    "api:region-reload": "province_admin_api_post",
    "api:audit-list": "audit_list_api",
    "api:job-list": "job_list_api",
    "api:job-detail": "job_object_api",
    "api-schema": "public_page",
    "api-docs": "public_page",
    "estates:list": "estate_list_page",
    "estates:detail": "estate_object_page",
    "estates:admit": "estate_action_post",
    "estates:defer": "estate_action_post",
    "estates:drop": "estate_action_post",
    "estates:readmit": "estate_action_post",
    "estates:admit-bulk": "estate_bulk_post",
    "estates:merge": "estate_bulk_post",
    "estates:map": "estate_map_page",
    "estates:map-data": "estate_map_data",
    "estates:map-counties": "signed_in_page",
    "estates:rules": "rules_page",
    "estates:rules-edit": "rules_object_page",
    "estates:rules-reset": "rules_post",
    "estates:project": "project_object_page",
    "estates:project-dissolve": "project_action_post",
    "api:estate-list": "estate_list_api",
    "api:estate-detail": "estate_object_api",
    "api:estate-admit": "estate_action_api_post",
    "api:estate-defer": "estate_action_api_post",
    "api:estate-drop": "estate_action_api_post",
    "api:estate-readmit": "estate_action_api_post",
    "api:estate-admit-bulk": "estate_bulk_api_post",
    "api:estate-merge": "estate_bulk_api_post",
    # census import and export (scoping checks in tests/census/test_census_permissions.py)
    "census:upload": "census_page",
    "census:template": "census_page",
    "census:export": "estate_export_page",
    "census:import": "census_job_page",
    "census:errors": "census_job_page",
    "census:commit": "census_job_post",
    "api:estate-import": "census_import_api_post",
    "api:estate-export": "estate_export_api",
    # plans, progress, dashboards (checks per role × own/sibling/parent in tests/plans/test_plan_permissions.py)
    "plans:list": "plans_list_page",
    "plans:create": "plans_county_post",
    "plans:rollup": "plans_region_page",
    "plans:rules": "plans_region_page",
    "plans:budgets": "plans_region_page",
    "plans:region-optimise": "plans_region_page",
    "plans:export": "plans_region_page",
    "plans:detail": "plan_object_page",
    "plans:items": "plan_object_post",
    "plans:item": "plan_object_post",
    "plans:step": "plan_object_post",
    "plans:adjust": "plan_object_post",
    "plans:reestimate": "plan_object_post",
    "plans:optimise": "plan_object_page",
    "plans:adopt": "plan_object_post",
    "progress:list": "plans_region_page",
    "progress:open": "plans_county_post",
    "progress:detail": "report_object_page",
    "progress:submit": "report_object_post",
    "dashboard:region": "plans_region_page",
    "dashboard:map": "plans_region_page",
    "dashboard:estate": "plan_estate_page",
    "api:plan-list": "plan_list_api",
    "api:plan-detail": "plan_object_api",
    "api:plan-transitions": "plan_object_api",
    "api:target-list": "plans_region_api",
    "api:progress-list": "report_list_api",
    "api:progress-rollup": "plans_region_api",
    "api:dashboard": "plans_region_api",
}
ADMIN_PUBLIC = {"admin:login", "admin:logout", "admin:password_reset", "admin:view_on_site", "admin:jsi18n"}

ROLES = list(Role.values)
NO_PLACE_TARGETS = ("330106004053", "330106004055", "330106004")


def iter_routes(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from iter_routes(pattern, ns)
        elif isinstance(pattern, URLPattern):
            # unnamed routes keep their namespace, so admin's redirect routes are recognisable
            yield (f"{namespace}{pattern.name}" if pattern.name else namespace or None), pattern


def named_routes():
    return sorted({name for name, _p in iter_routes() if name and not name.endswith(":")})


def test_every_route_has_a_kind():
    unnamed = [str(p.pattern) for name, p in iter_routes() if name is None or name.endswith(":") and name != "admin:"]
    assert unnamed == [], f"routes without a name cannot be checked: {unnamed}"
    missing = [n for n in named_routes() if n not in ROUTE_KINDS and not n.startswith("admin:")]
    assert missing == [], f"add these routes to the permission matrix: {missing}"


def targets_for(role):
    own, sibling, parent = ROLE_PLACES[role]
    if own is None:
        return dict(zip(("own", "sibling", "parent"), NO_PLACE_TARGETS, strict=True))
    return {k: v for k, v in (("own", own), ("sibling", sibling), ("parent", parent)) if v}


def expected_view(role, relation) -> bool:
    if "view" not in ROLE_REGION_ACTIONS[role]:
        return False
    return relation == "own"


@pytest.fixture
def world(zhejiang):
    """A user per role, another user's job and an audit entry on each target region."""
    other = make_user(Role.PROVINCE_ADMIN, username="someone-else")
    users = {role: make_user(role) for role in ROLES}
    jobs, regions = {}, {}
    codes = {c for role in ROLES for c in targets_for(role).values()}
    for code in codes:
        region = Region.objects.get(code=code)
        regions[code] = region
        jobs[code] = Job.objects.create(kind="regions.reload", region=region, created_by=other)
        record_change(actor=other, obj=region, action=AuditAction.UPDATE, before={"name": "x"}, after={"name": "y"})
    # an estate inside each target region and outside the deeper targets
    estates = {code: make_estate(community_in(code, tuple(codes)), name=f"矩阵小区{code}") for code in codes}
    return {"users": users, "jobs": jobs, "regions": regions, "estates": estates}


def page_client(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_client(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _object_url(kind, region, job, estate=None):
    estate_pk = estate.pk if estate is not None else 1
    return {
        "estate_object_page": reverse("estates:detail", args=[estate_pk]),
        "estate_object_api": reverse("api:estate-detail", args=[estate_pk]),
        "estate_history_page": reverse("audit:history", args=["estates.estate", estate_pk]),
        "region_object_page": reverse("regions:detail", args=[region.code]),
        "region_object_api": reverse("api:region-detail", args=[region.code]),
        "region_history_page": reverse("audit:history", args=["regions.region", region.pk]),
        "job_object_page": reverse("jobs:detail", args=[job.pk]),
        "job_object_api": reverse("api:job-detail", args=[job.pk]),
    }[kind]


OBJECT_KINDS = ["region_object_page", "region_object_api", "region_history_page", "job_object_page", "job_object_api",
                "estate_object_page", "estate_object_api", "estate_history_page"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_object_routes(world, role):
    user = world["users"][role]
    failures = []
    for kind in OBJECT_KINDS:
        for relation, code in targets_for(role).items():
            region, job = world["regions"][code], world["jobs"][code]
            client = api_client(user) if kind.endswith("_api") else page_client(user)
            status = client.get(_object_url(kind, region, job, world["estates"][code])).status_code
            want = expected_view(role, relation)
            if want and status != 200 or not want and status not in (403, 404):
                failures.append(f"{kind} {relation} {code}: got {status}, expected {'allow' if want else 'deny'}")
    assert failures == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_list_routes(world, role):
    user = world["users"][role]
    failures = []
    for relation, code in targets_for(role).items():
        want = expected_view(role, relation)
        region, job = world["regions"][code], world["jobs"][code]
        page = page_client(user).get(reverse("regions:list"), {"within": code, "level": region.level})
        seen = f"<code>{code}</code>" in page.content.decode()
        api = api_client(user).get(reverse("api:region-list"), {"within": code, "level": region.level}).json()
        api_seen = any(r["code"] == code for r in api["results"])
        jobs_page = page_client(user).get(reverse("jobs:list")).content.decode()
        job_seen = f'href="{reverse("jobs:detail", args=[job.pk])}"' in jobs_page
        jobs_api = api_client(user).get(reverse("api:job-list")).json()
        job_api_seen = any(j["id"] == job.pk for j in jobs_api["results"])
        audit = api_client(user).get(reverse("api:audit-list"),
                                     {"object_type": "regions.region", "object_id": region.pk}).json()
        audit_seen = any(e["region_code"] == code for e in audit["results"])
        for what, got in (("regions page", seen), ("regions api", api_seen), ("jobs page", job_seen),
                          ("jobs api", job_api_seen), ("audit api", audit_seen)):
            if got != want:
                failures.append(f"{what} {relation} {code}: shown={got}, expected {want}")
    assert failures == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_province_admin_routes(world, role):
    user = world["users"][role]
    allowed = role == Role.PROVINCE_ADMIN
    audit = page_client(user).get(reverse("audit:list"))
    assert (audit.status_code == 200) == allowed, audit.status_code
    reload_page = page_client(user).post(reverse("regions:reload"))
    assert (reload_page.status_code == 302) == allowed and (allowed or reload_page.status_code == 404)
    reload_api = api_client(user).post(reverse("api:region-reload"))
    assert (reload_api.status_code == 202) == allowed, reload_api.status_code
    if not allowed:
        assert reload_api.json()["code"] == "permission_denied"


def admin_pages():
    names = []
    for name, pattern in iter_routes():
        if name and name.startswith("admin:") and name not in ADMIN_PUBLIC and "<" not in str(pattern.pattern):
            names.append(name)
    return sorted(set(names))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_admin_site_is_for_province_admins_only(world, role):
    user = world["users"][role]
    client = page_client(user)
    pages = admin_pages()
    assert "admin:index" in pages and "admin:accounts_user_changelist" in pages
    for name in pages:
        response = client.get(reverse(name))
        if role == Role.PROVINCE_ADMIN:
            # 403: adding to a read-only model (audit entries, jobs); autocomplete without its parameters
            assert response.status_code in (200, 302, 405) or (name.endswith("_add") or name == "admin:autocomplete") and response.status_code == 403, (
                name, response.status_code)
            if name.endswith("_changelist") or name == "admin:index":
                assert response.status_code == 200, name
        else:
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (name, role)


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(world):
    anonymous_page, anonymous_api = Client(), APIClient()
    region, job = world["regions"]["330106"], world["jobs"]["330106"]
    for name, kind in ROUTE_KINDS.items():
        if kind in ("public_page", "public_redirect", "post_action"):
            continue
        if kind in OBJECT_KINDS:
            url = _object_url(kind, region, job)
        else:
            url = _any_url(name)
        if "_api" in kind:
            response = anonymous_api.post(url) if kind.endswith("_post") else anonymous_api.get(url)
            assert response.status_code in (401, 403), (name, response.status_code)
            assert response.json()["code"] in ("not_authenticated", "authentication_failed"), name
        else:
            response = anonymous_page.post(url) if kind.endswith("_post") else anonymous_page.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"], (name, response.status_code)


def _any_url(name):
    """The route's URL, with a placeholder argument when it takes one (anonymous users never reach it)."""
    for args in ([], [1], ["33"], [1, 1]):
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    raise NoReverseMatch(name)


@pytest.mark.django_db
def test_public_pages_answer_anonymous(zhejiang):
    client = Client()
    for name, kind in ROUTE_KINDS.items():
        if kind == "public_page":
            assert client.get(reverse(name)).status_code == 200, name


@pytest.mark.django_db
def test_public_redirects_answer_anonymous(zhejiang):
    client = Client()
    for name, kind in ROUTE_KINDS.items():
        if kind == "public_redirect":
            response = client.get(reverse(name))
            assert response.status_code == 301, name
            # the test client serves no static files: the target must be a file the static finders know
            target = response["Location"].removeprefix(settings.STATIC_URL)
            assert target != response["Location"] and finders.find(target), name


@pytest.mark.django_db
def test_signed_in_pages(world):
    for role in ROLES:
        user = world["users"][role]
        assert page_client(user).get(reverse("home")).status_code == 200
        me = api_client(user).get(reverse("api:me")).json()
        assert me["username"] == user.username
        assert any(m["role"] == role for m in me["memberships"])


@pytest.mark.django_db
def test_retired_region_data_stays_visible_to_successor_officials(zhejiang):
    """Data under 330103 下城区 (merged into 拱墅区 330105) is visible to 拱墅区's official, not to 西湖区's."""
    gongshu = make_user(Role.COUNTY_OFFICIAL, username="gongshu", region_code="330105")
    xihu = make_user(Role.COUNTY_OFFICIAL, username="xihu-test", region_code="330106")
    xiacheng = Region.objects.get(code="330103")
    assert not xiacheng.is_active
    assert page_client(gongshu).get(reverse("regions:detail", args=["330103"])).status_code == 200
    assert page_client(xihu).get(reverse("regions:detail", args=["330103"])).status_code == 404
    assert api_client(gongshu).get(reverse("api:region-detail", args=["330104"])).status_code == 404
    shangcheng = make_user(Role.COUNTY_OFFICIAL, username="shangcheng", region_code="330102")
    assert api_client(shangcheng).get(reverse("api:region-detail", args=["330104"])).status_code == 200


def test_route_kinds_cover_no_stale_entries():
    names = set(named_routes())
    stale = [n for n in ROUTE_KINDS if n not in names]
    assert stale == []



# ---------------------------------------------------------------------------------------------
# estates: list, map, API, pool actions, rules and projects per role × own / sibling / parent


def expected_change(role, relation) -> bool:
    return "change" in ROLE_REGION_ACTIONS[role] and relation == "own"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_estate_list_routes(world, role):
    user = world["users"][role]
    page = page_client(user).get(reverse("estates:list")).content.decode()
    api = api_client(user).get(reverse("api:estate-list"), {"page_size": 100}).json()
    api_codes = {e["code"] for e in api["results"]}
    points = page_client(user).get(reverse("estates:map-data")).json()["points"]
    point_codes = {p[1] for p in points}
    failures = []
    for relation, code in targets_for(role).items():
        estate = world["estates"][code]
        want = expected_view(role, relation)
        searched = api_client(user).get(reverse("api:estate-list"), {"search": estate.code}).json()
        for what, got in (("list page", f'data-estate-code="{estate.code}"' in page),
                          ("list api", estate.code in api_codes),
                          ("api search", any(e["code"] == estate.code for e in searched["results"])),
                          ("map points", estate.code in point_codes)):
            if got != want:
                failures.append(f"{what} {relation} {code}: shown={got}, expected {want}")
    assert api["count"] == len(api_codes) == sum(api["status_counts"].values())
    assert failures == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_estate_action_routes(world, role):
    """Each pool action, by page and by API, moves an estate only where the role may change it."""
    from gaizao.estates.models import Estate

    user = world["users"][role]
    pages, api = page_client(user), api_client(user)
    failures = []
    for relation, code in targets_for(role).items():
        estate = world["estates"][code]
        want = expected_change(role, relation)
        steps = [
            ("page admit", lambda e=estate: pages.post(reverse("estates:admit", args=[e.pk]), {"year": 2024}),
             "pooled"),
            ("api defer", lambda e=estate: api.post(reverse("api:estate-defer", args=[e.pk]), {"reason": "资金"},
                                                    format="json"), "deferred"),
            ("page readmit", lambda e=estate: pages.post(reverse("estates:readmit", args=[e.pk]), {"year": 2025}),
             "pooled"),
            ("page drop", lambda e=estate: pages.post(reverse("estates:drop", args=[e.pk]), {"reason": "不愿意"}),
             "dropped"),
            ("api readmit", lambda e=estate: api.post(reverse("api:estate-readmit", args=[e.pk]), {"year": 2026},
                                                      format="json"), "pooled"),
            ("api drop", lambda e=estate: api.post(reverse("api:estate-drop", args=[e.pk]), {"reason": "不愿意"},
                                                   format="json"), "dropped"),
            ("page defer", lambda e=estate: pages.post(reverse("estates:defer", args=[e.pk]), {"reason": "x"}),
             "dropped"),  # a dropped estate cannot be deferred: refused, unchanged
            ("api admit", lambda e=estate: api.post(reverse("api:estate-admit", args=[e.pk]), {"year": 2024},
                                                    format="json"), "dropped"),
        ]
        for what, call, then in steps:
            before = Estate.objects.get(pk=estate.pk).status
            response = call()
            after = Estate.objects.get(pk=estate.pk).status
            if not want:
                if response.status_code != 404 or after != before:
                    failures.append(f"{what} {relation} {code}: {response.status_code}, {before}→{after}")
            elif after != then or response.status_code not in (200, 302, 400):
                failures.append(f"{what} {relation} {code}: {response.status_code}, {before}→{after}, want {then}")
        fresh = make_estate(estate.region, name=f"批量小区{code}")
        bulk_page = pages.post(reverse("estates:admit-bulk"), {"estates": [fresh.pk], "year": 2024})
        admitted = Estate.objects.get(pk=fresh.pk).status == "pooled"
        if admitted != want or bulk_page.status_code != 302:
            failures.append(f"page bulk admit {relation} {code}: {bulk_page.status_code}, admitted={admitted}")
        other = make_estate(estate.region, name=f"批量二{code}")
        bulk_api = api.post(reverse("api:estate-admit-bulk"), {"estates": [other.pk], "year": 2024}, format="json")
        if (bulk_api.status_code == 200) != want or (not want and bulk_api.status_code != 404):
            failures.append(f"api bulk admit {relation} {code}: {bulk_api.status_code}")
    assert failures == []


def _rules_form(cutoff: int) -> dict:
    return {"policy-cutoff_year": cutoff, "policy-exclude_shantytown": "on",
            "policy-priority_housing_types": ["reformed_public", "public"], "policy-hazard_route": "partial_rebuild",
            "policy-min_willingness": "", "weights-age": "30", "weights-age_full_years": "25",
            "weights-basic_item": "5", "weights-improvement_item": "2", "weights-enhancement_item": "1",
            "weights-deficiency_cap": "30", "weights-willingness": "20", "weights-priority_housing": "10",
            "weights-hazard": "10"}


# role → (may read 330106's rules, may change them, may read 330105's, may change them)
RULES_REACH = {
    Role.PROVINCE_ADMIN: (True, True, True, True),
    Role.CITY_OFFICIAL: (True, True, True, True),
    Role.COUNTY_OFFICIAL: (True, True, False, False),
    Role.STREET_OFFICIAL: (False, False, False, False),
    Role.COMMUNITY_WORKER: (False, False, False, False),
    Role.DEPARTMENT_REVIEWER: (True, False, False, False),
    Role.PROJECT_PARTY: (False, False, False, False),
    Role.RESIDENT: (False, False, False, False),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_rules_routes(world, role):
    from gaizao.estates.models import EligibilityPolicy

    user = world["users"][role]
    client = page_client(user)
    has_region = bool(ROLE_REGION_ACTIONS[role])
    assert client.get(reverse("estates:rules")).status_code == (200 if has_region else 404)
    assert client.get(reverse("estates:rules-edit", args=["33"])).status_code == (200 if has_region else 404)
    province = client.post(reverse("estates:rules-edit", args=["33"]), _rules_form(1998))
    assert province.status_code == (302 if role == Role.PROVINCE_ADMIN else 404)
    assert EligibilityPolicy.objects.get(region__code="33").cutoff_year == (
        1998 if role == Role.PROVINCE_ADMIN else 1999)
    read_own, change_own, read_sibling, change_sibling = RULES_REACH[role]
    for code, may_read, may_change in (("330106", read_own, change_own), ("330105", read_sibling, change_sibling)):
        assert client.get(reverse("estates:rules-edit", args=[code])).status_code == (200 if may_read else 404), code
        saved = client.post(reverse("estates:rules-edit", args=[code]), _rules_form(2000))
        assert saved.status_code == (302 if may_change else 404), (code, saved.status_code)
        assert EligibilityPolicy.objects.filter(region__code=code).exists() == may_change
        reset = client.post(reverse("estates:rules-reset", args=[code]))
        assert reset.status_code == (302 if may_change else 404), code
        assert not EligibilityPolicy.objects.filter(region__code=code).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_project_routes(world, role):
    from gaizao.estates.models import RenovationProject
    from gaizao.estates.services import estates_merge

    user = world["users"][role]
    failures = []
    for relation, code in targets_for(role).items():
        estate = world["estates"][code]
        neighbour = make_estate(estate.region, name=f"邻居{code}")
        project = estates_merge(actor=None, estates=[estate, neighbour], name=f"片区{code}")
        view = page_client(user).get(reverse("estates:project", args=[project.pk])).status_code
        if (view == 200) != expected_view(role, relation) or view not in (200, 404):
            failures.append(f"project page {relation} {code}: {view}")
        dissolve = page_client(user).post(reverse("estates:project-dissolve", args=[project.pk]), {"reason": "重新规划"})
        dissolved = not RenovationProject.objects.get(pk=project.pk).is_active
        if dissolved != expected_change(role, relation) or dissolve.status_code not in (302, 404):
            failures.append(f"project dissolve {relation} {code}: {dissolve.status_code}, dissolved={dissolved}")
        merge = api_client(user).post(reverse("api:estate-merge"), {"estates": [estate.pk, neighbour.pk],
                                                                    "name": "再合并"}, format="json")
        want = expected_change(role, relation)
        if (merge.status_code == 201) != want or (not want and merge.status_code != 404):
            failures.append(f"api merge {relation} {code}: {merge.status_code} {merge.content[:200]}")
    assert failures == []
