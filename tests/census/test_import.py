"""Census import on the real database: messy sheets, errors with Excel row numbers, all or nothing,
valid rows only, idempotence, export round trips, audit, scope, jobs, CLI, API and pages."""

import datetime
import io
import subprocess
import sys
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.core.jobs import execute_job
from gaizao.core.models import AuditEntry, Job, JobStatus
from gaizao.estates.census.exporter import export_bytes
from gaizao.estates.census.importer import census_import
from gaizao.estates.census.jobs import JOB_KIND
from gaizao.estates.census.template import template_bytes
from gaizao.estates.models import Eligibility, Estate, HousingType, ManagementMode

from ..conftest import make_user
from .sheets import csv_bytes, good_row, ods_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db


def run(data, **kw):
    kw.setdefault("actor", None)
    kw.setdefault("filename", "test.xlsx")
    kw.setdefault("dry_run", False)
    return census_import(data=data, **kw)


def messy_sheet() -> bytes:
    headers = [" 小区名称 ", "县(市、区)", "街道", "社区（居委会）", "建成年代", "户数", "楼栋数", "居民改造意愿(%)", "主要问题",
               "是否纳入棚改计划", "房屋性质", "管理方式", "建筑面积(平方米)", "备注"]
    rows = [
        ["翠苑一区 ", "西湖区", "文新街道", "", "1995年", "１,２００", 12, "85%", "供水、排水，道路", "否", "房改房", "准物业",
         "24,000.5", "老小区"],
        ["翠苑二区", "330106", "330106013", "", datetime.date(1994, 6, 1), 300.0, "8栋", 0.9, "电梯;屋顶", "×", "公房",
         "无物业", 9000, ""],
        [],
        ["石灰桥新村", "西湖区", "西溪街道", "330106004053", "1988.06", "450", "15", "85", "", "N", "单位房", "自治", "", ""],
        ["示例：幸福小区", "西湖区", "文新街道", "", 1995, 300, 12, "85%", "", "否", "房改房", "准物业", "", ""],
    ]
    return xlsx_bytes(rows, headers=headers, title="西湖区城镇老旧小区调查摸底表", notes=["单位：户、㎡"])


def test_messy_sheet_imports_as_meant():
    report = run(messy_sheet())
    assert report["committed"] and (report["created"], report["error_count"], report["examples"]) == (3, 0, 1)
    assert report["header_row"] == 3
    one = Estate.objects.get(name="翠苑一区")
    assert (one.built_year, one.households, one.buildings, one.willingness) == (1995, 1200, 12, Decimal("85"))
    assert one.floor_area == Decimal("24000.50") and one.housing_type == HousingType.REFORMED_PUBLIC
    assert one.management_mode == ManagementMode.QUASI and one.region.code == "330106013"
    assert sorted(one.deficiencies.values_list("code", flat=True)) == ["drainage", "roads", "water_supply"]
    two = Estate.objects.get(name="翠苑二区")
    assert (two.built_year, two.willingness, two.management_mode) == (1994, Decimal("90"), ManagementMode.NONE)
    assert sorted(two.deficiencies.values_list("code", flat=True)) == ["elevators", "roof"]
    three = Estate.objects.get(name="石灰桥新村")
    assert three.region.code == "330106004053" and three.housing_type == HousingType.WORK_UNIT
    assert three.eligibility == Eligibility.ELIGIBLE and three.county.code == "330106"
    assert one.code.startswith("330106-")


def test_every_format_reads_the_same():
    rows = [good_row(i) for i in range(1, 4)]
    for data in (xlsx_bytes(rows), csv_bytes(rows), csv_bytes(rows, encoding="gbk"), csv_bytes(rows, encoding="utf-8-sig"),
                 ods_bytes(rows)):
        report = run(data, dry_run=True)
        assert (report["created"], report["error_count"]) == (3, 0), (report["kind"], report["errors"])


