"""Layouts counties really send: a two-level header with merged group titles, headers broken over two
lines, a 序号 column, a totals row (合计) and a signature line (填表人 …) under the estates."""

import io

import pytest
import xlsxwriter
from django.utils import translation

from gaizao.core.errors import ServiceError
from gaizao.estates.census.importer import census_import
from gaizao.estates.models import Estate

pytestmark = pytest.mark.django_db

HEADERS = ["序号", "小区名称", "县（市、区）", "街道(乡镇)", "社区", "建成\n年份", "楼栋数", "户数（户）", "房屋性质",
           "管理方式", "居民改造意愿(%)", "备注"]


def county_sheet(estates: list[list], *, totals_label: str = "合计") -> bytes:
    """Title, a note line, a group header row over a header row, the estates, a blank row, a totals
    row and a signature line, as a county's office writes them."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False})
    ws = wb.add_worksheet("摸底汇总")
    ws.merge_range(0, 0, 0, len(HEADERS) - 1, "西湖区城镇老旧小区改造摸底调查汇总表")
    ws.write(1, 0, "填报单位（盖章）：西湖区住建局        填报日期：2026年3月")
    ws.merge_range(2, 1, 2, 4, "基本情况")
    ws.merge_range(2, 5, 2, 9, "房屋情况")
    ws.write_row(3, 0, HEADERS)
    for r, row in enumerate(estates, start=4):
        ws.write_row(r, 0, row)
    end = 4 + len(estates)
    ws.write_row(end + 1, 0, [totals_label, "", "", "", "", "", sum(row[6] for row in estates if isinstance(row[6], int))])
    ws.write(end + 2, 0, "填表人：张三      联系电话：0571-88888888      审核人：李四")
    wb.close()
    return buffer.getvalue()


def estate_row(i: int, **over) -> list:
    row = [i, f"层级表头小区{i}", "西湖区", "西溪街道", "石灰桥社区", f"{1985 + i}年", 6, 120 + i, "公房", "准物业", "80%", ""]
    for index, value in over.items():
        row[int(index[1:])] = value
    return row


def test_totals_and_signature_rows_are_skipped_with_warnings_and_the_estates_import():
    data = county_sheet([estate_row(1), estate_row(2), estate_row(3)])
    report = census_import(actor=None, data=data, filename="西湖区.xlsx", dry_run=False)
    assert (report["rows"], report["created"], report["error_count"]) == (3, 3, 0), report["errors"]
    assert report["header_row"] == 4
    assert Estate.objects.filter(name__startswith="层级表头小区").count() == 3
    warnings = "\n".join(report["warnings"])
    assert "9" in warnings and "10" in warnings  # the totals row is Excel row 9, the signature row 10
    assert Estate.objects.get(name="层级表头小区2").built_year == 1987


@pytest.mark.parametrize("label", ["合计", "合  计", "总计", "小计", "全区合计", "合计："])
def test_every_spelling_of_a_totals_row_is_skipped(label):
    report = census_import(actor=None, data=county_sheet([estate_row(1)], totals_label=label), dry_run=True)
    assert (report["rows"], report["error_count"]) == (1, 0), (label, report["errors"])


def test_an_estate_row_with_a_name_is_never_taken_for_a_note():
    """Only rows with nothing in the census columns are notes: a row with a name but no county is an error."""
    data = county_sheet([estate_row(1), estate_row(2, c2="", c3="")])
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=data, dry_run=False)
    assert {(e["row"], e["column"]) for e in exc.value.fields["errors"]} == {(6, "县（市、区）"), (6, "街道(乡镇)")}
    assert not Estate.objects.exists()


@translation.override("en")
def test_errors_come_row_by_row_left_to_right_with_headers_on_one_line_and_allowed_values_named():
    data = county_sheet([estate_row(1, c8="别墅", c9="物业", c5="九十年代"), estate_row(2, c6="abc")])
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=data, dry_run=False)
    errors = exc.value.fields["errors"]
    assert [(e["row"], e["cell"]) for e in errors] == [(5, "F5"), (5, "I5"), (5, "J5"), (6, "G6")]
    assert errors[0]["column"] == "建成年份"  # "建成\n年份" in the sheet
    housing, management = errors[1]["reason"], errors[2]["reason"]
    assert housing.startswith("not one of the allowed values") and "房改房" in housing and "单位自管房" in housing
    assert "专业物业" in management and "业主自治" in management


MERGED_HEADERS = ["序号", "县（市、区）", "街道（乡镇）", "社区", "小区名称", "建成年份", "户数"]
MERGED_ESTATES = [(1, "石灰桥社区", "合并甲", 1990, 100), (2, "", "合并乙", 1991, 120),
                  (3, "上保社区", "合并丙", 1992, 130), (4, "", "合并丁", 1993, 140)]
# (an estate without a community sits on its street)
EXPECTED_PLACES = {"合并甲": "330106004053", "合并乙": "330106004", "合并丙": "330106002051", "合并丁": "330106002"}


def merged_xlsx() -> bytes:
    """The county merged down over all four estates, each street over its two (the value sits in the
    top cell only); the second estate of each street gives no community."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer)
    ws = wb.add_worksheet("摸底")
    ws.merge_range(0, 0, 0, 6, "西湖区老旧小区摸底表")
    ws.write_row(1, 0, MERGED_HEADERS)
    ws.merge_range(2, 1, 5, 1, "西湖区")
    ws.merge_range(2, 2, 3, 2, "西溪街道")
    ws.merge_range(4, 2, 5, 2, "北山街道")
    for r, (n, community, name, year, households) in enumerate(MERGED_ESTATES, start=2):
        ws.write_row(r, 3, [community, name, year, households])
        ws.write(r, 0, n)
    wb.close()
    return buffer.getvalue()


