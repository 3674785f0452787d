"""The error list of an import as an xlsx: a list of problems, and each checked sheet with problems
again with each bad cell filled red and its reason in a comment, so a county can fix the file where it is."""

from __future__ import annotations

import datetime
import io
import itertools
import math

import xlsxwriter

from .reader import HEADER_SEARCH_ROWS, RawSheet, locate_table, open_book
from .values import clean_text

COPY_LIMIT = 60_000  # rows of the sheet copied back with marks; beyond this only the list
MAX_CELL_TEXT = 32_767  # what an xlsx cell holds


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
    """Each checked sheet with problems (the estate sheets, the building and household sheets) again, as
    the county sent it (title and note rows, the header in its row, numbers as numbers), its bad cells
    marked; owners' phones are copied masked."""
    from .buildings import INDEX, masked_value
    from .columns import HEADER_INDEX

    try:
        book = open_book(data, filename=report.get("filename") or "")  # (a CSV's sheet is named by its file)
    except Exception:  # the file was readable when checked; if not now, the list alone must do
        return
    indexes = {report.get("sheet"): HEADER_INDEX}
    for info in report.get("estate_sheets") or []:
        indexes[info.get("sheet")] = HEADER_INDEX
    for kind, info in (report.get("further_sheets") or {}).items():
        if kind in INDEX:
            indexes[info.get("sheet")] = INDEX[kind]
    with_errors = {e.get("sheet") for e in errors}
    formats = _Formats(workbook, bad_format)
    for sheet in book.sheets:
        if sheet.name in indexes and sheet.name in with_errors:
            _copy_sheet(workbook, sheet, indexes[sheet.name], [e for e in errors if e.get("sheet") == sheet.name],
                        formats, masked_value)


class _Formats:
    """The cell formats of the copied sheets: plain, a date, and each marked red."""

    def __init__(self, workbook, bad_format):
        self.bad = bad_format
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.bad_date = workbook.add_format({"num_format": "yyyy-mm-dd", "bg_color": "#FF9999", "border": 1,
                                             "border_color": "#C00000"})


def _write_value(out, row: int, col: int, value, formats: _Formats, bad: bool) -> None:
    """A cell as it was sent: numbers, yes/no and dates keep their kind; anything else as text."""
    kind = type(value)
    cell_format = formats.bad if bad else None
    if kind is bool:
        out.write_boolean(row, col, value, cell_format)
    elif kind in (int, float) and math.isfinite(value):
        out.write_number(row, col, value, cell_format)
    elif kind in (datetime.datetime, datetime.date):
        out.write_datetime(row, col, value, formats.bad_date if bad else formats.date)
    else:
        text = value if kind is str else _cell_text(value)
        if text or bad:
            out.write_string(row, col, text[:MAX_CELL_TEXT], cell_format)


def _copy_sheet(workbook, sheet, index, errors, formats: _Formats, masked_value) -> None:
    rows = iter(sheet.rows)
    head = list(itertools.islice(rows, HEADER_SEARCH_ROWS))
    col_offset = getattr(sheet.rows, "col_offset", sheet.col_offset)  # (known once a calamine sheet is read)
    table = locate_table(RawSheet(name=sheet.name, rows=head, col_offset=col_offset), index)
    if table is None:
        return
    by_header = {h: table.fields[f] for f, h in table.headers.items()}
    field_of = {col: f for f, col in table.fields.items()}
    marks: dict[int, dict[int, list[str]]] = {}  # row number -> column -> reasons
    for e in errors:
        col = by_header.get(e.get("column"))
        if col is not None:
            marks.setdefault(int(e["row"]), {}).setdefault(col, []).append(str(e.get("reason", "")))
    out = workbook.add_worksheet(f"标注-{sheet.name}"[:31])
    header_row = table.header_row
    first_data_row = next(table.rows, (len(head) + 1, None))[0]  # (below a second header row, if any)
    # every row where it was, from row 1: titles and notes above the header too, so that the row numbers
    # of the error list are the rows of this sheet; the masked phones and the marks as they were checked
    for number, cells in enumerate(itertools.chain(head, rows), start=1):
        if number > COPY_LIMIT:
            break
        data_row = number >= first_data_row
        marked = marks.get(number, {})
        for col, value in enumerate(cells):
            if value is None or value == "":
                if col not in marked:
                    continue
            elif data_row and col in field_of:
                value = masked_value(field_of[col], value)
            _write_value(out, number - 1, col + col_offset, value, formats, col in marked)
        for col, reasons in marked.items():
            if col >= len(cells):  # (a short row: the cell the problem is about is empty)
                _write_value(out, number - 1, col + col_offset, None, formats, True)
            out.write_comment(number - 1, col + col_offset, "；".join(reasons)[:1000])
    for (top, left), (bottom, right) in getattr(sheet.rows, "merged", None) or sheet.merged:
        if bottom < header_row - 1 and (top, left) != (bottom, right):  # titles and group headers above the header
            cells = head[top] if top < len(head) else []
            value = cells[left - col_offset] if 0 <= left - col_offset < len(cells) else None
            try:
                out.merge_range(top, left, bottom, right, "" if value is None else value)
            except Exception:  # (a range that overlaps another): the cells stay as they are
                continue
    out.freeze_panes(header_row, 0)
