"""Reading census spreadsheets as counties keep them.

`open_book(data)` recognises the file by its content (xlsx, xls, ods or delimited text),
refuses what is too big or a zip bomb before any parser touches it, and gives the sheets
as rows of raw cell values. `locate_table(sheet, spec)` finds the header row below title
and note rows, maps the headers (with stray spaces, full-width brackets, required-marks and
synonyms) to field names, and yields the data rows with their row numbers as Excel shows them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from gaizao.core import text_files
from gaizao.core.errors import ErrorCode, ServiceError

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200  # uncompressed/compressed, for members larger than RATIO_FLOOR
RATIO_FLOOR = 4 * 1024 * 1024
MAX_ZIP_MEMBERS = 5000
MAX_ROWS = 250_000
MAX_COLUMNS = 200
HEADER_SEARCH_ROWS = 30

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


def limit(name: str, default: int) -> int:
    return int(getattr(settings, f"CENSUS_{name}", default))


class CensusFileError(ServiceError):
    """The file as a whole cannot be read (wrong kind, too big, a bomb, no header)."""

    def __init__(self, message, *, fields: dict | None = None):
        super().__init__(ErrorCode.CENSUS_FILE_INVALID, message, fields=fields)


# ---------------------------------------------------------------------------------------------
# recognising the file


def sniff_kind(data: bytes) -> str:
    """`xlsx`, `ods`, `xls` or `csv`, by content; raises CensusFileError for anything else."""
    if data.startswith(ZIP_MAGIC):
        names = _zip_names(data)
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        if "mimetype" in names and "content.xml" in names:
            return "ods"
        raise CensusFileError(_("The file is a zip archive but not an Excel or OpenDocument spreadsheet."))
    if data.startswith(OLE_MAGIC):
        return "xls"
    if data.startswith(b"PK"):
        raise CensusFileError(_("The file is a damaged zip archive."))
    if _looks_like_text(data[:65536]):
        return "csv"
    raise CensusFileError(_("The file is not a spreadsheet: upload xlsx, xls, ods or csv."))


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return controls <= len(head) // 100


@dataclass
class _Member:
    name: str
    method: int
    flags: int
    compressed: int
    uncompressed: int
    local_offset: int


def _central_directory(data: bytes) -> list[_Member]:
    """The zip's members from its central directory (no decompression)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65536 - 22))
    if end < 0 or end + 22 > len(data):
        raise CensusFileError(_("The file is a damaged zip archive."))
    (_sig, _disk, _cd_disk, _n_disk, count, cd_size, cd_offset, _comment) = struct.unpack(
        "<IHHHHIIH", data[end:end + 22])
    if count == 0xFFFF or cd_offset == 0xFFFFFFFF:
        raise CensusFileError(_("The file is a zip64 archive, which a census sheet never needs."))
    if count > limit("MAX_ZIP_MEMBERS", MAX_ZIP_MEMBERS):
        raise CensusFileError(_("The archive has too many parts."))
    members, pos = [], cd_offset
    for _i in range(count):
        if pos + 46 > len(data) or data[pos:pos + 4] != b"PK\x01\x02":
            raise CensusFileError(_("The file is a damaged zip archive."))
        (_s, _v, _vn, flags, method, _t, _d, _crc, csize, usize, nlen, xlen, clen, _dn, _ia, _ea,
         offset) = struct.unpack("<IHHHHHHIIIHHHHHII", data[pos:pos + 46])
        name = data[pos + 46:pos + 46 + nlen].decode("utf-8", "replace")
        members.append(_Member(name, method, flags, csize, usize, offset))
        pos += 46 + nlen + xlen + clen
    return members


def _zip_names(data: bytes) -> set[str]:
    return {m.name for m in _central_directory(data)}