def merged_xls() -> bytes:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("摸底")
    ws.write_merge(0, 0, 0, 6, "西湖区老旧小区摸底表")
    for c, header in enumerate(MERGED_HEADERS):
        ws.write(1, c, header)
    ws.write_merge(2, 5, 1, 1, "西湖区")
    ws.write_merge(2, 3, 2, 2, "西溪街道")
    ws.write_merge(4, 5, 2, 2, "北山街道")
    for r, (n, community, name, year, households) in enumerate(MERGED_ESTATES, start=2):
        for c, value in ((0, n), (3, community), (4, name), (5, year), (6, households)):
            if value != "":
                ws.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("make, filename", [(merged_xlsx, "merged.xlsx"), (merged_xls, "merged.xls")])
def test_cells_merged_down_over_several_estates_count_for_each(make, filename):
    report = census_import(actor=None, data=make(), filename=filename, dry_run=False)
    assert (report["created"], report["error_count"]) == (4, 0), report["errors"]
    places = dict(Estate.objects.filter(name__startswith="合并").values_list("name", "region__code"))
    assert places == EXPECTED_PLACES


def test_a_merge_one_row_high_is_not_filled_into_other_rows():
    """The merged title stays a title: no estate row gets it."""
    report = census_import(actor=None, data=merged_xlsx(), filename="merged.xlsx", dry_run=True)
    assert report["header_row"] == 2 and report["rows"] == 4


def test_same_as_above_takes_the_value_of_the_row_above():
    rows = [estate_row(1), estate_row(2, c2="同上", c3="同上", c8="〃"), estate_row(3, c3="同上")]
    report = census_import(actor=None, data=county_sheet(rows), dry_run=False)
    assert (report["created"], report["error_count"]) == (3, 0), report["errors"]
    two = Estate.objects.get(name="层级表头小区2")
    assert (two.county.code, two.region.code[:9], two.housing_type) == ("330106", "330106004", "public")


@translation.override("en")
def test_same_as_above_in_the_first_row_is_an_error_not_a_value():
    rows = [estate_row(1, c3="同上", c1="同上"), estate_row(2)]
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=county_sheet(rows), dry_run=False)
    errors = exc.value.fields["errors"]
    assert [(e["cell"], e["value"]) for e in errors] == [("B5", "同上"), ("D5", "同上")]
    assert all("same as above" in e["reason"] for e in errors)


