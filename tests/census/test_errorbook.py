"""The annotated error workbook keeps each sheet as the county sent it: title and note rows above the
header, the header in its own row, so that the row numbers of the error list are the rows of the marked
sheet; numbers stay numbers and dates stay dates; every estate sheet with problems is copied, CSV too."""

import datetime
import io

import openpyxl
import pytest
import xlsxwriter
from django.utils import translation

from gaizao.core.errors import ServiceError
from gaizao.estates.census.errorbook import error_workbook
from gaizao.estates.census.importer import census_import

from .sheets import csv_bytes, good_row, xlsx_bytes

pytestmark = pytest.mark.django_db


def report_of(data: bytes, filename: str) -> dict:
    with translation.override("zh-hans"), pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=data, filename=filename, dry_run=False)
    return exc.value.fields


def marked_book(data: bytes, filename: str = "西湖区.xlsx"):
    report = report_of(data, filename)
    return report, openpyxl.load_workbook(io.BytesIO(error_workbook(report, data)))


def test_title_and_note_rows_stay_and_each_error_is_at_its_own_row_number():
    rows = [good_row(1), good_row(2, **{"建成年份": "19x5", "户数": "很多"}), good_row(3, **{"楼栋数": 5000})]
    data = xlsx_bytes(rows, title="西湖区老旧小区调查摸底表", notes=["填报单位：西湖区住建局"])
    report, book = marked_book(data)
    sheet = book["标注-小区"]
    assert sheet["A1"].value == "西湖区老旧小区调查摸底表" and "A1:H1" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet["A2"].value == "填报单位：西湖区住建局"
    assert sheet["B3"].value == "小区名称" and report["header_row"] == 3  # the header in the row it was sent in
    assert [e["cell"] for e in report["errors"]] == ["G5", "I5", "H6"]
    for e in report["errors"]:  # the error list's cell is the marked cell of the copy
        cell = sheet[e["cell"]]
        assert cell.comment is not None and e["reason"] in cell.comment.text
        assert cell.fill.fgColor.rgb.endswith("FF9999")
        assert str(cell.value) == e["value"]
    assert sheet["B4"].value == "测试小区1"
    assert sheet["H6"].value == 5000 and sheet["H6"].data_type == "n"  # a marked number is still a number


def test_numbers_and_dates_stay_numbers_and_dates():
    rows = [good_row(1, **{"建成年份": datetime.date(1990, 5, 1)}), good_row(2, **{"房屋性质": "别墅"})]
    _report, book = marked_book(xlsx_bytes(rows, title="摸底表"))
    sheet = book["标注-小区"]
    households, area, year = sheet["I3"], sheet["J3"], sheet["G3"]
    assert (households.value, households.data_type) == (201, "n")
    assert (area.value, area.data_type) == (15000.5, "n")
    assert year.is_date and year.value.date() == datetime.date(1990, 5, 1)
    assert (sheet["G4"].value, sheet["G4"].data_type) == (1992, "n")
    assert sheet["K4"].value == "别墅" and sheet["K4"].comment is not None


def test_a_two_level_header_and_a_county_merged_down_are_copied_where_they_were():
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer)
    ws = wb.add_worksheet("摸底")
    ws.merge_range(0, 0, 0, 5, "西湖区摸底表")
    ws.merge_range(1, 0, 1, 2, "基本情况")
    ws.write_row(2, 0, ["小区名称", "县（市、区）", "街道（乡镇）", "建成年份", "户数"])
    ws.merge_range(3, 1, 4, 1, "西湖区")
    ws.write_row(3, 0, ["甲小区"])
    ws.write_row(3, 2, ["西溪街道", 1990, 100])
    ws.write_row(4, 0, ["乙小区"])
    ws.write_row(4, 2, ["西溪街道", "不详", 120])
    wb.close()
    report, book = marked_book(buffer.getvalue())
    sheet = book["标注-摸底"]
    assert [e["cell"] for e in report["errors"]] == ["D5"]
    assert (sheet["A1"].value, sheet["A2"].value, sheet["A3"].value) == ("西湖区摸底表", "基本情况", "小区名称")
    assert sheet["D5"].value == "不详" and sheet["D5"].comment is not None
    assert sheet["E4"].value == 100 and sheet["B5"].value == "西湖区"  # (the county as the import read it)


def test_a_csv_is_copied_with_its_preamble_and_the_row_numbers_of_the_list():
    data = csv_bytes([good_row(1), good_row(2, **{"户数": "很多"})], preamble=["西湖区老旧小区调查摸底表"])
    report, book = marked_book(data, filename="西湖区.csv")
    (error,) = report["errors"]
    assert (error["sheet"], error["cell"]) == ("西湖区.csv", "I4")
    sheet = book["标注-西湖区.csv"]
    assert sheet["A1"].value == "西湖区老旧小区调查摸底表" and sheet["B2"].value == "小区名称"
    assert sheet["I4"].value == "很多" and sheet["I4"].comment is not None


def test_every_street_sheet_with_problems_is_copied():
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer)
    headers = ["小区名称", "县（市、区）", "街道（乡镇）", "建成年份"]
    for street, year in (("西溪街道", "19x0"), ("北山街道", "19y0")):
        ws = wb.add_worksheet(street)
        ws.write(0, 0, f"{street}摸底表")
        ws.write_row(1, 0, headers)
        ws.write_row(2, 0, [f"{street}小区", "西湖区", street, year])
    wb.close()
    report, book = marked_book(buffer.getvalue())
    assert [(e["sheet"], e["cell"]) for e in report["errors"]] == [("西溪街道", "D3"), ("北山街道", "D3")]
    for street in ("西溪街道", "北山街道"):
        sheet = book[f"标注-{street}"]
        assert sheet["A1"].value == f"{street}摸底表" and sheet["D3"].comment is not None