def check_zip(data: bytes) -> None:
    """Refuse zip bombs before a parser opens the archive.

    First the declared sizes: the total and each large member's ratio. Then, since declared
    sizes can lie, each member is inflated in bounded steps and refused as soon as it yields
    more than it declared.
    """
    members = _central_directory(data)
    max_total = limit("MAX_UNCOMPRESSED_BYTES", MAX_UNCOMPRESSED_BYTES)
    max_ratio = limit("MAX_RATIO", MAX_RATIO)
    total = sum(m.uncompressed for m in members)
    if total > max_total:
        raise CensusFileError(_("The spreadsheet unpacks to more than %(mb)d MB; it is refused.")
                              % {"mb": max_total // 2 ** 20}, fields={"reason": "zip_bomb"})
    for m in members:
        if m.uncompressed > RATIO_FLOOR and m.uncompressed > max_ratio * max(m.compressed, 1):
            raise CensusFileError(_("The spreadsheet is compressed suspiciously well (a zip bomb?); it is refused."),
                                  fields={"reason": "zip_bomb", "member": m.name})
        if m.flags & 0x1:
            raise CensusFileError(_("The spreadsheet is encrypted; remove the password and upload it again."))
        _verify_member(data, m, _extent_scanner(m.name))


def _extent_scanner(name: str):
    """A check run on the inflated text of sheet members (see `check_sheet_extent`)."""
    if name.startswith("xl/worksheets/") and name.endswith(".xml"):
        return _xlsx_extent
    if name == "content.xml":
        return _ods_extent
    return None


def _verify_member(data: bytes, m: _Member, scan=None) -> None:
    pos = m.local_offset
    if pos + 30 > len(data) or data[pos:pos + 4] != ZIP_MAGIC:
        raise CensusFileError(_("The file is a damaged zip archive."))
    nlen, xlen = struct.unpack("<HH", data[pos + 26:pos + 30])
    start = pos + 30 + nlen + xlen
    raw = memoryview(data)[start:start + m.compressed]
    if m.method == 0:
        if m.compressed != m.uncompressed:
            raise CensusFileError(_("The file is a damaged zip archive."))
        if scan is not None:
            scan(bytes(raw))
        return
    if m.method != 8:
        raise CensusFileError(_("The spreadsheet uses an unsupported compression method."))
    inflater = zlib.decompressobj(-15)
    produced = 0
    step = 1 << 20
    tail = b""
    try:
        for offset in range(0, len(raw), step):
            chunk = raw[offset:offset + step]
            while chunk:
                out = inflater.decompress(chunk, 1 << 22)
                produced += len(out)
                if produced > m.uncompressed:
                    raise CensusFileError(_("A part of the spreadsheet is larger than it declares (a zip bomb?)."),
                                          fields={"reason": "zip_bomb", "member": m.name})
                if scan is not None and out:
                    scan(tail + out)
                    tail = out[-200:]
                chunk = inflater.unconsumed_tail
            if inflater.eof:
                break
        produced += len(inflater.flush())
    except zlib.error:
        raise CensusFileError(_("The file is a damaged zip archive.")) from None
    if produced != m.uncompressed:
        raise CensusFileError(_("The file is a damaged zip archive."), fields={"member": m.name})


# Cells so far out that calamine, which holds a sheet as a dense grid, would need gigabytes: one
# stray cell at XFD1048576 asks for billions of cells. Rows from 300,000 and columns from HA (209)
# are refused while the archive is checked, before calamine opens it.
# One pass over the inflated sheet for both: a row reference has no letters, so the column branch
# can only match a cell's reference.
_FAR_CELL = re.compile(rb' r="(?:[A-Z]{0,3}(?:[3-9]\d{5}|\d{7,})"|(?:[A-Z]{3}|[H-Z][A-Z])\d)')
_ODS_REPEAT = re.compile(rb'number-(rows|columns)-repeated="(\d+)"')


def _too_large() -> CensusFileError:
    return CensusFileError(_("The sheet reaches beyond %(rows)d rows or %(cols)d columns.")
                           % {"rows": 300_000, "cols": 208}, fields={"reason": "too_large"})


def _xlsx_extent(window: bytes) -> None:
    if _FAR_CELL.search(window):
        raise _too_large()


def _ods_extent(window: bytes) -> None:
    for match in _ODS_REPEAT.finditer(window):
        # trailing empty rows and columns are written as big repeats; a repeat is refused only
        # when it carries a value
        after = window[match.end():match.end() + 200]
        big = int(match[2]) > (MAX_ROWS if match[1] == b"rows" else 1024)
        if big and (b"office:value" in after.split(b">", 1)[0] or b"<text:p" in after[:120]):
            raise CensusFileError(_("The sheet repeats a value across too many cells."),
                                  fields={"reason": "too_large"})


# ---------------------------------------------------------------------------------------------
# sheets


@dataclass
class RawSheet:
    name: str
    rows: Iterable[list]  # rows from row 1, each list starting at column `col_offset`
    col_offset: int = 0
    merged: list = field(default_factory=list)
    hidden: bool = False  # hidden in the workbook (the template's lists sheet, say)


@dataclass
class Book:
    kind: str
    sheets: list[RawSheet]
    encoding: str = ""


def open_book(data: bytes, *, filename: str = "") -> Book:
    """Recognise and open a census file; every sheet as rows of raw values."""
    max_bytes = limit("MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)
    if len(data) > max_bytes:
        raise CensusFileError(_("The file is larger than %(mb)d MB.") % {"mb": max_bytes // 2 ** 20},
                              fields={"reason": "too_large"})
    if not data:
        raise CensusFileError(_("The file is empty."))
    kind = sniff_kind(data)
    if kind == "csv":
        try:
            text, encoding = decode_text(data)
        except CensusFileError as exc:
            raise as_named(exc, filename, kind) from None
        return Book(kind="csv", sheets=[RawSheet(name=filename or "csv", rows=_csv_rows(text))], encoding=encoding)
    if kind in ("xlsx", "ods"):
        check_zip(data)
    return _calamine_book(data, kind)


# What a file's name says it is (by its extension) and what each kind of content is called in messages.
KIND_BY_EXTENSION = {"xlsx": "xlsx", "xlsm": "xlsx", "xls": "xls", "ods": "ods", "csv": "csv", "txt": "csv",
                     "tsv": "csv"}


def _kind_names() -> dict[str, tuple[str, str]]:
    """kind -> (what a file named so should be, what such content is), in the user's language."""
    workbook = _("an Excel workbook")
    return {"xlsx": (workbook, _("an Excel workbook (xlsx)")), "xls": (workbook, _("an Excel 97-2003 workbook (xls)")),
            "ods": (_("an OpenDocument spreadsheet"), _("an OpenDocument spreadsheet (ods)")),
            "csv": (_("a CSV text file"), _("plain text"))}


def as_named(exc: CensusFileError, filename: str, kind: str) -> CensusFileError:
    """`exc` as it reads for a file whose name promises another kind than its content (a text file named
    .xlsx): the file is recognised by its content, and when that content cannot be read as a census the
    message says first that name and content disagree. Plain text where a spreadsheet was promised is
    then told what to upload, not what the text lacks (its missing header row would mislead: the person
    meant another file); a spreadsheet named .csv keeps what is wrong with it. `exc` itself when name and
    content agree."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    named = KIND_BY_EXTENSION.get(extension)
    if named is None or named == kind or {named, kind} == {"xlsx", "xls"}:  # (calamine reads either as either)
        return exc
    names = _kind_names()
    words = {"ext": extension, "expected": names[named][0], "actual": names[kind][1]}
    if kind == "csv":  # (nor the fields of what the text lacks, such as the census headers expected)
        return CensusFileError(_("The file is named .%(ext)s, but its content is not %(expected)s: it is "
                                 "%(actual)s. Upload an Excel workbook (xlsx, xls), an OpenDocument spreadsheet "
                                 "(ods) or a CSV file.") % words, fields={"named_as": named, "content": kind})
    message = _("The file is named .%(ext)s, but its content is not %(expected)s: it is %(actual)s.") % words
    return CensusFileError(f"{message} {exc.message}", fields={**(exc.fields or {}), "named_as": named,
                                                                 "content": kind})


def _calamine_book(data: bytes, kind: str) -> Book:
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise CensusFileError(_("The spreadsheet is encrypted; remove the password and upload it again.")) from None
    except Exception as exc:  # calamine raises many kinds for damaged files
        raise CensusFileError(_("The spreadsheet cannot be read: %(reason)s") % {"reason": _short(exc)}) from None
    sheets = []
    try:
        metadata = workbook.sheets_metadata
    except Exception:
        metadata = []
    for index, name in enumerate(workbook.sheet_names):
        meta = metadata[index] if index < len(metadata) else None
        if meta is not None and str(meta.typ) not in ("SheetTypeEnum.WorkSheet", "WorkSheet"):
            continue
        hidden = meta is not None and "Visible" not in str(meta.visible).rsplit(".", 1)[-1]
        sheets.append(RawSheet(name=name, rows=_LazyCalamineRows(workbook, index), hidden=hidden))
    if not sheets:
        raise CensusFileError(_("The spreadsheet has no worksheets."))
    return Book(kind=kind, sheets=sheets)


class _LazyCalamineRows:
    """Opens a calamine sheet only when its rows are wanted."""

    def __init__(self, workbook, index: int):
        self.workbook, self.index = workbook, index
        self.col_offset = 0
        self.merged = []

    def __iter__(self) -> Iterator[list]:
        try:
            sheet = self.workbook.get_sheet_by_index(self.index)
        except Exception as exc:
            raise CensusFileError(_("The sheet cannot be read: %(reason)s") % {"reason": _short(exc)}) from None
        start = sheet.start
        self.col_offset = start[1] if start else 0
        try:
            self.merged = sheet.merged_cell_ranges or []
        except Exception:
            self.merged = []
        if sheet.height > limit("MAX_ROWS", MAX_ROWS) + HEADER_SEARCH_ROWS * 10:
            raise CensusFileError(_("The sheet has more than %(n)d rows; split it into several files.")
                                  % {"n": limit("MAX_ROWS", MAX_ROWS)}, fields={"reason": "too_many_rows"})
        if sheet.width > MAX_COLUMNS:
            raise CensusFileError(_("The sheet has more than %(n)d columns.") % {"n": MAX_COLUMNS},
                                  fields={"reason": "too_many_columns"})
        try:
            yield from _filled_down(sheet.iter_rows(), self.merged, self.col_offset)
        except CensusFileError:
            raise
        except Exception as exc:
            raise CensusFileError(_("The sheet cannot be read: %(reason)s") % {"reason": _short(exc)}) from None


def _filled_down(rows: Iterator[list], merged: list, col_offset: int) -> Iterator[list]:
    """Rows with each vertically merged cell's value in every row it spans. Counties merge the county
    and street cells down over all the estates of a street; a spreadsheet keeps the value in the top
    cell only, and every row below would lack its county and street. Ranges one row high (titles,
    group headers) are left as they are."""
    starts: dict[int, list[tuple[int, int]]] = {}
    for (top, left), (bottom, _right) in merged:
        if bottom > top:
            starts.setdefault(top, []).append((left - col_offset, bottom))
    if not starts:
        yield from rows
        return
    active: list[tuple[int, int, object]] = []  # (column, last row, value)
    for index, row in enumerate(rows):
        if active:
            active = [span for span in active if span[1] >= index]
            for col, _last, value in active:
                if col < len(row) and row[col] in ("", None):
                    row[col] = value
        for col, bottom in starts.get(index, ()):
            if 0 <= col < len(row) and row[col] not in ("", None):
                active.append((col, bottom, row[col]))
        yield row


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def decode_text(data: bytes) -> tuple[str, str]:
    """Text of a CSV: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (which covers GBK)."""
    decoded = text_files.decode_text(data)
    if decoded is None:
        raise CensusFileError(_("The text file is in an unknown encoding: save it as UTF-8 or GBK (GB18030)."),
                              fields={"reason": "encoding"})
    return decoded


def _csv_rows(text: str) -> Iterator[list]:
    sample = text[:8192]
    first_lines = sample.splitlines()[:HEADER_SEARCH_ROWS]
    delimiter = max((",", "\t", ";"), key=lambda d: sum(line.count(d) for line in first_lines))
    csv.field_size_limit(1 << 20)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    max_rows = limit("MAX_ROWS", MAX_ROWS) + HEADER_SEARCH_ROWS * 10
    try:
        for number, row in enumerate(reader, start=1):
            if number > max_rows:
                raise CensusFileError(_("The sheet has more than %(n)d rows; split it into several files.")
                                      % {"n": limit("MAX_ROWS", MAX_ROWS)}, fields={"reason": "too_many_rows"})
            if len(row) > MAX_COLUMNS:
                row = row[:MAX_COLUMNS] if not any(row[MAX_COLUMNS:]) else row
                if len(row) > MAX_COLUMNS:
                    raise CensusFileError(_("The sheet has more than %(n)d columns.") % {"n": MAX_COLUMNS},
                                          fields={"reason": "too_many_columns"})
            yield row
    except csv.Error as exc:
        raise CensusFileError(_("The text file is not valid CSV: %(reason)s") % {"reason": _short(exc)}) from None


# ---------------------------------------------------------------------------------------------
# finding the table in a sheet


_HEADER_JUNK = re.compile(r"[\s*※★☆:：]+")
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|<[^>]*>")


def normalise_header(text) -> str:
    """`' 建筑面积（㎡）* '` → `建筑面积(m2)`: NFKC (full-width brackets and digits), no spaces or marks."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    return _HEADER_JUNK.sub("", text).lower()


_BREAK_BETWEEN_WIDE = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])")


def header_for_display(text: str) -> str:
    """A header as error lists show it: a line break inside 建成\n年份 dropped, other runs of spaces one space."""
    return " ".join(_BREAK_BETWEEN_WIDE.sub("", text).split())


def header_base(text: str) -> str:
    """The normalised header without its bracketed part: `建筑面积(m2)` → `建筑面积`."""
    return _BRACKETED.sub("", text)


@dataclass(frozen=True)
class ColumnSpec:
    field: str
    header: str  # the template's Chinese header
    synonyms: tuple[str, ...] = ()
    required: bool = False


class HeaderIndex:
    """Looks up a written header among the columns' headers and synonyms."""

    def __init__(self, columns: Iterable[ColumnSpec]):
        self.exact: dict[str, str] = {}
        self.base: dict[str, str] = {}
        for col in columns:
            for spelling in (col.header, *col.synonyms, col.field):
                key = normalise_header(spelling)
                self.exact.setdefault(key, col.field)
                self.base.setdefault(header_base(key), col.field)

    def field_for(self, text) -> str | None:
        key = normalise_header(text)
        if not key:
            return None
        return self.exact.get(key) or self.base.get(header_base(key))


@dataclass
class Table:
    sheet: str
    header_row: int  # as Excel shows it (1-based)
    fields: dict[str, int]  # field -> column index within the row lists
    headers: dict[str, str]  # field -> the header as written
    unknown_headers: list[str]
    duplicate_headers: list[str]
    col_offset: int
    rows: Iterator[tuple[int, list]]  # (Excel row number, cells)

    def column_letter(self, field_name: str) -> str:
        return column_letter(self.fields[field_name] + self.col_offset)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def locate_table(sheet: RawSheet, index: HeaderIndex, *, min_matches: int = 3) -> Table | None:
    """Find the header row among the first rows (title, note and blank rows above it are skipped).

    A second header row right below (a two-level header whose upper cells are merged group titles)
    contributes the headers it adds. Returns None when no row has `min_matches` known headers.
    """
    iterator = iter(sheet.rows)
    head = list(itertools.islice(iterator, HEADER_SEARCH_ROWS))
    best, best_count = None, 0
    for i, row in enumerate(head):
        count = len({f for f in (index.field_for(c) for c in row if isinstance(c, str)) if f})
        if count > best_count:
            best, best_count = i, count
    if best is None or best_count < min_matches:
        return None
    fields: dict[str, int] = {}
    headers: dict[str, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    data_start = best + 1

    def take(row, only_new: bool) -> int:
        added = 0
        for col, cell in enumerate(row):
            text = str(cell).strip() if cell not in (None, "") else ""
            if not text:
                continue
            field_name = index.field_for(text)
            if field_name is None:
                if not only_new:
                    unknown.append(text)
                continue
            if field_name in fields:
                if fields[field_name] != col and not only_new:
                    duplicates.append(text)
                continue
            fields[field_name] = col
            headers[field_name] = header_for_display(text)
            added += 1
        return added

    take(head[best], only_new=False)
    if best + 1 < len(head):
        below = head[best + 1]
        new = [index.field_for(c) for c in below if isinstance(c, str)]
        if sum(1 for f in new if f and f not in fields) >= 1 and sum(1 for f in new if f) >= max(
                1, len([c for c in below if c not in (None, "")]) // 2):
            take(below, only_new=True)
            data_start = best + 2
    col_offset = getattr(sheet.rows, "col_offset", sheet.col_offset)

    def data_rows() -> Iterator[tuple[int, list]]:
        yield from enumerate(itertools.chain(head[data_start:], iterator), start=data_start + 1)

    return Table(sheet=sheet.name, header_row=best + 1, fields=fields, headers=headers, unknown_headers=unknown,
                 duplicate_headers=duplicates, col_offset=col_offset, rows=data_rows())