@translation.override("en")  # the reasons are checked in their English source wording
def test_errors_name_sheet_row_column_value_reason_and_nothing_is_written():
    rows = [good_row(1), good_row(2, **{"建成年份": "19x5"}), good_row(3, **{"街道（乡镇）": "文新街道", "社区": "石灰桥社区"}),
            good_row(4, **{"县（市、区）": "不存在区"}), good_row(5, **{"户数": -1, "居民改造意愿（%）": "120%"}),
            good_row(6, **{"主要问题": "飞碟降落场"}), good_row(7, **{"小区名称": ""}),
            good_row(8, **{"已有电梯栋数": 20}), good_row(9, **{"纬度": ""})]
    data = xlsx_bytes(rows, title="调查表")
    with pytest.raises(ServiceError) as exc:
        run(data)
    assert Estate.objects.count() == 0 and not AuditEntry.objects.filter(verb="estates.census_import").exists()
    report = exc.value.fields
    found = {(e["row"], e["column"]) for e in report["errors"]}
    assert {(4, "建成年份"), (5, "社区"), (6, "县（市、区）"), (7, "户数"), (7, "居民改造意愿（%）"), (8, "主要问题"),
            (9, "小区名称"), (10, "已有电梯栋数"), (11, "纬度")} <= found, found
    year = next(e for e in report["errors"] if e["row"] == 4)
    assert (year["sheet"], year["cell"], year["value"], year["reason"]) == ("小区", "G4", "19x5", "not a year")
    nest = next(e for e in report["errors"] if e["row"] == 5)
    assert "文新街道" in nest["reason"]
    assert report["invalid_rows"] == 8 and report["valid_rows"] == 1


def test_valid_only_is_an_explicit_choice():
    data = xlsx_bytes([good_row(1), good_row(2, **{"建成年份": "明年"}), good_row(3)])
    report = run(data, valid_only=True)
    assert (report["created"], report["skipped"], report["committed"]) == (2, 1, True)
    assert set(Estate.objects.values_list("name", flat=True)) == {"测试小区1", "测试小区3"}


def test_reimport_changes_nothing_and_export_reimports_unchanged():
    rows = [good_row(i) for i in range(1, 6)] + [good_row(6, **{"社区": "", "小区名称": "=HYPERLINK(\"x\")"}),
                                                 good_row(7, **{"地址": "-1号楼", "主要问题": ""})]
    first = run(xlsx_bytes(rows))
    assert first["created"] == 7
    audit_count = AuditEntry.objects.count()
    stamp = list(Estate.objects.order_by("code").values_list("code", "updated_at"))
    again = run(xlsx_bytes(rows))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 7)
    assert AuditEntry.objects.count() == audit_count
    assert list(Estate.objects.order_by("code").values_list("code", "updated_at")) == stamp
    for fmt in ("xlsx", "csv"):
        exported = export_bytes(Estate.objects.all(), fmt)
        report = run(exported, filename=f"export.{fmt}")
        assert (report["created"], report["updated"], report["unchanged"], report["error_count"]) == (0, 0, 7, 0), fmt
    assert AuditEntry.objects.count() == audit_count


def test_export_cannot_execute_formulas():
    run(csv_bytes([good_row(1, **{"小区名称": "=cmd|' /C calc'!A0", "地址": "@SUM(1+1)"}),
                   good_row(2, **{"地址": "+86 123"})]), filename="x.csv")
    assert Estate.objects.filter(name="=cmd|' /C calc'!A0").exists()
    text = export_bytes(Estate.objects.all(), "csv").decode("utf-8-sig")
    assert "'=cmd" in text and "'@SUM" in text and "'+86" in text
    book = openpyxl.load_workbook(io.BytesIO(export_bytes(Estate.objects.all(), "xlsx")))
    sheet = book.active
    cells = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)


def test_update_is_audited_with_the_import_as_cause():
    run(xlsx_bytes([good_row(1)]), filename="first.xlsx")
    estate = Estate.objects.get()
    report = run(xlsx_bytes([good_row(1, **{"户数": 999, "主要问题": "道路"})]), filename="second.xlsx")
    assert (report["updated"], report["preview"]["updated"][0]["fields"]) == (1, ["households", "deficiencies"])
    assert report["preview"]["updated"][0]["columns"] == ["户数", "主要问题"]
    entry = AuditEntry.objects.filter(object_id=str(estate.pk)).order_by("-id").first()
    assert entry.action == "update" and "second.xlsx" in entry.cause
    assert (entry.before["households"], entry.after["households"]) == (201, 999)
    assert entry.after["deficiencies"] == ["roads"] and entry.region_code == "330106004053"