def street_workbook(*, hidden_copy: bool = False, duplicate: bool = False, summary: list | None = None) -> bytes:
    """One sheet per street, as some counties keep their census, plus a notes sheet; optionally a hidden
    sheet holding a copy of the estates, or the same estate on two street sheets."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer)
    notes = wb.add_worksheet("填表说明")
    notes.write_column(0, 0, ["1. 小区名称、县（市、区）、街道（乡镇）、建成年份必填", "2. 每个街道一张表"])
    headers = ["小区名称", "县（市、区）", "街道（乡镇）", "社区", "建成年份", "户数"]
    streets = {"西溪街道": [("分表甲", "石灰桥社区", 1990, 100), ("分表乙", "", 1991, 110)],
               "北山街道": [("分表丙", "上保社区", 1992, 120)]}
    if duplicate:
        streets["北山街道"].append(("分表甲", "", 1990, 100))
    for street, estates in streets.items():
        ws = wb.add_worksheet(street)
        ws.write_row(0, 0, headers)
        for r, (name, community, year, households) in enumerate(estates, start=1):
            ws.write_row(r, 0, [name, "西湖区", street if not duplicate or name != "分表甲" or r == 1 else "西溪街道",
                                community or ("石灰桥社区" if duplicate and name == "分表甲" else ""), year, households])
    if summary is not None:
        total = wb.add_worksheet("全区汇总")
        total.write_row(0, 0, headers)
        for r, row in enumerate(summary, start=1):
            total.write_row(r, 0, row)
    if hidden_copy:
        copy = wb.add_worksheet("底稿")
        copy.write_row(0, 0, headers)
        copy.write_row(1, 0, ["分表甲", "西湖区", "西溪街道", "石灰桥社区", 1990, 100])
        copy.hide()
    wb.close()
    return buffer.getvalue()


def test_a_workbook_with_one_sheet_per_street_imports_every_sheet():
    report = census_import(actor=None, data=street_workbook(hidden_copy=True), filename="分街道.xlsx", dry_run=False)
    assert (report["created"], report["error_count"]) == (3, 0), report["errors"]
    assert [(s["sheet"], s["rows"]) for s in report["estate_sheets"]] == [("西溪街道", 2), ("北山街道", 1)]
    assert report["rows"] == 3
    places = dict(Estate.objects.filter(name__startswith="分表").values_list("name", "region__code"))
    assert places == {"分表甲": "330106004053", "分表乙": "330106004", "分表丙": "330106002051"}


@translation.override("en")
def test_the_same_estate_on_two_street_sheets_is_named_with_both_sheets():
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=street_workbook(duplicate=True), filename="分街道.xlsx", dry_run=False)
    (error,) = exc.value.fields["errors"]
    assert (error["sheet"], error["row"], error["cell"]) == ("北山街道", 3, "A3")
    assert error["reason"] == "the same estate (community and name) as row 2 of sheet 西溪街道"
    assert not Estate.objects.exists()


def test_the_census_template_filled_in_reads_as_one_estate_sheet():
    """Its notes, catalogue and hidden lists sheets are not estate sheets."""
    import openpyxl

    from gaizao.estates.census.columns import ESTATE_SHEET
    from gaizao.estates.census.template import template_bytes

    book = openpyxl.load_workbook(io.BytesIO(template_bytes()))
    sheet = book[ESTATE_SHEET]
    headers = [c.value for c in next(r for r in sheet.iter_rows() if any(c.value == "小区名称*" for c in r))]
    values = {"小区名称*": "模板小区", "县（市、区）*": "西湖区", "街道（乡镇）*": "西溪街道", "建成年份*": 1990}
    sheet.append([values.get(h) for h in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    report = census_import(actor=None, data=buffer.getvalue(), filename="template.xlsx", dry_run=True)
    assert [s["sheet"] for s in report["estate_sheets"]] == [ESTATE_SHEET]
    assert (report["created"], report["error_count"]) == (1, 0), report["errors"]


@pytest.mark.parametrize("county", ["杭州市西湖区", "浙江省杭州市西湖区", "杭州西湖区", "浙江省西湖区", "浙江杭州市 西湖区"])
def test_a_county_written_with_its_province_or_city_before_it(county):
    rows = [estate_row(1, c2=county)]
    report = census_import(actor=None, data=county_sheet(rows), dry_run=True)
    assert (report["created"], report["error_count"]) == (1, 0), report["errors"]


@translation.override("en")
def test_a_county_under_another_city_is_not_taken():
    """西湖区 is in 杭州市, not in 宁波市: the prefix must be the county's own city."""
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=county_sheet([estate_row(1, c2="宁波市西湖区")]), dry_run=False)
    assert [e["cell"] for e in exc.value.fields["errors"]] == ["C5"]


def test_the_import_page_lists_every_street_sheet_and_the_skipped_rows(client, django_capture_on_commit_callbacks):
    from django.urls import reverse

    from gaizao.accounts.scoping import Role
    from gaizao.core.jobs import execute_job
    from gaizao.core.models import Job
    from gaizao.estates.census.jobs import JOB_KIND

    from ..conftest import make_user

    client.force_login(make_user(Role.COUNTY_OFFICIAL, username="xihu-streets"))
    for name, data in (("分街道.xlsx", street_workbook()), ("汇总.xlsx", county_sheet([estate_row(1)]))):
        upload = io.BytesIO(data)
        upload.name = name
        with django_capture_on_commit_callbacks(execute=False):
            assert client.post(reverse("census:upload"), {"file": upload, "mode": "dry_run"}).status_code == 302
        job = Job.objects.filter(kind=JOB_KIND).latest("pk")
        execute_job(job)
        page = client.get(reverse("census:import", args=[job.pk])).content.decode()
        if name == "分街道.xlsx":
            assert "西溪街道" in page and "北山街道" in page
        else:
            # one estate in row 5: the totals row is row 7, the signature line row 8
            assert "合计行（合计/小计）已跳过：第 7 行" in page and "已跳过：第 8 行" in page


