"""The error list of an import as an xlsx: a list of problems, and each checked sheet with problems
again with each bad cell filled red and its reason in a comment, so a county can fix the file where it is."""

from __future__ import annotations

import io

import xlsxwriter

from .reader import locate_table, open_book
from .values import clean_text

COPY_LIMIT = 60_000  # rows of the sheet copied back with marks; beyond this only the list


def _cell_text(value) -> str:
    return clean_text(value)[:1000]


def error_workbook(report: dict, data: bytes | None) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False})
    head = workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    bad = workbook.add_format({"bg_color": "#FF9999", "border": 1, "border_color": "#C00000"})
    errors = report.get("errors") or []

    listing = workbook.add_worksheet("错误清单")
    listing.write_row(0, 0, ["工作表", "行号", "列", "单元格", "填写的值", "问题"], head)
    for col, width in enumerate((12, 8, 18, 10, 30, 60)):
        listing.set_column(col, col, width)
    for i, e in enumerate(errors, start=1):
        listing.write_string(i, 0, str(e.get("sheet", "")))
        listing.write_number(i, 1, int(e.get("row") or 0))
        listing.write_string(i, 2, str(e.get("column", "")))
        listing.write_string(i, 3, str(e.get("cell", "")))
        listing.write_string(i, 4, str(e.get("value", "")))
        listing.write_string(i, 5, str(e.get("reason", "")))
    if report.get("error_count", 0) > len(errors):
        listing.write_string(len(errors) + 2, 0, f"…… 共 {report['error_count']} 个问题，此处列出前 {len(errors)} 个")

    if data is not None and errors:
        _copy_with_marks(workbook, report, data, errors, bad)
    workbook.close()
    return buffer.getvalue()


def _copy_with_marks(workbook, report, data, errors, bad_format) -> None:
    """Each checked sheet with problems (the estate sheet, the building and household sheets) again,
    its bad cells marked; owners' phones are copied masked."""
    from .buildings import INDEX, masked_value
    from .columns import HEADER_INDEX

    try:
        book = open_book(data)
    except Exception:  # the file was readable when checked; if not now, the list alone must do
        return
    indexes = {report.get("sheet"): HEADER_INDEX}
    for kind, info in (report.get("further_sheets") or {}).items():
        if kind in INDEX:
            indexes[info.get("sheet")] = INDEX[kind]
    with_errors = {e.get("sheet") for e in errors}
    for sheet in book.sheets:
        if sheet.name in indexes and sheet.name in with_errors:
            _copy_sheet(workbook, sheet, indexes[sheet.name], [e for e in errors if e.get("sheet") == sheet.name],
                        bad_format, masked_value)


def _copy_sheet(workbook, sheet, index, errors, bad_format, masked_value) -> None:
    marks: dict[tuple[int, int], list[str]] = {}
    table = locate_table(sheet, index)
    if table is None:
        return
    by_header = {h: table.fields[f] for f, h in table.headers.items()}
    field_of = {col: f for f, col in table.fields.items()}
    for e in errors:
        col = by_header.get(e.get("column"))
        if col is not None:
            marks.setdefault((int(e["row"]), col), []).append(str(e.get("reason", "")))
    out = workbook.add_worksheet(f"标注-{sheet.name}"[:31])
    header_row = table.header_row
    # rows above the header (titles, notes) are not copied; the header is written again
    for f, col in table.fields.items():
        out.write_string(header_row - 1, col + table.col_offset, table.headers[f])
    for number, cells in table.rows:
        if number > COPY_LIMIT:
            break
        for col, value in enumerate(cells):
            text = _cell_text(masked_value(field_of.get(col, ""), value))
            reasons = marks.get((number, col))
            if reasons:
                out.write_string(number - 1, col + table.col_offset, text, bad_format)
                out.write_comment(number - 1, col + table.col_offset, "；".join(reasons)[:1000])
            elif text:
                out.write_string(number - 1, col + table.col_offset, text)
    out.freeze_panes(header_row, 0)