@translation.override("en")  # the reasons are checked in their English source wording
def test_matching_by_code_and_duplicates():
    run(xlsx_bytes([good_row(1)]))
    code = Estate.objects.get().code
    renamed = run(xlsx_bytes([good_row(1, **{"小区编码": code, "小区名称": "新名字"})]))
    assert renamed["updated"] == 1 and Estate.objects.get().name == "新名字"
    with pytest.raises(ServiceError) as exc:
        run(xlsx_bytes([good_row(2), good_row(2), good_row(3, **{"小区编码": "X-1"}), good_row(4, **{"小区编码": "X-1"})]))
    reasons = {(e["row"], e["column"]): e["reason"] for e in exc.value.fields["errors"]}
    assert "row 2" in reasons[(3, "小区名称")] and "row 4" in reasons[(5, "小区编码")]
    with pytest.raises(ServiceError) as exc:  # a new code for a name the database already has
        run(xlsx_bytes([good_row(9, **{"小区编码": "OTHER-1", "小区名称": "新名字"})]))
    assert code in exc.value.fields["errors"][0]["reason"]


def test_county_official_imports_only_into_their_county():
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu")
    rows = [good_row(1), good_row(2, **{"县（市、区）": "拱墅区", "街道（乡镇）": "米市巷街道", "社区": "夹城巷社区"})]
    with pytest.raises(ServiceError) as exc:
        run(xlsx_bytes(rows), actor=official)
    (error,) = exc.value.fields["errors"]
    assert (error["row"], error["column"]) == (3, "县（市、区）") and "西湖区" in error["reason"]
    street = make_user(Role.STREET_OFFICIAL, username="xixi")
    with pytest.raises(ServiceError) as exc:
        run(xlsx_bytes([good_row(1), good_row(3, **{"街道（乡镇）": "文新街道", "社区": ""})]), actor=street)
    assert [(e["row"], e["column"]) for e in exc.value.fields["errors"]] == [(3, "街道（乡镇）")]
    assert Estate.objects.count() == 0
    assert run(xlsx_bytes([good_row(1)]), actor=official)["created"] == 1


def test_retired_county_is_refused():
    with pytest.raises(ServiceError) as exc:
        run(xlsx_bytes([good_row(1, **{"县（市、区）": "下城区", "街道（乡镇）": "", "社区": ""})]))
    assert {e["column"] for e in exc.value.fields["errors"]} >= {"县（市、区）"} or exc.value.fields["errors"]


def test_file_level_problems():
    with pytest.raises(ServiceError) as exc:
        run(xlsx_bytes([["a", "b"]], headers=["姓名", "电话"]))
    assert exc.value.code == "census_file_invalid"
    with pytest.raises(ServiceError) as exc:
        run(xlsx_bytes([good_row(1)], headers=["小区名称", "县（市、区）", "街道（乡镇）", "户数"]))
    assert exc.value.fields["missing_columns"] == ["建成年份"]
    with pytest.raises(ServiceError):
        run(template_bytes())  # only the example row


def test_template_has_headers_lists_and_example():
    book = openpyxl.load_workbook(io.BytesIO(template_bytes()))
    sheet = book["小区"]
    headers = [c.value for c in sheet[1]]
    assert headers[:4] == ["小区编码", "小区名称*", "县（市、区）*", "街道（乡镇）*"] and "纬度" in headers
    assert sheet["B2"].value.startswith("示例")
    lists = [dv.formula1 for dv in sheet.data_validations.dataValidation if dv.type == "list"]
    assert any("选项" in f for f in lists)
    filled = xlsx_bytes([good_row(1)])
    assert run(filled, dry_run=True)["created"] == 1


