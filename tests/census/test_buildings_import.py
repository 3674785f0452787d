"""Buildings (楼栋) and households (住户) imported with the census as further sheets of the same file:
estates, buildings and households all or nothing, matching and idempotence, audit with the import as
cause, owners' phones masked wherever they are shown, dry-run counts, pages and scope."""

import io
import json

import openpyxl
import pytest
import xlsxwriter
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.core.jobs import execute_job
from gaizao.core.models import AuditEntry, Job
from gaizao.estates.census.buildings import BUILDING_COLUMNS, HOUSEHOLD_COLUMNS, parse_phone
from gaizao.estates.census.importer import census_import
from gaizao.estates.census.jobs import JOB_KIND
from gaizao.estates.census.template import template_bytes
from gaizao.estates.census.values import ValueProblem
from gaizao.estates.models import Building, BuildingStructure, Estate, Household

from ..conftest import make_user
from .sheets import HEADERS, good_row

pytestmark = pytest.mark.django_db

B_HEADERS = [c.header for c in BUILDING_COLUMNS]
H_HEADERS = [c.header for c in HOUSEHOLD_COLUMNS]
PHONE = "13812345678"
XIHU = {"县（市、区）": "西湖区", "街道（乡镇）": "西溪街道", "社区": "石灰桥社区"}
GONGSHU = {"县（市、区）": "拱墅区", "街道（乡镇）": "米市巷街道", "社区": "夹城巷社区"}


def building(estate: str = "测试小区1", number="1", place=XIHU, **over) -> dict:
    row = {"小区编码": "", "小区名称": estate, **place, "楼栋号": number, "层数": 6, "单元数": 2, "户数": 24,
           "是否有电梯": "否", "结构": "砖混", "建成年份": 1991}
    row.update(over)
    return row


def household(estate: str = "测试小区1", number="1", room="101", place=XIHU, **over) -> dict:
    row = {"小区编码": "", "小区名称": estate, **place, "楼栋号": number, "单元": "1", "室号": room, "所在楼层": 1,
           "套内建筑面积（㎡）": 56.5, "业主姓名": "张三", "联系电话": PHONE}
    row.update(over)
    return row