SUMMARY_ROWS = [["分表甲", "西湖区", "西溪街道", "石灰桥社区", 1990, 100], ["分表乙", "西湖区", "西溪街道", "", 1991, 110],
                ["分表丙", "西湖区", "北山街道", "上保社区", 1992, 120]]


def test_a_summary_sheet_repeating_the_street_sheets_is_left_out_with_a_warning():
    report = census_import(actor=None, data=street_workbook(summary=SUMMARY_ROWS), filename="x.xlsx", dry_run=False)
    assert (report["created"], report["error_count"], report["rows"]) == (3, 0, 3), report["errors"]
    assert [s.get("skipped", False) for s in report["estate_sheets"]] == [False, False, True]
    assert any("全区汇总" in w for w in report["warnings"])


@translation.override("en")
@pytest.mark.parametrize("change", ["a value", "an estate"])
def test_a_summary_sheet_with_anything_of_its_own_is_read_and_its_repeats_are_duplicates(change):
    summary = [list(row) for row in SUMMARY_ROWS]
    if change == "a value":
        summary[1][5] = 111  # households differ from the street sheet's
    else:
        summary.append(["只在汇总表", "西湖区", "北山街道", "上保社区", 1993, 130])
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=street_workbook(summary=summary), filename="x.xlsx", dry_run=False)
    errors = exc.value.fields["errors"]
    assert {e["sheet"] for e in errors} == {"全区汇总"} and len(errors) == 3
    assert all("of sheet" in e["reason"] for e in errors)
    assert not Estate.objects.exists()


# A sheet on the template's columns with a title row, three estates and, under the table, signature lines
# written in whichever column the office put them (小区编码 is column A, the first column the import reads).
SIGNATURE_ROWS = [["填表人：张三"], ["审核人：李四"]]


def signed_template_sheet(signatures: list[list], *, kind: str = "xlsx") -> bytes:
    from .sheets import csv_bytes, good_row, xlsx_bytes

    estates = [good_row(i) for i in range(1, 4)]
    if kind == "csv":
        from .sheets import HEADERS as TEMPLATE_HEADERS

        rows = [*estates, *({h: v for h, v in zip(TEMPLATE_HEADERS, cells, strict=False)} for cells in signatures)]
        return csv_bytes(rows, preamble=["西湖区老旧小区调查摸底表"])
    return xlsx_bytes([*estates, *signatures], title="西湖区老旧小区调查摸底表")


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_signature_rows_in_a_census_column_under_the_table_are_skipped_and_the_file_imports(kind):
    """填表人 and 审核人 written in 小区编码 (column A): not errors, not counted as estates, named in a warning."""
    data = signed_template_sheet(SIGNATURE_ROWS, kind=kind)
    with translation.override("zh-hans"):
        report = census_import(actor=None, data=data, filename=f"西湖区.{kind}", dry_run=False)
    assert (report["rows"], report["created"], report["error_count"]) == (3, 3, 0), report["errors"]
    assert report["header_row"] == 2  # the title row above it
    # estates in rows 3-5, the signatures in rows 6 and 7
    assert any("已跳过：第 6、7 行" in w for w in report["warnings"]), report["warnings"]
    assert Estate.objects.filter(name__startswith="测试小区").count() == 3


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_signature_rows_in_the_name_column_are_skipped_and_the_file_imports(kind):
    """QA: in the export's layout, 填表人：张三 / 审核人：李四 written in 小区名称 (column B) under the table came
    back as 必填 errors (county, street, year)."""
    data = signed_template_sheet([_cells_at(**{"小区名称": "填表人：张三"}), _cells_at(**{"小区名称": "审核人：李四"})],
                                 kind=kind)
    with translation.override("zh-hans"):
        report = census_import(actor=None, data=data, filename=f"西湖区.{kind}", dry_run=False)
    assert (report["rows"], report["created"], report["error_count"]) == (3, 3, 0), report["errors"]
    assert any("已跳过：第 6、7 行" in w for w in report["warnings"]), report["warnings"]
    assert not Estate.objects.filter(name__contains="：").exists()