def test_job_runs_the_import_and_a_killed_job_leaves_nothing(django_capture_on_commit_callbacks):
    from gaizao.estates.census.jobs import census_commit_start, census_import_start

    admin = make_user(Role.PROVINCE_ADMIN, username="admin-job")
    with django_capture_on_commit_callbacks(execute=False):
        job = census_import_start(actor=admin, data=xlsx_bytes([good_row(1), good_row(2)]), filename="a.xlsx")
    assert execute_job(job) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.result["created"], job.result["dry_run"], Estate.objects.count()) == (2, True, 0)
    with django_capture_on_commit_callbacks(execute=False):
        commit = census_commit_start(actor=admin, job=job)
    commit.params["path"] = job.params["path"]
    assert execute_job(commit) == JobStatus.SUCCEEDED and Estate.objects.count() == 2
    # a job that dies half way (the file vanished for the second one) writes nothing
    with django_capture_on_commit_callbacks(execute=False):
        broken = census_import_start(actor=admin, data=xlsx_bytes([good_row(3), good_row(4, **{"户数": "x"})]),
                                     filename="b.xlsx", dry_run=False)
    assert execute_job(broken) == JobStatus.FAILED
    broken.refresh_from_db()
    assert broken.result["code"] == "census_rows_invalid" and broken.result["fields"]["errors"][0]["row"] == 3
    assert Estate.objects.count() == 2


def test_cli(tmp_path):
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx_bytes([good_row(1)]))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([good_row(1, **{"建成年份": "19x5"})], encoding="gbk"))
    out = io.StringIO()
    call_command("import_census", str(good), "--dry-run", stdout=out)
    assert "created 1" in out.getvalue() and Estate.objects.count() == 0
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_census", str(bad), stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert exit_info.value.code == 1 and "第2行" in err.getvalue() and "建成年份" in err.getvalue()
    call_command("import_census", str(good), stdout=io.StringIO())
    assert Estate.objects.count() == 1
    template = tmp_path / "t.xlsx"
    call_command("census_template", str(template), stdout=io.StringIO())
    assert openpyxl.load_workbook(template)["小区"]["A1"].value == "小区编码"


