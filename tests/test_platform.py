"""Regions loading, audit, API error shape, authentication and jobs."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from gaizao.accounts.models import Membership, User
from gaizao.accounts.scoping import Role
from gaizao.accounts.services import membership_grant, membership_revoke, user_create
from gaizao.core.audit import history_of
from gaizao.core.errors import ServiceError
from gaizao.core.jobs import job_start
from gaizao.core.models import AuditEntry, Job, JobStatus
from gaizao.regions.models import Region
from gaizao.regions.services import regions_load

from .conftest import PASSWORD, make_user

REPO = Path(__file__).resolve().parent.parent


# --- regions -----------------------------------------------------------------

@pytest.mark.django_db
def test_region_tree_is_real_and_complete(zhejiang):
    counts = {level: Region.objects.filter(level=level, is_active=True).count()
              for level in ("province", "city", "county", "street", "community")}
    assert counts == {"province": 1, "city": 11, "county": 90, "street": 1387, "community": 5785}
    xihu = Region.objects.get(code="330106")
    assert xihu.name == "西湖区" and xihu.parent.code == "3301"
    assert all(child.code.startswith(xihu.code) for child in xihu.children.all())


@pytest.mark.django_db
def test_retired_hangzhou_codes_link_to_successors(zhejiang):
    xiacheng, jianggan = Region.objects.get(code="330103"), Region.objects.get(code="330104")
    assert not xiacheng.is_active and not jianggan.is_active
    assert [r.code for r in xiacheng.successors.all()] == ["330105"]
    assert sorted(r.code for r in jianggan.successors.all()) == ["330102", "330114"]


@pytest.mark.django_db
def test_load_regions_is_idempotent(zhejiang):
    before = AuditEntry.objects.count()
    result = regions_load(actor=None)
    assert (result.created, result.updated) == (0, 0)
    assert result.unchanged == Region.objects.count()
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_load_another_province_and_audit_before_after(zhejiang, tmp_path):
    csv_file = tmp_path / "anhui.csv"
    csv_file.write_text("code,name,level,parent_code\n34,安徽省,province,\n3401,合肥市,city,34\n"
                        "340102,瑶海区,county,3401\n", encoding="utf-8")
    out = io.StringIO()
    call_command("load_regions", str(csv_file), stdout=out)
    assert "3 created" in out.getvalue()
    assert Region.objects.get(code="340102").parent.code == "3401"
    csv_file.write_text("code,name,level,parent_code\n34,安徽省,province,\n3401,合肥市（改）,city,34\n"
                        "340102,瑶海区,county,3401\n", encoding="utf-8")
    call_command("load_regions", str(csv_file), stdout=out)
    hefei = Region.objects.get(code="3401")
    entry = history_of(hefei).first()
    assert entry.before["name"] == "合肥市" and entry.after["name"] == "合肥市（改）"


@pytest.mark.django_db
def test_bad_region_file_names_row_and_column_and_writes_nothing(zhejiang, tmp_path):
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("code,name,level,parent_code\n35,福建省,province,\n3501,福州市,city,35\n"
                        "350102,鼓楼区,county,3601\n35X,坏,city,35\n", encoding="utf-8")
    count = Region.objects.count()
    with pytest.raises(ServiceError) as caught:
        regions_load(actor=None, paths=[csv_file])
    rows = caught.value.fields["rows"]
    assert {(r["row"], r["column"]) for r in rows} == {(4, "parent_code"), (5, "code")}
    assert Region.objects.count() == count


@pytest.mark.django_db
def test_gb18030_region_file(zhejiang, tmp_path):
    csv_file = tmp_path / "gbk.csv"
    csv_file.write_bytes("code,name,level,parent_code\n36,江西省,province,\n".encode("gb18030"))
    regions_load(actor=None, paths=[csv_file])
    assert Region.objects.get(code="36").name == "江西省"


# --- audit -------------------------------------------------------------------

@pytest.mark.django_db
def test_every_account_service_write_leaves_an_audit_row(zhejiang):
    admin = make_user(Role.PROVINCE_ADMIN, username="root-admin")
    user = user_create(actor=admin, username="newbie", password=PASSWORD, display_name="新人")
    created = history_of(user).get()
    assert created.action == "create" and created.before is None and created.after["username"] == "newbie"
    assert "password" not in created.after and created.actor == admin

    xihu = Region.objects.get(code="330106")
    membership = membership_grant(actor=admin, user=user, role=Role.COUNTY_OFFICIAL, region=xihu)
    granted = history_of(membership).get()
    assert granted.after["role"] == "county_official" and granted.region_code == "330106"

    membership_revoke(actor=admin, membership=membership)
    revoked = history_of(membership).first()
    assert revoked.before["is_active"] is True and revoked.after["is_active"] is False


@pytest.mark.django_db
def test_role_must_sit_on_the_right_level(zhejiang):
    user = user_create(actor=None, username="x1", password=PASSWORD)
    with pytest.raises(ServiceError) as caught:
        membership_grant(actor=None, user=user, role=Role.COUNTY_OFFICIAL, region=Region.objects.get(code="3301"))
    assert caught.value.code == "region_level_mismatch"
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_or_deleted(zhejiang):
    user = user_create(actor=None, username="x2", password=PASSWORD)
    entry = history_of(user).get()
    entry.cause = "tampered"
    with pytest.raises(ServiceError):
        entry.save()
    with pytest.raises(ServiceError):
        entry.delete()
    with pytest.raises(ServiceError):
        AuditEntry.objects.filter(pk=entry.pk).update(cause="tampered")
    with pytest.raises(ServiceError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).cause == ""


@pytest.mark.django_db
def test_audit_carries_the_request_id(client, zhejiang):
    make_user(Role.COUNTY_OFFICIAL, username="rid-user")
    response = client.post(reverse("login"), {"username": "rid-user", "password": PASSWORD},
                           HTTP_X_REQUEST_ID="req-abcdef123456")
    assert response.status_code == 302 and response["X-Request-ID"] == "req-abcdef123456"
    login_entry = AuditEntry.objects.filter(verb="accounts.sign_in").get()
    assert login_entry.request_id == "req-abcdef123456"


@pytest.mark.django_db
def test_audit_api_filters_by_object(api_client, zhejiang):
    admin = make_user(Role.PROVINCE_ADMIN, username="audit-admin")
    other = user_create(actor=admin, username="audited", password=PASSWORD)
    api_client.force_authenticate(admin)
    body = api_client.get("/api/v1/audit/", {"object_type": "accounts.user", "object_id": other.pk}).json()
    assert body["count"] == 1 and body["results"][0]["object_repr"] == "audited"
    bad = api_client.get("/api/v1/audit/", {"object_type": "nope.nothing"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid" and list(bad.json()["fields"]) == ["object_type"]


@pytest.mark.django_db
def test_history_page_shows_changes(client, zhejiang, tmp_path):
    admin = make_user(Role.PROVINCE_ADMIN, username="hist-admin")
    region = Region.objects.get(code="330106")
    csv_file = tmp_path / "rename.csv"
    csv_file.write_text("code,name,level,parent_code\n330106,西湖区（测试）,county,3301\n", encoding="utf-8")
    regions_load(actor=admin, paths=[csv_file])
    client.force_login(admin)
    page = client.get(reverse("audit:history", args=["regions.region", region.pk])).content.decode()
    assert "西湖区（测试）" in page and "hist-admin" in page


@pytest.mark.django_db
@pytest.mark.parametrize("object_type, object_id", [
    ("estates.estate", "abc"),  # QA: ValueError "Field 'id' expected a number", a 500
    ("estates.estate", "1.5"),
    ("estates.estate", "-1"),
    ("estates.estate", "１２"),  # full-width digits
    ("estates.estate", "²"),
    ("estates.estate", "9223372036854775808"),  # one past the largest 64-bit id
    ("estates.estate", "9" * 40),
    ("regions.region", "\x00"),
    ("regions.region", "1\x00"),
    ("nope.nothing", "1"),  # an unknown model label
    ("estates", "1"),
    ("estates.estate.x", "1"),
    ("accounts.user", "1"),  # a model that is not region-scoped
    ("\x00", "1"),
    # QA: AttributeError "Manager isn't available; 'auth.User' has been swapped", a 500 for anyone signed in
    ("auth.user", "1"),
    ("auth.abstractuser", "1"),  # abstract: no model of that name
    ("auth.group", "1"),
    ("contenttypes.contenttype", "1"),
    ("sessions.session", "1"),
    ("admin.logentry", "1"),
    ("authtoken.token", "1"),
    ("authtoken.tokenproxy", "1"),  # a proxy model (of a table outside the region scoping)
    ("django_tasks_db.dbtaskresult", "1"),
])
@pytest.mark.parametrize("role", [Role.PROVINCE_ADMIN, Role.COUNTY_OFFICIAL])
def test_history_page_for_a_malformed_object_is_404_never_500(client, zhejiang, object_type, object_id, role):
    client.force_login(make_user(role, username="hist-404"))
    url = reverse("audit:history", args=["x.y", "1"]).replace("x.y", quote(object_type)).replace(
        "/1/", f"/{quote(object_id)}/")
    assert client.get(url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("query", [
    {"object_type": "\x00"}, {"object_id": "\x00"}, {"actor": "a\x00"}, {"request_id": "\x00"},
    {"region": "33\x00"}, {"action": "\x00"}, {"since": "\x00"}, {"page": "9" * 40},
])
def test_audit_list_with_junk_filters_never_answers_500(client, api_client, zhejiang, query):
    admin = make_user(Role.PROVINCE_ADMIN, username="audit-junk")
    client.force_login(admin)
    assert client.get(reverse("audit:list"), query).status_code in (200, 400)
    api_client.force_authenticate(admin)
    response = api_client.get("/api/v1/audit/", query)
    assert response.status_code in (200, 400, 404), response.status_code
    if response.status_code != 200:
        assert set(response.json()) == {"code", "message", "fields"}


# --- API ---------------------------------------------------------------------

@pytest.mark.django_db
def test_token_auth_and_region_filters(api_client, zhejiang):
    make_user(Role.CITY_OFFICIAL, username="hz")
    response = api_client.post("/api/v1/auth/token/", {"username": "hz", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = api_client.get("/api/v1/regions/", {"level": "county", "parent": "3301"}).json()
    codes = [r["code"] for r in body["results"]]
    assert "330106" in codes and "330103" in codes and all(c.startswith("3301") for c in codes)
    assert body["count"] == len(codes) == 15  # 13 current + 2 retired counties of Hangzhou


@pytest.mark.django_db
def test_wrong_credentials_then_throttled(api_client, zhejiang, settings):
    make_user(Role.CITY_OFFICIAL, username="guess-me")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        wrong = api_client.post("/api/v1/auth/token/", {"username": "guess-me", "password": "nope"}, format="json")
        assert wrong.status_code == 400 and wrong.json()["code"] == "authentication_failed"
    blocked = api_client.post("/api/v1/auth/token/", {"username": "guess-me", "password": PASSWORD}, format="json")
    assert blocked.status_code == 429 and blocked.json()["code"] == "throttled"


@pytest.mark.django_db
def test_login_page_throttles_too(client, zhejiang, settings):
    make_user(Role.CITY_OFFICIAL, username="page-guess")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        page = client.post(reverse("login"), {"username": "page-guess", "password": "nope"})
        assert page.status_code == 200 and "用户名或密码错误" in page.content.decode("utf-8")
    assert client.post(reverse("login"), {"username": "page-guess", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("query, field", [
    ({"parent": "999999"}, "parent"),
    ({"within": "33ZZ"}, "within"),
])
def test_unknown_region_codes_are_400(api_client, user_for, query, field):
    api_client.force_authenticate(user_for(Role.PROVINCE_ADMIN))
    response = api_client.get("/api/v1/regions/", query)
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_region" and field in response.json()["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("path, query", [
    ("/api/v1/regions/", {"level": "galaxy"}),
    ("/api/v1/regions/", {"is_active": "maybe"}),
    ("/api/v1/audit/", {"since": "yesterday-ish"}),
    ("/api/v1/jobs/", {"status": "exploded"}),
])
def test_malformed_filters_are_400_with_the_error_shape(api_client, user_for, path, query):
    api_client.force_authenticate(user_for(Role.PROVINCE_ADMIN))
    response = api_client.get(path, query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and body["code"] == "invalid" and body["fields"]


@pytest.mark.django_db
def test_bad_json_is_400(api_client, zhejiang):
    response = api_client.generic("POST", "/api/v1/auth/token/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


@pytest.mark.django_db
def test_unknown_api_route_and_object_are_404_json(api_client, user_for):
    api_client.force_authenticate(user_for(Role.PROVINCE_ADMIN))
    assert api_client.get("/api/v1/regions/000000/").json()["code"] == "not_found"
    missing = api_client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@pytest.mark.django_db
def test_pagination(api_client, user_for):
    api_client.force_authenticate(user_for(Role.PROVINCE_ADMIN))
    body = api_client.get("/api/v1/regions/", {"level": "street", "page_size": 10, "page": 2}).json()
    assert body["count"] == 1387 and len(body["results"]) == 10 and body["previous"]


def test_openapi_schema_validates_without_warnings():
    from openapi_spec_validator import validate

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gaizao.settings"}
    run = subprocess.run([sys.executable, "-m", "gaizao.cli", "spectacular", "--format", "openapi-json",
                          "--validate", "--fail-on-warn"], capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr and "Error" not in run.stderr, run.stderr
    schema = json.loads(run.stdout)
    validate(schema)
    assert "/api/v1/regions/" in schema["paths"] and "/api/v1/auth/token/" in schema["paths"]


@pytest.mark.django_db
def test_api_docs_are_served_locally(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()


# --- jobs --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_regions_reload_job_runs_on_the_real_worker(zhejiang, api_client):
    admin = make_user(Role.PROVINCE_ADMIN, username="job-admin")
    api_client.force_authenticate(admin)
    response = api_client.post("/api/v1/regions/reload/")
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert Job.objects.get(pk=job_id).status == JobStatus.QUEUED
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)
    body = api_client.get(f"/api/v1/jobs/{job_id}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    assert body["result"]["unchanged"] == Region.objects.count()


@pytest.mark.django_db
def test_job_page_polls_until_done(client, zhejiang, django_capture_on_commit_callbacks):
    admin = make_user(Role.PROVINCE_ADMIN, username="poll-admin")
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        job = job_start(actor=admin, kind="regions.reload", region=Region.objects.get(code="33"))
    client.force_login(admin)
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page and "<progress" in page
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, progress=100)
    partial = client.get(reverse("jobs:detail", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial and "<html" not in partial


@pytest.mark.django_db
def test_failed_job_keeps_its_reason_and_writes_nothing(zhejiang, tmp_path, django_capture_on_commit_callbacks):
    from gaizao.core.jobs import execute_job

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\n37,山东省,province,\n3701,济南市,city,38\n", encoding="utf-8")
    admin = make_user(Role.PROVINCE_ADMIN, username="fail-admin")
    with django_capture_on_commit_callbacks(execute=False):
        job = job_start(actor=admin, kind="regions.reload", region=Region.objects.get(code="33"),
                        params={"paths": [str(bad)]})
    assert execute_job(job) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == "failed" and job.result["code"] == "region_file_invalid"
    assert job.result["fields"]["rows"][0]["row"] == 3
    assert not Region.objects.filter(code__in=["37", "3701"]).exists()


# --- set-up and settings -----------------------------------------------------

def test_console_script_runs_our_commands():
    run = subprocess.run([str(REPO / ".venv/bin/gaizao"), "help", "load-regions"], capture_output=True, text=True)
    assert run.returncode == 0 and "Load a region tree" in run.stdout


def test_production_settings_pass_deploy_check():
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
           "GAIZAO_ENV": "production", "SECRET_KEY": "x" * 64 + "Zq9!vL2#pR7@",
           "ALLOWED_HOSTS": "gaizao.example.org", "DATABASE_URL": "sqlite:////tmp/gaizao-deploy-check.sqlite3"}
    run = subprocess.run([str(REPO / ".venv/bin/gaizao"), "check", "--deploy", "--fail-level", "WARNING"],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues" in run.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(GAIZAO_ENV="production", ALLOWED_HOSTS="gaizao.example.org")
    run = subprocess.run([str(REPO / ".venv/bin/gaizao"), "check"], capture_output=True, text=True, env=env)
    assert run.returncode != 0 and "SECRET_KEY" in run.stderr


@pytest.mark.django_db
def test_admin_is_for_province_admins(client, zhejiang):
    county = make_user(Role.COUNTY_OFFICIAL, username="not-admin")
    county.is_staff = True  # even a staff flag does not open the admin without the role
    county.save()
    client.force_login(county)
    assert client.get("/admin/").status_code == 302
    admin = make_user(Role.PROVINCE_ADMIN, username="real-admin")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200
    assert User.objects.get(username="real-admin").is_staff


@pytest.mark.django_db
def test_admin_membership_form_refuses_a_role_on_the_wrong_level(client, zhejiang):
    admin = make_user(Role.PROVINCE_ADMIN, username="form-admin")
    target = user_create(actor=admin, username="form-target", password=PASSWORD)
    client.force_login(admin)
    response = client.post("/admin/accounts/membership/add/", {
        "user": target.pk, "role": Role.COUNTY_OFFICIAL, "region": Region.objects.get(code="3301").pk,
        "is_active": "on"})
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert not Membership.objects.filter(user=target).exists()
    response = client.post("/admin/accounts/membership/add/", {
        "user": target.pk, "role": Role.COUNTY_OFFICIAL, "region": Region.objects.get(code="330106").pk,
        "is_active": "on"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=target)
    assert history_of(membership).get().actor == admin


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_shown_as_failed(api_client, zhejiang, settings):
    from datetime import timedelta

    from django.utils import timezone

    admin = make_user(Role.PROVINCE_ADMIN, username="stale-admin")
    region = Region.objects.get(code="33")
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 5)
    dead = Job.objects.create(kind="regions.reload", region=region, created_by=admin, status=JobStatus.RUNNING,
                              heartbeat_at=long_ago)
    alive = Job.objects.create(kind="regions.reload", region=region, created_by=admin, status=JobStatus.RUNNING,
                               heartbeat_at=timezone.now())
    api_client.force_authenticate(admin)
    assert api_client.get(f"/api/v1/jobs/{dead.pk}/").json()["status"] == "failed"
    assert api_client.get(f"/api/v1/jobs/{alive.pk}/").json()["status"] == "running"
    dead.refresh_from_db()
    assert dead.error and dead.finished_at is not None


def test_starting_django_does_not_load_the_optimiser():
    """Every process (web, worker, command) starts Django; the optimiser (highspy, numpy) is loaded only
    by what plans, so a census import does not carry its memory (17 MB of peak RSS when it did)."""
    code = ("import django, sys; django.setup(); "
            "print(sorted(m for m in ('highspy', 'numpy', 'gaizao.plans.optimiser') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "gaizao.settings"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