def _cells_at(**by_header) -> list:
    from .sheets import HEADERS as TEMPLATE_HEADERS

    return [by_header.get(h, "") for h in TEMPLATE_HEADERS]


@pytest.mark.parametrize("signature", [
    ["填表人：张三"], ["填报人: 张三"], ["审核：李四"], ["负责人：王五"], ["制表人：赵六"], ["联系人：钱七"],
    ["联系电话：0571-88888888"], ["填表日期：2026年3月1日"], ["日期：2026-03-01"], ["备注：以上数据截至2025年底"],
    ["说明：面积为建筑面积"], ["注：带*为必填项"], ["注1：户数以房产登记为准"], ["  填表人 张三  "], ["填表人张三"],
    _cells_at(**{"地址": "填表人：张三", "户数": "审核人：李四"}),
    _cells_at(**{"户数": "联系电话：", "建筑面积（㎡）": 88888888}),
    _cells_at(**{"主要问题": "备注：本表一式两份"}),
    _cells_at(**{"经度": "填表人：张三", "纬度": "日期：2026.3"}),
    # in the name column (the export's layout: 小区编码 in A, 小区名称 in B), with its colon
    _cells_at(**{"小区名称": "填表人：张三"}), _cells_at(**{"小区名称": "审核人:李四"}),
    _cells_at(**{"小区名称": "注1：户数以房产登记为准"}), _cells_at(**{"小区名称": "联系电话：", "地址": "88888888"}),
    _cells_at(**{"小区名称": "填表人：张三", "地址": "审核人：李四"}),
], ids=lambda cells: "|".join(str(c) for c in cells if c != ""))
def test_a_signature_or_notes_line_is_skipped_in_whichever_column_it_sits(signature):
    report = census_import(actor=None, data=signed_template_sheet([signature]), filename="x.xlsx", dry_run=True)
    assert (report["rows"], report["created"], report["error_count"]) == (3, 3, 0), report["errors"]
    assert any("6" in w for w in report["warnings"]), report["warnings"]


@translation.override("en")
@pytest.mark.parametrize("row, cells", [
    # a real estate name, even one starting like a note
    (_cells_at(**{"小区名称": "备注小区"}), {"C6", "D6", "G6"}),
    # a county, street or year written: an estate row missing its name
    (_cells_at(**{"小区编码": "填表人：张三", "县（市、区）": "西湖区"}), {"A6", "B6", "D6", "G6"}),
    (_cells_at(**{"小区编码": "备注：老小区", "建成年份": 1990}), {"A6", "B6", "C6", "D6"}),
    # values without a label, or a label beside a second value: not a signature line
    (_cells_at(**{"小区编码": "XH-001", "户数": 300}), {"B6", "C6", "D6", "G6"}),
    (_cells_at(**{"小区编码": "填表人：张三", "户数": 300}), {"A6", "B6", "C6", "D6", "G6"}),
    # more than two cells filled
    (_cells_at(**{"小区编码": "填表人：张三", "地址": "审核人：李四", "户数": "联系电话：88888888"}),
     {"A6", "B6", "C6", "D6", "G6", "I6"}),
    # a word that merely starts with 注
    (_cells_at(**{"地址": "注册地址"}), {"B6", "C6", "D6", "G6"}),
    # in the name column: a name that starts like a label but has no colon after it is a name
    (_cells_at(**{"小区名称": "日期小区"}), {"C6", "D6", "G6"}),
    (_cells_at(**{"小区名称": "注册小区"}), {"C6", "D6", "G6"}),
    (_cells_at(**{"小区名称": "填表人张三"}), {"C6", "D6", "G6"}),
    # a labelled name with a county or a year: an estate row (its name is odd, its street missing)
    (_cells_at(**{"小区名称": "填表人：张三", "县（市、区）": "西湖区"}), {"D6", "G6"}),
    (_cells_at(**{"小区名称": "备注：老小区", "建成年份": 1990}), {"C6", "D6"}),
])
def test_a_row_with_a_name_or_real_values_is_never_skipped_as_a_signature(row, cells):
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=signed_template_sheet([row]), filename="x.xlsx", dry_run=False)
    errors = exc.value.fields["errors"]
    assert {e["cell"] for e in errors} == cells, errors
    assert exc.value.fields["rows"] == 4
    assert not any("6" in w for w in exc.value.fields["warnings"])