def test_console_script_exits_non_zero_on_errors(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a spreadsheet at all \x00\x01\x02")
    result = subprocess.run([sys.executable, "-m", "gaizao.cli", "import-census", str(bad), "--dry-run"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_api_import_then_job_status(api_client, django_capture_on_commit_callbacks):
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu-api")
    api_client.force_authenticate(official)
    upload = io.BytesIO(xlsx_bytes([good_row(1), good_row(2, **{"户数": "很多"})]))
    upload.name = "county.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(reverse("api:estate-import"), {"file": upload, "dry_run": "true"},
                                   format="multipart")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == JOB_KIND and job.region.code == "330106"
    execute_job(job)
    body = api_client.get(reverse("api:job-detail", args=[job.pk])).json()
    assert body["status"] == "succeeded" and body["result"]["created"] == 1
    assert body["result"]["errors"][0]["row"] == 3 and body["result"]["errors"][0]["column"] == "户数"
    garbage = io.BytesIO(b"\x00\x01garbage" * 100)
    garbage.name = "x.xlsx"
    response = api_client.post(reverse("api:estate-import"), {"file": garbage}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "census_file_invalid"
    reviewer = make_user(Role.DEPARTMENT_REVIEWER, username="rev-api")
    api_client.force_authenticate(reviewer)
    upload.seek(0)
    assert api_client.post(reverse("api:estate-import"), {"file": upload}, format="multipart").status_code == 404


def test_pages_upload_dry_run_errors_and_commit(client, django_capture_on_commit_callbacks):
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu-page")
    client.force_login(official)
    assert client.get(reverse("census:upload")).status_code == 200
    template = client.get(reverse("census:template"))
    assert template.status_code == 200 and template.content[:2] == b"PK"
    upload = io.BytesIO(xlsx_bytes([good_row(1), good_row(2, **{"建成年份": "19x5"})]))
    upload.name = "x.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("census:upload"), {"file": upload, "mode": "dry_run"})
    assert response.status_code == 302
    job = Job.objects.get(kind=JOB_KIND)
    execute_job(job)
    page = client.get(reverse("census:import", args=[job.pk])).content.decode()
    assert "19x5" in page and 'data-testid="error-row">3<' in page and "commit-valid-only" in page
    errors = client.get(reverse("census:errors", args=[job.pk]))
    book = openpyxl.load_workbook(io.BytesIO(errors.content))
    assert book["错误清单"]["B2"].value == 3 and book["错误清单"]["C2"].value == "建成年份"
    marked = book["标注-小区"]
    assert marked["G3"].value == "19x5" and marked["G3"].comment is not None
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("census:commit", args=[job.pk]), {"valid_only": "1"})
    commit = Job.objects.filter(kind=JOB_KIND).exclude(pk=job.pk).get()
    assert response.status_code == 302 and commit.params["valid_only"] is True
    execute_job(commit)
    assert list(Estate.objects.values_list("name", flat=True)) == ["测试小区1"]
    export = client.get(reverse("census:export"), {"format": "csv", "search": "测试"})
    assert export.status_code == 200 and "测试小区1" in export.content.decode("utf-8-sig")
    garbage = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    garbage.name = "x.csv"
    response = client.post(reverse("census:upload"), {"file": garbage, "mode": "dry_run"})
    assert response.status_code == 400 and "not a spreadsheet" in response.content.decode().lower() or \
        response.status_code == 400


@translation.override("en")
def test_an_unknown_deficiency_names_the_catalogue_items_meant(zhejiang):
    data = xlsx_bytes([good_row(1, 主要问题="屋面防水、供水设施"), good_row(2, 主要问题="电梯加装"),
                       good_row(3, 主要问题="完全无关的词")])
    report = run(data, dry_run=True)
    reasons = {e["row"]: e["reason"] for e in report["errors"] if e["column"] == "主要问题"}
    assert reasons[2] == "not in the content catalogue: 屋面防水; did you mean 屋面?"
    assert reasons[3] == "not in the content catalogue: 电梯加装; did you mean 加装电梯?"
    assert reasons[4] == "not in the content catalogue: 完全无关的词"


@translation.override("en")
def test_a_mistyped_region_names_the_regions_meant(zhejiang):
    data = xlsx_bytes([good_row(1, **{"街道（乡镇）": "西溪路街道", "社区": ""}), good_row(2, **{"县（市、区）": "西胡区"}),
                       good_row(3, **{"街道（乡镇）": "完全没有", "社区": ""})])
    report = run(data, dry_run=True)
    reasons = {e["row"]: e["reason"] for e in report["errors"]}
    assert reasons[2] == "no Street / town of this name inside 西湖区; did you mean 西溪街道?"
    assert reasons[3].startswith("no county of this name in the region tree; did you mean 西湖区")
    assert reasons[4] == "no Street / town of this name inside 西湖区"
    report = run(xlsx_bytes([good_row(1, **{"县（市、区）": "杭州"})]), dry_run=True)
    assert report["errors"][0]["reason"].startswith("杭州市 is a city: give one of its counties (上城区、")


def test_ranks_made_by_the_import_equal_a_ranking_pass(zhejiang):
    """A county the import fills alone is ranked in Python; a later `counties_rerank` (SQL) gives the same ranks,
    ties in score broken by code in code-point order on both databases."""
    from gaizao.estates.services import counties_rerank

    codes = ["b-1", "B-2", "a-3", "A-4", "330106-000009", "330106-000010"]
    rows = [good_row(i, 小区编码=code, 建成年份=1990) for i, code in enumerate(codes, start=1)]
    rows.append(good_row(9, 小区编码="C-9", 建成年份=1985))  # older: a higher score, ranked first
    report = run(xlsx_bytes(rows))
    assert report["created"] == 7
    ranks = dict(Estate.objects.values_list("code", "county_rank"))
    assert [code for code, _rank in sorted(ranks.items(), key=lambda kv: kv[1])] == [
        "C-9", "330106-000009", "330106-000010", "A-4", "B-2", "a-3", "b-1"]
    counties_rerank([Estate.objects.first().county_id])
    assert dict(Estate.objects.values_list("code", "county_rank")) == ranks


def test_a_reimport_moves_an_estate_given_by_code_and_updates_the_others_in_place(zhejiang):
    run(xlsx_bytes([good_row(1, 小区编码="XH-1"), good_row(2, 小区编码="XH-2")]))
    moved_from = Estate.objects.get(code="XH-1").region.code
    report = run(xlsx_bytes([good_row(1, 小区编码="XH-1", 社区="下马塍社区"), good_row(2, 小区编码="XH-2", 户数=999)]))
    assert report["updated"] == 2 and report["error_count"] == 0
    moved, stayed = Estate.objects.get(code="XH-1"), Estate.objects.get(code="XH-2")
    assert (moved.region.code, moved.county.code) == ("330106004055", "330106")
    assert (stayed.region.code, stayed.households) == (moved_from, 999)
    entry = AuditEntry.objects.get(verb="estates.census_import", action="update", object_id=str(moved.pk))
    assert (entry.before["region"], entry.after["region"]) == (moved_from, "330106004055")


@translation.override("en")
def test_two_rows_of_one_estate_are_an_error_not_two_updates(zhejiang):
    """A row renaming the estate by its code and another naming it by its old name would both update it (the
    second winning, or a duplicate link failing the commit)."""
    run(xlsx_bytes([good_row(1, 小区编码="X-1", 小区名称="甲", 主要问题="供水设施")]))
    data = xlsx_bytes([good_row(1, 小区编码="X-1", 小区名称="丙", 主要问题="供水设施、道路"),
                       good_row(3, 小区名称="甲", 主要问题="供水设施、道路")])
    report = run(data, dry_run=True)
    assert report["updated"] == 1 and report["error_count"] == 1
    assert report["errors"][0]["row"] == 3 and report["errors"][0]["column"] == "小区名称"
    assert report["errors"][0]["reason"] == "the same estate (X-1) as row 2"
    with pytest.raises(ServiceError):
        run(data)
    assert list(Estate.objects.values_list("name", flat=True)) == ["甲"]


@translation.override("en")
def test_a_short_name_two_communities_share_is_asked_for_in_full(zhejiang):
    place = {"县（市、区）": "余姚市", "街道（乡镇）": "阳明街道"}
    report = run(xlsx_bytes([good_row(1, **place, 社区="富巷"), good_row(2, **place, 社区="富巷社区")]), dry_run=True)
    assert [(e["row"], e["reason"]) for e in report["errors"]] == [
        (2, "several Community inside 阳明街道 go by this name: 富巷居委会、富巷社区; write the full name or the code")]


@translation.override("en")
def test_hints_stop_after_the_budget(zhejiang, monkeypatch):
    from gaizao.estates.census import importer

    monkeypatch.setattr(importer, "SUGGESTION_BUDGET", 1)
    report = run(xlsx_bytes([good_row(1, 主要问题="屋面防水"), good_row(2, 主要问题="电梯加装")]), dry_run=True)
    reasons = sorted(e["reason"] for e in report["errors"])
    assert sum("did you mean" in r for r in reasons) == 1 and len(reasons) == 2


def test_the_preview_names_changed_fields_by_the_census_columns_headers(client, django_capture_on_commit_callbacks):
    """修改: 小区名称、地址、建成年份 … as the template names the columns, not name, address, built_year."""
    run(xlsx_bytes([good_row(1, 小区编码="XH-PREVIEW-1")]))
    changed = good_row(1, 小区编码="XH-PREVIEW-1", 小区名称="改名小区", 地址="新地址1号", 建成年份=1980, 户数=999,
                       **{"建筑面积（㎡）": 9000, "居民改造意愿（%）": "60%", "社区": ""})  # (now on its street)
    report = run(xlsx_bytes([changed]), dry_run=True)
    (preview,) = report["preview"]["updated"]
    assert preview["fields"] == ["name", "address", "built_year", "households", "floor_area", "willingness", "region"]
    assert preview["columns"] == ["小区名称", "地址", "建成年份", "户数", "建筑面积（㎡）", "居民改造意愿（%）", "社区"]
    moved = good_row(1, 小区编码="XH-PREVIEW-1", **{"街道（乡镇）": "北山街道", "社区": "上保社区"})
    (preview,) = run(xlsx_bytes([moved]), dry_run=True)["preview"]["updated"]
    assert preview["columns"] == ["街道（乡镇）", "社区"]

    client.force_login(make_user(Role.COUNTY_OFFICIAL, username="xihu-preview"))
    upload = io.BytesIO(xlsx_bytes([changed]))
    upload.name = "x.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("census:upload"), {"file": upload, "mode": "dry_run"})
    job = Job.objects.get(kind=JOB_KIND)
    execute_job(job)
    page = client.get(reverse("census:import", args=[job.pk])).content.decode()
    assert "修改: 小区名称、地址、建成年份、户数、建筑面积（㎡）、居民改造意愿（%）、社区" in page
    assert "built_year" not in page and "households" not in page