def workbook(*sheets) -> bytes:
    """An xlsx of (name, headers, rows) sheets, rows as dicts by header."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False, "strings_to_formulas": False})
    for name, headers, rows in sheets:
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, headers)
        for r, row in enumerate(rows, start=1):
            for c, h in enumerate(headers):
                value = row.get(h, "")
                if isinstance(value, int | float) and not isinstance(value, bool):
                    ws.write_number(r, c, value)
                elif value not in ("", None):
                    ws.write_string(r, c, str(value))
    wb.close()
    return buffer.getvalue()


def book(*, estates=None, buildings=None, households=None, names=("小区", "楼栋", "住户")) -> bytes:
    """Estate, building and household sheets (those given), in this order."""
    return workbook(*((name, headers, rows) for name, headers, rows in zip(
        names, (HEADERS, B_HEADERS, H_HEADERS), (estates, buildings, households), strict=True) if rows is not None))


def run(data, **kw):
    kw.setdefault("actor", None)
    kw.setdefault("filename", "buildings.xlsx")
    kw.setdefault("dry_run", False)
    return census_import(data=data, **kw)


def full_file(**over) -> bytes:
    """Two estates, three buildings and four households (and an example row in each further sheet);
    `over` replaces whole sheets."""
    sheets = {
        "estates": [good_row(1), good_row(2)],
        "buildings": [building(number="1"), building(number="2", 层数=7, 是否有电梯="是", 结构="框架"),
                      building("测试小区2", "A"), building("示例：幸福小区", "1")],
        "households": [household(room="101"), household(room="102", 联系电话="+86 139-8765-4321"),
                       household(number="2", room="701", 所在楼层=7, 联系电话="(0571)8765-4321"),
                       household("测试小区2", "A", "201", 单元="", 业主姓名="", 联系电话=""),
                       household("示例：幸福小区", "1", "101")],
    }
    sheets.update(over)
    return book(**sheets)


def test_estates_buildings_and_households_in_one_file():
    report = run(full_file())
    assert report["committed"] and report["error_count"] == 0, report["errors"]
    assert (report["created"], report["buildings_created"], report["households_created"]) == (2, 3, 4)
    assert report["examples"] == 2
    assert report["further_sheets"]["buildings"] == {"sheet": "楼栋", "header_row": 1, "rows": 3}
    one = Estate.objects.get(name="测试小区1")
    b2 = Building.objects.get(estate=one, number="2")
    assert (b2.floors, b2.units, b2.households, b2.has_elevator, b2.structure, b2.built_year) == (
        7, 2, 24, True, BuildingStructure.FRAME, 1991)
    phones = dict(Household.objects.values_list("room", "owner_phone"))
    assert phones == {"101": PHONE, "102": "13987654321", "701": "057187654321", "201": ""}
    h = Household.objects.get(room="701")
    assert (h.building, h.unit, h.floor, str(h.floor_area)) == (b2, "1", 7, "56.50")
    assert Household.objects.get(room="201").building.estate.name == "测试小区2"
    # audited with the import as cause, the region of the estate, and the phone masked
    entries = AuditEntry.objects.filter(verb="estates.census_import", cause__contains="buildings.xlsx")
    assert entries.filter(object_type__model="building").count() == 3
    entry = entries.get(object_type__model="household", object_id=str(Household.objects.get(room="101").pk))
    assert entry.after["owner_phone"] == "138****5678" and entry.region_code == "330106004053"
    assert entry.after["building"] == "1" and entry.after["estate"] == one.code
    assert PHONE not in json.dumps(list(entries.values_list("after", flat=True)))


@translation.override("en")
def test_household_in_an_unknown_building_blocks_the_whole_file():
    data = full_file(households=[household(room="101"), household(number="9", room="901")])
    with pytest.raises(ServiceError) as exc:
        run(data)
    assert exc.value.code == "census_rows_invalid"
    assert (Estate.objects.count(), Building.objects.count(), Household.objects.count()) == (0, 0, 0)
    assert not AuditEntry.objects.filter(verb="estates.census_import").exists()
    (error,) = exc.value.fields["errors"]
    assert (error["sheet"], error["row"], error["column"], error["cell"], error["value"]) == (
        "住户", 3, "楼栋号", "F3", "9")
    assert "no building 9" in error["reason"]
    # valid_only imports everything else, and says so
    report = run(data, valid_only=True)
    assert (report["created"], report["buildings_created"], report["households_created"]) == (2, 3, 1)
    assert report["skipped"] == 1


@translation.override("en")
def test_errors_name_their_sheet_and_rows_of_an_invalid_building_are_traced():
    data = book(estates=[good_row(1)],
                buildings=[building(number="1", 层数=300), building(number="2"), building(number="2"),
                           building("没有的小区", "1")],
                households=[household(number="1", room="101"), household(number="2", room="201", 所在楼层=9),
                            household(number="2", room="202", 室号=""), household(number="2", room="203", 结构="x")])
    with pytest.raises(ServiceError) as exc:
        run(data)
    found = {(e["sheet"], e["row"], e["column"]): e["reason"] for e in exc.value.fields["errors"]}
    assert found[("楼栋", 2, "层数")] == "must be at most 200"
    assert "row 3" in found[("楼栋", 4, "楼栋号")]
    assert "no estate of this name" in found[("楼栋", 5, "小区名称")]
    assert "row 2" in found[("住户", 2, "楼栋号")] and "invalid" in found[("住户", 2, "楼栋号")]
    assert "6 floors" in found[("住户", 3, "所在楼层")]
    assert found[("住户", 4, "室号")] == "required"
    assert exc.value.fields["invalid_rows"] == 6


def test_reimport_changes_nothing_and_a_changed_building_updates():
    run(full_file(), filename="first.xlsx")
    audit = AuditEntry.objects.count()
    again = run(full_file(), filename="again.xlsx")
    assert (again["buildings_created"], again["buildings_updated"], again["buildings_unchanged"]) == (0, 0, 3)
    assert (again["households_created"], again["households_updated"], again["households_unchanged"]) == (0, 0, 4)
    assert AuditEntry.objects.count() == audit
    changed = full_file(buildings=[building(number="1", 是否有电梯="是", 层数=7), building(number="2", 层数=7,
                                                                                  是否有电梯="是", 结构="框架"),
                                   building("测试小区2", "A")])
    report = run(changed, filename="second.xlsx")
    assert (report["buildings_updated"], report["buildings_unchanged"], report["updated"]) == (1, 2, 0)
    assert report["preview_buildings"]["updated"][0]["fields"] == ["floors", "has_elevator"]
    assert report["preview_buildings"]["updated"][0]["columns"] == ["层数", "是否有电梯"]  # as the template names them
    b1 = Building.objects.get(estate__name="测试小区1", number="1")
    assert (b1.floors, b1.has_elevator) == (7, True)
    entry = AuditEntry.objects.filter(object_type__model="building", object_id=str(b1.pk)).order_by("-id")[0]
    assert entry.action == "update" and "second.xlsx" in entry.cause
    assert (entry.before["floors"], entry.after["floors"], entry.after["has_elevator"]) == (6, 7, True)
    assert Building.objects.count() == 3 and Household.objects.count() == 4


@translation.override("en")
def test_phones_are_masked_in_errors_previews_and_audit():
    run(full_file())
    new_phone = "13955556666"
    report = run(full_file(households=[household(room="101", 联系电话=new_phone)]), dry_run=True)
    assert report["households_updated"] == 1
    (preview,) = report["preview_households"]["updated"]
    assert preview["owner_phone"] == "139****6666" and preview["fields"] == ["owner_phone"]
    assert preview["columns"] == ["联系电话"]
    assert new_phone not in json.dumps(report, ensure_ascii=False)
    run(full_file(households=[household(room="101", 联系电话=new_phone)]))
    h = Household.objects.get(room="101")
    assert h.owner_phone == new_phone and h.owner_phone_masked == "139****6666"
    entry = AuditEntry.objects.filter(object_type__model="household", object_id=str(h.pk)).order_by("-id")[0]
    assert (entry.before["owner_phone"], entry.after["owner_phone"]) == ("138****5678", "139****6666")
    bad = "1381234567x9"
    with pytest.raises(ServiceError) as exc:
        run(full_file(households=[household(room="101", 联系电话=bad), household(room="102", 联系电话="1381234567")]))
    errors = exc.value.fields["errors"]
    assert [(e["column"], e["row"]) for e in errors] == [("联系电话", 2), ("联系电话", 3)]
    assert errors[0]["value"] == "138*****67x9" and errors[1]["value"] == "138***4567"
    text = json.dumps(exc.value.fields, ensure_ascii=False)
    assert bad not in text and "1381234567" not in text
    assert "11 digits" in errors[1]["reason"]


def test_parse_phone():
    assert parse_phone(13812345678.0) == PHONE
    assert parse_phone("０５７１－８７６５４３２１") == "057187654321"
    assert parse_phone("0086 138 1234 5678") == PHONE
    assert parse_phone(" ") is None
    for bad in ("138/139", "12345", "1381234567", True):
        with pytest.raises(ValueProblem):
            parse_phone(bad)


def test_dry_run_counts_and_the_job_page(client, django_capture_on_commit_callbacks):
    report = run(full_file(), dry_run=True)
    assert (report["created"], report["buildings_created"], report["households_created"]) == (2, 3, 4)
    assert not report["committed"] and Building.objects.count() == 0 and Estate.objects.count() == 0
    assert report["valid_rows"] == 2 + 3 + 4
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu-buildings")
    client.force_login(official)
    upload = io.BytesIO(full_file())
    upload.name = "b.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("census:upload"), {"file": upload, "mode": "dry_run"})
    job = Job.objects.get(kind=JOB_KIND)
    execute_job(job)
    with translation.override("en"):
        page = client.get(reverse("census:import", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="further-counts"' in page and "138****5678" in page and PHONE not in page
    assert 'data-testid="commit"' in page
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("census:commit", args=[job.pk]))
    commit = Job.objects.filter(kind=JOB_KIND).exclude(pk=job.pk).get()
    execute_job(commit)
    assert Household.objects.count() == 4
    page = client.get(reverse("census:import", args=[commit.pk])).content.decode()
    assert 'data-testid="further-counts"' in page
    estate = Estate.objects.get(name="测试小区1")
    detail = client.get(reverse("estates:detail", args=[estate.pk])).content.decode()
    assert "138****5678" in detail and PHONE not in detail and "057*****4321" in detail


@translation.override("en")
def test_a_county_official_cannot_attach_buildings_to_another_countys_estate():
    run(book(estates=[good_row(1), good_row(2, **GONGSHU)]))
    other = Estate.objects.get(name="测试小区2")
    official = make_user(Role.COUNTY_OFFICIAL, username="xihu-only")
    by_code = building("", "1", place={}, 小区编码=other.code)
    by_name = building("测试小区2", "2", place=GONGSHU)
    with pytest.raises(ServiceError) as exc:
        run(book(buildings=[building("测试小区1", "1"), by_code, by_name]), actor=official)
    errors = {(e["row"], e["column"]): e["reason"] for e in exc.value.fields["errors"]}
    assert set(errors) == {(3, "小区编码"), (4, "县（市、区）")}
    assert "no estate with this code" in errors[(3, "小区编码")] and "西湖区" in errors[(4, "县（市、区）")]
    assert Building.objects.count() == 0
    # the same rows within their own county go in, by code as well as by name
    own = Estate.objects.get(name="测试小区1")
    report = run(book(buildings=[building("测试小区1", "1"), building("", "2", place={}, 小区编码=own.code)]),
                 actor=official)
    assert report["buildings_created"] == 2 and report["rows"] == 0 and report["sheet"] == ""


def test_sheets_found_by_their_headers_and_an_estate_renamed_in_the_same_file():
    run(book(estates=[good_row(1)]))
    code = Estate.objects.get().code
    data = book(estates=[good_row(1, 小区编码=code, 小区名称="新名字")], buildings=[building("新名字", "1")],
                households=[household("新名字", "1", "101")], names=("Sheet1", "Sheet2", "Sheet3"))
    report = run(data)
    assert (report["updated"], report["buildings_created"], report["households_created"]) == (1, 1, 1)
    assert report["further_sheets"]["households"]["sheet"] == "Sheet3"
    assert Household.objects.get().building.estate.code == code
    # a household sheet first, with no sheet called 小区: still told apart from the estate sheet
    data = workbook(("Sheet1", H_HEADERS, [household("新名字", "1", "102")]),
                    ("Sheet2", HEADERS, [good_row(1, 小区编码=code, 小区名称="新名字")]))
    report = run(data)
    assert (report["sheet"], report["unchanged"], report["households_created"]) == ("Sheet2", 1, 1)
    assert report["further_sheets"]["households"]["sheet"] == "Sheet1"


def test_template_has_the_building_and_household_sheets(tmp_path):
    book_ = openpyxl.load_workbook(io.BytesIO(template_bytes()))
    buildings, households = book_["楼栋"], book_["住户"]
    assert [c.value for c in buildings[1]][:7] == ["小区编码", "小区名称", "县（市、区）", "街道（乡镇）", "社区", "楼栋号*",
                                                  "层数"]
    assert "联系电话" in [c.value for c in households[1]]
    assert buildings["B2"].value.startswith("示例") and households["B2"].value.startswith("示例")
    with pytest.raises(ServiceError):
        run(template_bytes())  # only example rows
    out = tmp_path / "t.xlsx"
    call_command("census_template", str(out), stdout=io.StringIO())
    assert {"小区", "楼栋", "住户"} <= set(openpyxl.load_workbook(out).sheetnames)
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(full_file())
    call_command("import_census", str(filled), "--dry-run", stdout=(printed := io.StringIO()))
    assert "households (sheet 住户, 4 rows): created 4" in printed.getvalue()


def test_the_error_workbook_marks_cells_in_their_own_sheet(client, django_capture_on_commit_callbacks):
    admin = make_user(Role.PROVINCE_ADMIN, username="admin-buildings")
    client.force_login(admin)
    upload = io.BytesIO(full_file(households=[household(room="101", 联系电话="12")]))
    upload.name = "bad.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("census:upload"), {"file": upload, "mode": "dry_run"})
    job = Job.objects.get(kind=JOB_KIND)
    execute_job(job)
    errors = openpyxl.load_workbook(io.BytesIO(client.get(reverse("census:errors", args=[job.pk])).content))
    assert errors["错误清单"]["A2"].value == "住户" and errors["错误清单"]["E2"].value == "**"
    marked = errors["标注-住户"]
    assert marked["L2"].comment is not None and marked["L2"].value == "**"
    assert "标注-小区" not in errors.sheetnames  # only sheets with problems are copied


@translation.override("en")
def test_more_buildings_or_dwellings_than_the_estate_declares_is_a_warning():
    # in the file: 测试小区1 says 2 buildings and lists 3; 测试小区2 says 10 and lists 1 (fewer is common)
    data = full_file(estates=[good_row(1, 楼栋数=2), good_row(2)],
                     buildings=[building(number="1"), building(number="2", 层数=7), building(number="3"),
                                building("测试小区2", "A")])
    report = run(data, dry_run=True)
    assert report["error_count"] == 0, report["errors"]
    report = run(data)
    assert report["committed"] and report["error_count"] == 0, report["errors"]
    warnings = [w for w in report["warnings"] if "more buildings" in w]
    code = Estate.objects.get(name="测试小区1").code
    assert warnings == [f"Sheet 楼栋 lists more buildings than the estate sheet's 楼栋数 for 1 estates: "
                        f"测试小区1（{code}）3 > 2"]
    assert not [w for w in report["warnings"] if "dwellings" in w]
    # an estate only in the database: its 户数 there (201) against the household sheet of a later file
    Estate.objects.filter(code=code).update(households=2)
    later = book(households=[household(room="101"), household(room="102"), household(room="103")])
    report = run(later, dry_run=True)
    assert report["error_count"] == 0, report["errors"]
    assert [w for w in report["warnings"] if "dwellings" in w] == [
        f"Sheet 住户 lists more dwellings than the estate sheet's 户数 for 1 estates: 测试小区1（{code}）3 > 2"]


def test_building_keys_fold_compatibility_characters():
    from gaizao.estates.census.buildings import parse_key

    assert parse_key("Ⅱ区 ①号楼", 32) == parse_key("II区1号楼", 32) == "II区1号楼"
    assert parse_key("１ 单元", 32) == "1单元"
