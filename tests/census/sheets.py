"""Spreadsheets written the way counties write them, for the census tests."""

from __future__ import annotations

import csv
import io
import zipfile
from xml.sax.saxutils import escape

import xlsxwriter

from gaizao.estates.census.columns import COLUMNS

HEADERS = [c.header for c in COLUMNS]


def good_row(i: int = 1, **over) -> dict:
    row = {
        "小区编码": "", "小区名称": f"测试小区{i}", "县（市、区）": "西湖区", "街道（乡镇）": "西溪街道",
        "社区": "石灰桥社区", "地址": f"测试路{i}号", "建成年份": 1990 + i % 10, "楼栋数": 10, "户数": 200 + i,
        "建筑面积（㎡）": 15000.5, "房屋性质": "房改房", "是否纳入棚改计划": "否", "是否位于历史文化街区": "否",
        "是否有多孔预制楼板": "否", "管理方式": "准物业", "最高层数": 6, "已有电梯栋数": 1, "居民改造意愿（%）": "85%",
        "主要问题": "供水设施、排水设施", "经度": 120.1234, "纬度": 30.2567,
    }
    row.update(over)
    return row


def xlsx_bytes(rows: list[dict] | list[list], *, headers: list[str] | None = None, title: str | None = None,
               notes: list[str] = (), sheet: str = "小区", extra_sheets: dict | None = None) -> bytes:
    """An xlsx: optional merged title row and note rows, then the header, then rows (dicts by header
    or lists). Numbers stay numbers, dates stay dates."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False, "strings_to_formulas": False})
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, content in (extra_sheets or {}).items():
        ws = wb.add_worksheet(name)
        for r, line in enumerate(content):
            ws.write_row(r, 0, line)
    ws = wb.add_worksheet(sheet)
    headers = headers or HEADERS
    r = 0
    if title:
        ws.merge_range(0, 0, 0, min(len(headers), 8) - 1, title)
        r = 1
    for note in notes:
        ws.write_string(r, 0, note)
        r += 1
    for c, h in enumerate(headers):
        ws.write_string(r, c, h)
    for row in rows:
        r += 1
        cells = [row.get(h, "") for h in headers] if isinstance(row, dict) else row
        for c, value in enumerate(cells):
            _write(ws, r, c, value, date_format)
    wb.close()
    return buffer.getvalue()


def _write(ws, r, c, value, date_format):
    import datetime

    if value is None or value == "":
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value)
    elif isinstance(value, datetime.date):
        ws.write_datetime(r, c, value, date_format)
    elif isinstance(value, str) and value.startswith("="):
        ws.write_formula(r, c, value)
    else:
        ws.write_string(r, c, str(value))


def header_row_of(data_row: int, *, title: bool = False, notes: int = 0) -> int:
    """Excel row number of data row `data_row` (1-based) in an `xlsx_bytes` sheet."""
    return data_row + 1 + (1 if title else 0) + notes


def csv_bytes(rows: list[dict], *, headers: list[str] | None = None, encoding: str = "utf-8",
              delimiter: str = ",", preamble: list[str] = ()) -> bytes:
    headers = headers or HEADERS
    text = io.StringIO()
    for line in preamble:
        text.write(line + "\r\n")
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers])
    return text.getvalue().encode(encoding)


def ods_bytes(rows: list[dict], *, headers: list[str] | None = None) -> bytes:
    """A minimal OpenDocument spreadsheet, written by hand (no ODS writer is installed)."""
    headers = headers or HEADERS

    def cell(value):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>")
        if value in (None, ""):
            return "<table:table-cell/>"
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'

    body = ["<table:table-row>" + "".join(cell(h) for h in headers) + "</table:table-row>"]
    for row in rows:
        body.append("<table:table-row>" + "".join(cell(row.get(h, "")) for h in headers) + "</table:table-row>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="小区">'
        + "".join(body) + "</table:table></office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
