"""Buildings (楼栋) and households (住户) imported with the census, as further sheets of the same file.

`find_sheets(book, find_estate_table)` tells the sheets apart: the building and household sheets by
their names (楼栋, 住户 and a few synonyms) or else by their header rows; the rest go to the estate
sheet's finder. `plan_further(...)` reads and checks every row of the two sheets, finds the estate each
row names (by 小区编码, or by 小区名称 with 县（市、区）, 街道（乡镇） and 社区: in this file's estate sheet or
in the database, within the user's area) and matches buildings by (estate, 楼栋号) and households by
(building, 单元, 室号). `write_further(...)` writes and audits the changes; `census_import` calls it in
the same transaction as the estates, so errors in any sheet leave nothing written.

Owners' phones are stored as digits and appear masked (`mask_phone`) in errors, previews and audit.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import Action, Scope
from gaizao.core.audit import record_changes_bulk
from gaizao.core.models import AuditAction
from gaizao.estates.models import Building, BuildingStructure, Estate, Household, mask_phone

from . import values as v
from .columns import COLUMN_BY_FIELD, MIN_BUILT_YEAR, _choice_map
from .importer import (
    AUDIT_VERB,
    ESTATE_REQUIRED_FIELDS,
    EXAMPLE_PREFIXES,
    PREVIEW,
    VALUE_FIELDS,
    Plan,
    RegionResolver,
    Report,
    _area_names,
    _outside_column,
    _resolve,
    name_key,
    plain,
)
from .reader import (
    HEADER_SEARCH_ROWS,
    Book,
    CensusFileError,
    ColumnSpec,
    HeaderIndex,
    RawSheet,
    Table,
    locate_table,
)

BUILDING_SHEET = "楼栋"
HOUSEHOLD_SHEET = "住户"
BUILDINGS, HOUSEHOLDS = "buildings", "households"
SHEET_NAMES = {
    BUILDINGS: frozenset({"楼栋", "楼幢", "楼栋信息", "楼栋表", "楼栋清单", "楼栋明细", "楼幢信息"}),
    HOUSEHOLDS: frozenset({"住户", "房屋", "住户信息", "住户表", "住户清单", "住户明细", "房屋信息", "业主", "业主信息"}),
}

# The estate a row belongs to: its code, or its name with the regions (as in the estate sheet).
ESTATE_REF: tuple[ColumnSpec, ...] = (
    ColumnSpec("estate_code", "小区编码", ("编码", "小区代码", "小区编号")),
    ColumnSpec("estate_name", "小区名称", ("小区名", "小区", "所属小区", "项目名称")),
    dataclasses.replace(COLUMN_BY_FIELD["county"], required=False),
    dataclasses.replace(COLUMN_BY_FIELD["street"], required=False),
    COLUMN_BY_FIELD["community"],
)
_NUMBER_SYNONYMS = ("楼号", "幢号", "栋号", "楼栋编号", "楼幢号", "楼幢编号", "楼栋名称", "楼栋", "楼幢", "幢", "栋")
BUILDING_COLUMNS: tuple[ColumnSpec, ...] = (
    *ESTATE_REF,
    ColumnSpec("number", "楼栋号", _NUMBER_SYNONYMS, required=True),
    ColumnSpec("floors", "层数", ("楼层数", "地上层数", "总层数", "层数(层)")),
    ColumnSpec("units", "单元数", ("单元个数", "单元数量", "楼道数")),
    ColumnSpec("households", "户数", ("住户数", "总户数", "套数", "户数(户)")),
    ColumnSpec("has_elevator", "是否有电梯", ("有无电梯", "电梯", "已装电梯", "是否已装电梯", "有电梯")),
    ColumnSpec("structure", "结构", ("结构类型", "建筑结构", "房屋结构", "结构形式")),
    ColumnSpec("built_year", "建成年份", COLUMN_BY_FIELD["built_year"].synonyms),
)
HOUSEHOLD_COLUMNS: tuple[ColumnSpec, ...] = (
    *ESTATE_REF,
    ColumnSpec("building", "楼栋号", _NUMBER_SYNONYMS, required=True),
    ColumnSpec("unit", "单元", ("单元号", "单元名称", "楼道")),
    ColumnSpec("room", "室号", ("房号", "室", "房间号", "门牌号", "户号", "房屋号"), required=True),
    ColumnSpec("floor", "所在楼层", ("楼层", "所在层", "层次", "所在层数")),
    ColumnSpec("floor_area", "套内建筑面积（㎡）", ("套内建筑面积", "套内面积", "专有部分面积", "建筑面积", "面积",
                                              "房屋面积", "套内建筑面积(平方米)")),
    ColumnSpec("owner_name", "业主姓名", ("业主", "产权人", "产权人姓名", "户主", "户主姓名", "姓名", "业主名称")),
    ColumnSpec("owner_phone", "联系电话", ("电话", "手机", "手机号", "手机号码", "联系方式", "业主电话", "电话号码")),
)
COLUMNS = {BUILDINGS: BUILDING_COLUMNS, HOUSEHOLDS: HOUSEHOLD_COLUMNS}
INDEX = {BUILDINGS: HeaderIndex(BUILDING_COLUMNS), HOUSEHOLDS: HeaderIndex(HOUSEHOLD_COLUMNS)}
HEADERS = {kind: {c.field: c.header for c in columns} for kind, columns in COLUMNS.items()}  # as the template names them
KEY_FIELDS = {BUILDINGS: ("number",), HOUSEHOLDS: ("building", "room")}

STRUCTURE_LABELS = {
    BuildingStructure.BRICK_CONCRETE: "砖混",
    BuildingStructure.FRAME: "框架",
    BuildingStructure.SHEAR_WALL: "剪力墙",
    BuildingStructure.BRICK_WOOD: "砖木",
    BuildingStructure.OTHER: "其他",
}
STRUCTURE_SYNONYMS = {
    BuildingStructure.BRICK_CONCRETE: ("砖混结构", "混合结构", "砖混合结构"),
    BuildingStructure.FRAME: ("框架结构", "钢筋混凝土框架", "钢混框架"),
    BuildingStructure.SHEAR_WALL: ("剪力墙结构",),
    BuildingStructure.BRICK_WOOD: ("砖木结构",),
    BuildingStructure.OTHER: ("其它",),
}
STRUCTURE_CHOICES = _choice_map(STRUCTURE_LABELS, STRUCTURE_SYNONYMS)

# The building service's bounds (`estates.services.estate_buildings_add`)
BOUNDS = {
    "floors": (1, 200),
    "units": (1, 1000),
    "households": (0, 100_000),
    "floor": (-5, 200),
    "floor_area": (Decimal(0), Decimal("999999.99")),
}
BUILDING_FIELDS = ("floors", "units", "households", "has_elevator", "structure", "built_year")
HOUSEHOLD_FIELDS = ("floor", "floor_area", "owner_name", "owner_phone")
DEFAULTS = {"has_elevator": False, "structure": "", "owner_name": "", "owner_phone": ""}
CHUNK = 900  # ids per IN (…) query


# ---------------------------------------------------------------------------------------------
# values


_SPACES = re.compile(r"\s+")
_PHONE_JUNK = re.compile(r"[\s\-－—–()（）.·]")
_DIGITS = re.compile(r"[0-9]+")


def parse_key(raw, max_length: int) -> str | None:
    """A building number, unit or room as matched: half-width, without spaces (`１ 单元` → `1单元`)."""
    text = v.parse_text(raw, max_length=max_length)
    if text is None:
        return None
    # NFKC here, unlike numbers: `Ⅱ区` and `II区`, `①号楼` and `1号楼` name the same building (and stored keys were folded so)
    text = _SPACES.sub("", unicodedata.normalize("NFKC", text))
    if len(text) > max_length:
        raise v.ValueProblem(_("too long: %(n)d characters, at most %(max)d") % {"n": len(text), "max": max_length})
    return text or None


def parse_phone(raw) -> str | None:
    """A phone number as its digits: `+86 138-1234-5678` → `13812345678`, `(0571)8765-4321` → `057187654321`."""
    if v.is_blank(raw):
        return None
    if isinstance(raw, bool):
        raise v.ValueProblem(_("not a phone number"))
    text = v.to_halfwidth(v.clean_text(raw))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    digits = _PHONE_JUNK.sub("", text)
    if not _DIGITS.fullmatch(digits):
        raise v.ValueProblem(_("not a phone number: one number per cell, digits only"))
    if not 7 <= len(digits) <= 20:
        raise v.ValueProblem(_("a phone number has 7 to 20 digits"))
    if digits[0] == "1" and len(digits) != 11:
        raise v.ValueProblem(_("a mobile number has 11 digits"))
    return digits


def parse_structure(raw) -> str | None:
    try:
        return v.parse_choice(raw, STRUCTURE_CHOICES)
    except v.ValueProblem:
        raise v.ValueProblem(_("not one of: %(values)s") % {"values": "、".join(STRUCTURE_LABELS.values())}) from None


def _area(raw):
    low, high = BOUNDS["floor_area"]
    return v.parse_decimal(raw, min_value=low, max_value=high)


ESTATE_REF_PARSERS: dict[str, Callable] = {
    "estate_code": v.text_upto(32), "estate_name": v.text_upto(128), "county": v.region_ref, "street": v.region_ref,
    "community": v.region_ref,
}
PARSERS: dict[str, dict[str, Callable]] = {
    BUILDINGS: {
        **ESTATE_REF_PARSERS,
        "number": lambda raw: parse_key(raw, 32),
        "floors": v.int_between(*BOUNDS["floors"]),
        "units": v.int_between(*BOUNDS["units"]),
        "households": v.int_between(*BOUNDS["households"]),
        "has_elevator": v.parse_bool,
        "structure": parse_structure,
        "built_year": lambda raw: v.parse_year(raw, min_year=MIN_BUILT_YEAR),
    },
    HOUSEHOLDS: {
        **ESTATE_REF_PARSERS,
        "building": lambda raw: parse_key(raw, 32),
        "unit": lambda raw: parse_key(raw, 16),
        "room": lambda raw: parse_key(raw, 16),
        "floor": v.int_between(*BOUNDS["floor"]),
        "floor_area": _area,
        "owner_name": v.text_upto(64),
        "owner_phone": parse_phone,
    },
}


def masked_value(name: str, raw):
    """What errors show of a cell: an owner's phone only masked."""
    if name == "owner_phone" and raw is not None:
        return mask_phone(v.clean_text(raw))
    return raw


# ---------------------------------------------------------------------------------------------
# finding the sheets


@dataclass
class Sheets:
    estate: Table | None
    further: dict[str, Table] = field(default_factory=dict)  # BUILDINGS / HOUSEHOLDS -> table
    # further visible sheets with the estate header (a county sending one sheet per street), in file order
    more_estates: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _sheet_key(name: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", name or ""))


def _kind_by_name(name: str) -> str | None:
    key = _sheet_key(name)
    return next((kind for kind, names in SHEET_NAMES.items() if key in names), None)


def _kind_by_headers(headers) -> str | None:
    """A sheet that the estate sheet's finder took but whose extra headers say building or household."""
    if any(INDEX[HOUSEHOLDS].field_for(h) == "room" for h in headers):
        return HOUSEHOLDS
    if any(INDEX[BUILDINGS].field_for(h) == "number" for h in headers):
        return BUILDINGS
    return None


def _probe(sheet: RawSheet) -> Table | None:
    """The sheet's table when its header row has the key columns of a building or household sheet
    (its first rows are read once to tell; a sheet that cannot be read is left alone, as before)."""
    try:
        head = RawSheet(name=sheet.name, rows=list(itertools.islice(iter(sheet.rows), HEADER_SEARCH_ROWS)))
        for kind in (HOUSEHOLDS, BUILDINGS):
            table = locate_table(head, INDEX[kind])
            if table is not None and all(f in table.fields for f in KEY_FIELDS[kind]):
                return locate_table(sheet, INDEX[kind])
    except CensusFileError:
        pass
    return None


def find_sheets(book: Book, find_estate_table: Callable[[Book], Table]) -> Sheets:
    """The estate table (None when the file has only building or household sheets) and the further ones.

    A file without building and household sheets gives exactly the estate finder's answer (or error).
    """
    sheets = Sheets(estate=None)
    rest: list[RawSheet] = []
    for sheet in book.sheets:
        kind = _kind_by_name(sheet.name) if book.kind != "csv" else None
        if kind is None:
            rest.append(sheet)
            continue
        table = locate_table(sheet, INDEX[kind], min_matches=2)
        if table is None:
            sheets.warnings.append(_("Sheet %(sheet)s was not read: no header row with %(headers)s in its first rows.")
                                   % {"sheet": sheet.name, "headers": "、".join(c.header for c in COLUMNS[kind][:6])})
        elif kind in sheets.further:
            sheets.warnings.append(_("Sheet %(sheet)s was not read: the file has another sheet of this kind.")
                                   % {"sheet": sheet.name})
        else:
            sheets.further[kind] = table
    failure = None
    while True:
        try:
            table = find_estate_table(Book(kind=book.kind, sheets=list(rest), encoding=book.encoding))
        except CensusFileError as exc:
            failure = exc
            break
        kind = _kind_by_headers(table.unknown_headers)
        if kind is None:
            sheets.estate = table
            break
        if book.kind == "csv":
            raise CensusFileError(_("A CSV file holds only the estate sheet; import buildings and households "
                                    "from an xlsx file with a sheet for each."))
        sheet = next(s for s in rest if s.name == table.sheet)
        rest.remove(sheet)
        _add(sheets, sheet, _probe(sheet))
    if book.kind != "csv":
        for sheet in rest:
            if sheets.estate is None or sheet.name != sheets.estate.sheet:
                further = _probe(sheet)
                if further is None and sheets.estate is not None and not sheet.hidden:
                    more = _another_estate_table(sheet, find_estate_table, book)
                    if more is not None:
                        sheets.more_estates.append(more)
                        continue
                _add(sheets, sheet, further)
        if sheets.more_estates:  # in the order of the file, whichever sheet was found first
            order = {sheet.name: i for i, sheet in enumerate(book.sheets)}
            tables = sorted([sheets.estate, *sheets.more_estates], key=lambda t: order.get(t.sheet, 0))
            sheets.estate, sheets.more_estates = tables[0], tables[1:]
    if sheets.estate is None and (not sheets.further or "expected" not in failure.fields):
        raise failure  # no sheet to read, or the estate sheet is there but unreadable
    return sheets


def _another_estate_table(sheet: RawSheet, find_estate_table: Callable[[Book], Table], book: Book) -> Table | None:
    """The sheet's table when it is one more estate sheet: the estate header with every column an
    estate row needs (a notes or lists sheet naming a few headers is not)."""
    try:
        table = find_estate_table(Book(kind=book.kind, sheets=[sheet], encoding=book.encoding))
    except CensusFileError:
        return None
    if _kind_by_headers(table.unknown_headers) is not None:
        return None
    if not all(f in table.fields for f in ESTATE_REQUIRED_FIELDS):
        return None
    return table


def _add(sheets: Sheets, sheet: RawSheet, table: Table | None) -> None:
    if table is None:
        return
    kind = HOUSEHOLDS if "room" in table.fields else BUILDINGS
    if kind in sheets.further:
        sheets.warnings.append(_("Sheet %(sheet)s was not read: the file has another sheet of this kind.")
                               % {"sheet": sheet.name})
    else:
        sheets.further[kind] = table


# ---------------------------------------------------------------------------------------------
# reading and checking rows


@dataclass
class _Line:
    line: int
    parsed: dict
    cells: list
    names_estate: bool = False  # the estate reference was read (the row may have other problems)


@dataclass(frozen=True)
class EstateRef:
    """An estate further rows may name: one in the database (id) or one this import creates (id None)."""

    code: str
    id: int | None
    name: str
    region_code: str


_AMBIGUOUS = EstateRef(code="", id=None, name="", region_code="")


class _Sheet:
    """One further sheet: its table, parsers and how its errors are reported."""

    def __init__(self, kind: str, table: Table, report: Report):
        self.kind, self.table, self.report = kind, table, report
        self.spec = {c.field: c for c in COLUMNS[kind]}
        self.invalid: set[int] = set()
        missing = [self.spec[f].header for f in KEY_FIELDS[kind] if f not in table.fields]
        if "estate_code" not in table.fields:
            missing += [self.spec[f].header for f in ("estate_name", "county", "street") if f not in table.fields]
        if missing:
            raise CensusFileError(
                _("Sheet %(sheet)s (header in row %(row)d) lacks the required columns: %(columns)s")
                % {"sheet": table.sheet, "row": table.header_row, "columns": "、".join(missing)},
                fields={"missing_columns": missing, "sheet": table.sheet, "header_row": table.header_row})

    def error(self, row: _Line, name: str, reason: str, raw=None) -> None:
        col = self.table.fields.get(name)
        if raw is None and col is not None and col < len(row.cells):
            raw = row.cells[col]
        cell = f"{self.table.column_letter(name)}{row.line}" if col is not None else ""
        self.report.error(sheet=self.table.sheet, row=row.line, column=self.table.headers.get(name,
                                                                                               self.spec[name].header),
                          cell=cell, value=masked_value(name, raw), reason=reason)
        if row.line not in self.invalid:
            self.invalid.add(row.line)
            self.report.invalid_rows += 1

    def read(self) -> list[_Line]:
        """Every data row parsed; bad cells and missing required values reported (the row is then invalid)."""
        table, parsers = self.table, PARSERS[self.kind]
        present = [(name, col, parsers[name]) for name, col in table.fields.items()]
        key_cols = [table.fields[f] for f in ("estate_name", *KEY_FIELDS[self.kind]) if f in table.fields]
        code_col = table.fields.get("estate_code")
        rows: list[_Line] = []
        for line, cells in table.rows:
            if not cells or all(v.is_blank(c) or c == "" for c in cells):
                continue
            n = len(cells)
            if any(col < n and str(cells[col]).startswith(EXAMPLE_PREFIXES) for col in key_cols) and (
                    code_col is None or code_col >= n or v.is_blank(cells[code_col])):
                self.report.examples += 1
                continue
            row = _Line(line=line, parsed={}, cells=cells)
            rows.append(row)
            for name, col, parse in present:
                raw = cells[col] if col < n else None
                try:
                    row.parsed[name] = parse(raw)
                except v.ValueProblem as exc:
                    self.error(row, name, exc.reason, raw)
            for name in KEY_FIELDS[self.kind]:
                if row.parsed.get(name, "") is None:  # blank (an unreadable cell is reported already)
                    self.error(row, name, _("required"))
            row.names_estate = self._check_estate_ref(row)
        return rows

    def _check_estate_ref(self, row: _Line) -> bool:
        """A row names its estate by code, or by name, county and street (community optional)."""
        fields, names = self.table.fields, ("estate_code", "estate_name", "county", "street", "community")
        if any(f in fields and f not in row.parsed for f in names):
            return False  # an unreadable cell, reported already
        if row.parsed.get("estate_code") is not None:
            return True
        blank = next((f for f in names[1:4] if row.parsed.get(f) is None), None)
        if blank is not None:
            self.error(row, blank if blank in fields else "estate_code",
                       _("give the 小区编码, or the 小区名称 with 县（市、区） and 街道（乡镇）"))
            return False
        return True

    def ok(self, row: _Line) -> bool:
        return row.line not in self.invalid


class _Estates:
    """The estates further rows may name: this import's valid estate rows, then the database's in the
    user's area (an estate outside it is as unknown as one that does not exist)."""

    def __init__(self, plan: Plan, resolver: RegionResolver, scope: Scope):
        self.resolver, self.scope = resolver, scope
        self.by_code: dict[str, EstateRef] = {}
        self.by_name: dict[tuple[int, str], EstateRef] = {}
        self.plan = plan
        self.regions: dict = {}
        self.declared: dict[str, tuple] = {}  # estate code -> (楼栋数, 户数) as they will be after the import

    def region(self, parsed: dict):
        """(region, problem) for a row's county, street and community; problem is (field, reason)."""
        key = (parsed.get("county"), parsed.get("street"), parsed.get("community"))
        if key not in self.regions:
            _county, region, problem = _resolve(self.resolver, *key)
            if problem is None and not self.scope.covers(region.code, Action.CHANGE):
                problem = (_outside_column(self.scope, region),
                           _("outside your area: you may import only into %(area)s")
                           % {"area": _area_names(self.scope, self.resolver)})
            self.regions[key] = (region, problem)
        return self.regions[key]

    def load(self, codes: set[str], region_ids: set[int]) -> None:
        """The database's estates with these codes or in these regions, then this file's on top."""
        file_rows = [(row, code) for row, code in self.plan.creates]
        created = {id(row) for row, _code in file_rows}
        existing_rows = [row for row in self.plan.rows_ok if id(row) not in created]
        codes = codes | {row.code for row in existing_rows if row.code}
        region_ids = region_ids | {row.region.pk for row in existing_rows if not row.code}
        columns = ("id", "code", "name", "region_id", "region__code", "buildings", "households")
        records = []
        for field_name, wanted in (("code__in", sorted(codes)), ("region_id__in", sorted(region_ids))):
            for start in range(0, len(wanted), CHUNK):
                records.extend(Estate.objects.filter(**{field_name: wanted[start:start + CHUNK]})
                               .values_list(*columns))
        seen = set()
        for pk, code, name, region_id, region_code, buildings, households in records:
            if pk in seen or not self.scope.covers(region_code, Action.CHANGE):
                continue
            seen.add(pk)
            self.declared[code] = (buildings, households)
            ref = EstateRef(code=code, id=pk, name=name, region_code=region_code)
            self.by_code[code] = ref
            key = (region_id, name_key(name))
            self.by_name[key] = _AMBIGUOUS if key in self.by_name else ref
        for row in existing_rows:  # matched by code: the file may rename or move the estate
            ref = self.by_code.get(row.code) if row.code else self.by_name.get((row.region.pk, name_key(row.values[0])))
            if ref is not None and ref is not _AMBIGUOUS:
                self.by_name[(row.region.pk, name_key(row.values[0]))] = ref
                self._declare(ref.code, row)
        for row, code in file_rows:
            ref = EstateRef(code=code, id=None, name=row.values[0], region_code=row.region.code)
            self.by_code[code] = ref
            self.by_name[(row.region.pk, name_key(row.values[0]))] = ref
            self._declare(code, row)

    def _declare(self, code: str, row) -> None:
        """The estate sheet's 楼栋数 and 户数 of the estate, where the row gives them."""
        old = self.declared.get(code, (None, None))
        self.declared[code] = tuple(old[i] if row.values[slot] is None or name not in row.present
                                    else row.values[slot] for i, (name, slot) in enumerate(_COUNT_SLOTS))

    def find(self, parsed: dict) -> tuple[EstateRef | None, tuple[str, str] | None]:
        code = parsed.get("estate_code")
        if code is not None:
            ref = self.by_code.get(code)
            if ref is None:
                return None, ("estate_code", _("no estate with this code in your area or in the estate sheet"))
            return ref, None
        region, problem = self.region(parsed)
        if problem is not None:
            return None, problem
        ref = self.by_name.get((region.pk, name_key(parsed["estate_name"])))
        if ref is _AMBIGUOUS:
            return None, ("estate_name", _("several estates of this name in this community: give the 小区编码"))
        if ref is None:
            return None, ("estate_name", _("no estate of this name in %(region)s, in the database or in the estate "
                                           "sheet") % {"region": region.name})
        return ref, None


# ---------------------------------------------------------------------------------------------
# matching


@dataclass
class Item:
    """One building or household row to write: its values by field, and what the database holds."""

    line: int
    estate: EstateRef
    number: str  # the building's number
    values: dict
    old_id: int | None = None
    old_values: dict | None = None
    building_id: int | None = None  # households: the building already in the database
    unit: str = ""
    room: str = ""

    @property
    def changed(self) -> list[str]:
        if self.old_values is None:
            return []
        return [name for name, value in self.values.items() if self.old_values.get(name) != value]


@dataclass
class FurtherPlan:
    buildings_new: list[Item] = field(default_factory=list)
    buildings_changed: list[Item] = field(default_factory=list)
    households_new: list[Item] = field(default_factory=list)
    households_changed: list[Item] = field(default_factory=list)
    valid_rows: int = 0
    rows: int = 0

    @property
    def writes(self) -> int:
        return sum(len(x) for x in (self.buildings_new, self.buildings_changed, self.households_new,
                                    self.households_changed))


def _merge(values: dict, present, old: dict | None, fields: tuple[str, ...]) -> dict:
    """The values to store: a column the sheet has sets the field (blank: the default), one it lacks
    keeps what the database holds."""
    out = {}
    for name in fields:
        if name in present:
            value = values.get(name)
            out[name] = DEFAULTS.get(name) if value is None else value
        elif old is not None:
            out[name] = old[name]
        else:
            out[name] = DEFAULTS.get(name)
    return out


def _load_buildings(estate_ids: set[int]) -> dict[tuple[int, str], tuple[int, dict]]:
    out = {}
    ids = sorted(estate_ids)
    for start in range(0, len(ids), CHUNK):
        for record in Building.objects.filter(estate_id__in=ids[start:start + CHUNK]).values_list(
                "id", "estate_id", "number", *BUILDING_FIELDS):
            out[(record[1], record[2])] = (record[0], dict(zip(BUILDING_FIELDS, record[3:], strict=True)))
    return out


def _load_households(building_ids: set[int]) -> dict[tuple[int, str, str], tuple[int, dict]]:
    out = {}
    ids = sorted(building_ids)
    for start in range(0, len(ids), CHUNK):
        for record in Household.objects.filter(building_id__in=ids[start:start + CHUNK]).values_list(
                "id", "building_id", "unit", "room", *HOUSEHOLD_FIELDS):
            out[(record[1], record[2], record[3])] = (record[0], dict(zip(HOUSEHOLD_FIELDS, record[4:], strict=True)))
    return out


def plan_further(sheets: Sheets, report: Report, plan: Plan, resolver: RegionResolver, scope: Scope) -> FurtherPlan:
    """Read, check and match the building and household sheets; counts and previews go to `report`."""
    further = FurtherPlan()
    checked = {kind: _Sheet(kind, table, report) for kind, table in sheets.further.items()}
    lines = {kind: sheet.read() for kind, sheet in checked.items()}
    for kind, sheet in checked.items():
        report.further_sheets[kind] = {"sheet": sheet.table.sheet, "header_row": sheet.table.header_row,
                                       "rows": len(lines[kind])}
        further.rows += len(lines[kind])
        if sheet.table.unknown_headers:
            report.warnings.append(_("Sheet %(sheet)s: columns not used: %(h)s")
                                   % {"sheet": sheet.table.sheet, "h": "、".join(sheet.table.unknown_headers[:20])})

    # the estates the rows name
    estates = _Estates(plan, resolver, scope)
    codes, region_ids = set(), set()
    for kind in checked:
        for row in lines[kind]:
            if not row.names_estate:
                continue
            if row.parsed.get("estate_code") is not None:
                codes.add(row.parsed["estate_code"])
            else:
                region, _problem = estates.region(row.parsed)
                if region is not None:
                    region_ids.add(region.pk)
    estates.load(codes, region_ids)
    refs: dict[int, EstateRef] = {}
    for kind, sheet in checked.items():
        for row in lines[kind]:
            if row.names_estate:
                ref, problem = estates.find(row.parsed)
                if problem is not None:
                    sheet.error(row, problem[0] if problem[0] in sheet.table.fields else "estate_code", problem[1])
                else:
                    refs[id(row)] = ref
    db_buildings = _load_buildings({ref.id for ref in refs.values() if ref.id is not None})

    # buildings: by (estate, number)
    planned: dict[tuple[str, str], Item] = {}  # (estate code, number) -> the building as it will be
    bad_buildings: dict[tuple[str, str], int] = {}
    if BUILDINGS in checked:
        sheet = checked[BUILDINGS]
        present = set(sheet.table.fields)
        seen: dict[tuple[str, str], int] = {}
        for row in lines[BUILDINGS]:
            ref = refs.get(id(row))
            number = row.parsed.get("number")
            key = (ref.code, number) if ref is not None and number is not None else None
            if key is not None and key in seen:
                sheet.error(row, "number", _("the same building as row %(row)d") % {"row": seen[key]})
            elif key is not None:
                seen[key] = row.line
            if not sheet.ok(row):
                if key is not None:
                    bad_buildings.setdefault(key, row.line)
                continue
            old = db_buildings.get((ref.id, number)) if ref.id is not None else None
            item = Item(line=row.line, estate=ref, number=number,
                        values=_merge(row.parsed, present, old[1] if old else None, BUILDING_FIELDS),
                        old_id=old[0] if old else None, old_values=old[1] if old else None)
            planned[key] = item
            _count(report, further, BUILDINGS, item)

    # households: by (building, unit, room)
    if HOUSEHOLDS in checked:
        sheet = checked[HOUSEHOLDS]
        present = set(sheet.table.fields)
        targets: dict[int, tuple[Item | None, int | None]] = {}
        for row in lines[HOUSEHOLDS]:
            ref = refs.get(id(row))
            if ref is None or not sheet.ok(row):
                continue
            key = (ref.code, row.parsed["building"])
            building = planned.get(key)
            existing = db_buildings.get((ref.id, key[1])) if ref.id is not None else None
            if building is None and existing is None:
                reason = (_("building %(number)s of this estate is invalid in sheet %(sheet)s, row %(row)d")
                          % {"number": key[1], "sheet": checked[BUILDINGS].table.sheet, "row": bad_buildings[key]}
                          if key in bad_buildings else
                          _("no building %(number)s in %(estate)s, in the database or in the building sheet")
                          % {"number": key[1], "estate": ref.name})
                sheet.error(row, "building", reason)
                continue
            floors = building.values["floors"] if building is not None else existing[1]["floors"]
            floor = row.parsed.get("floor")
            if floor is not None and floors is not None and floor > floors:
                sheet.error(row, "floor", _("above the building's %(n)d floors") % {"n": floors})
                continue
            targets[id(row)] = (building, existing[0] if existing else None)
        db_households = _load_households({b for _item, b in targets.values() if b is not None})
        seen_rooms: dict[tuple[str, str, str, str], int] = {}
        for row in lines[HOUSEHOLDS]:
            if id(row) not in targets or not sheet.ok(row):
                continue
            ref = refs[id(row)]
            building, building_id = targets[id(row)]
            unit, room = row.parsed.get("unit") or "", row.parsed["room"]
            key = (ref.code, row.parsed["building"], unit, room)
            if key in seen_rooms:
                sheet.error(row, "room", _("the same dwelling (building, unit, room) as row %(row)d")
                            % {"row": seen_rooms[key]})
                continue
            seen_rooms[key] = row.line
            old = db_households.get((building_id, unit, room)) if building_id is not None else None
            item = Item(line=row.line, estate=ref, number=row.parsed["building"], unit=unit, room=room,
                        values=_merge(row.parsed, present, old[1] if old else None, HOUSEHOLD_FIELDS),
                        old_id=old[0] if old else None, old_values=old[1] if old else None,
                        building_id=building_id)
            _count(report, further, HOUSEHOLDS, item)
    further.valid_rows = sum(1 for kind, sheet in checked.items() for row in lines[kind] if sheet.ok(row))
    if BUILDINGS in checked:
        _warn_more_than_declared(report, estates, checked[BUILDINGS].table.sheet, 0,
                                 [ref_code for ref_code, _number in planned])
    if HOUSEHOLDS in checked:
        _warn_more_than_declared(report, estates, checked[HOUSEHOLDS].table.sheet, 1,
                                 [ref_code for ref_code, *_rest in seen_rooms])
    return further


_COUNT_SLOTS = tuple((name, VALUE_FIELDS.index(name)) for name in ("buildings", "households"))
_WARN_EXAMPLES = 10


def _warn_more_than_declared(report: Report, estates: _Estates, sheet: str, slot: int, listed_codes: list) -> None:
    """A warning (not an error: one of the two counts is out of date, and the officials know which) for
    estates whose sheet lists more buildings than their 楼栋数, or more dwellings than their 户数. Fewer
    is common: a survey lists the buildings it has reached so far."""
    listed: dict[str, int] = {}
    for code in listed_codes:
        listed[code] = listed.get(code, 0) + 1
    over = [(code, n, estates.declared[code][slot]) for code, n in listed.items()
            if estates.declared.get(code, (None, None))[slot] and n > estates.declared[code][slot]]
    if not over:
        return
    names = {ref.code: ref.name for ref in estates.by_code.values()}
    examples = "、".join(f"{names.get(code, code)}（{code}）{n} > {declared}"
                        for code, n, declared in over[:_WARN_EXAMPLES])
    if slot == 0:
        text = _("Sheet %(sheet)s lists more buildings than the estate sheet's 楼栋数 for %(n)d estates: %(examples)s")
    else:
        text = _("Sheet %(sheet)s lists more dwellings than the estate sheet's 户数 for %(n)d estates: %(examples)s")
    report.warnings.append(text % {"sheet": sheet, "n": len(over), "examples": examples})


def _count(report: Report, further: FurtherPlan, kind: str, item: Item) -> None:
    """Sort a matched row into created, updated or unchanged, with its counts and preview."""
    preview = getattr(report, f"preview_{kind}")
    if item.old_values is None:
        (further.buildings_new if kind == BUILDINGS else further.households_new).append(item)
        bucket, extra = "created", {}
    elif item.changed:
        (further.buildings_changed if kind == BUILDINGS else further.households_changed).append(item)
        bucket, extra = "updated", {"fields": item.changed, "columns": [HEADERS[kind][f] for f in item.changed]}
    else:
        report.count(f"{kind}_unchanged")
        return
    report.count(f"{kind}_{bucket}")
    if len(preview[bucket]) < PREVIEW:
        entry = {"row": item.line, "estate": item.estate.name, "estate_code": item.estate.code,
                 "building": item.number, **extra}
        if kind == HOUSEHOLDS:
            entry.update(unit=item.unit, room=item.room, owner_name=item.values["owner_name"],
                         owner_phone=mask_phone(item.values["owner_phone"]))
        preview[bucket].append(entry)


# ---------------------------------------------------------------------------------------------
# writing


def building_audit(estate: Estate, number: str, values: dict) -> dict:
    return {"estate": estate.code, "number": number, **{k: plain(x) for k, x in values.items()}}


def household_audit(building: Building, unit: str, room: str, values: dict) -> dict:
    data = {"estate": building.estate.code, "building": building.number, "unit": unit, "room": room,
            **{k: plain(x) for k, x in values.items()}}
    data["owner_phone"] = mask_phone(values["owner_phone"])
    return data


def write_further(further: FurtherPlan, *, actor, cause: str) -> None:
    """Write the planned buildings and households with an audit entry each (inside the import's
    transaction; the estates this import creates are already written)."""
    if not further.writes:
        return
    codes = sorted({i.estate.code for i in (*further.buildings_new, *further.buildings_changed,
                                            *further.households_new, *further.households_changed)})
    estates: dict[str, Estate] = {}
    for start in range(0, len(codes), CHUNK):
        for estate in (Estate.objects.filter(code__in=codes[start:start + CHUNK]).select_related("region")
                       .only("id", "code", "name", "region__id", "region__code")):
            estates[estate.code] = estate

    buildings: dict[tuple[str, str], Building] = {}
    created = [Building(estate=estates[i.estate.code], number=i.number, **i.values) for i in further.buildings_new]
    Building.objects.bulk_create(created, batch_size=1000)
    _fill_ids(created, Building, "estate_id", "number")
    changed = [Building(pk=i.old_id, estate=estates[i.estate.code], number=i.number, **i.values)
               for i in further.buildings_changed]
    Building.objects.bulk_update(changed, fields=list(BUILDING_FIELDS), batch_size=500)
    entries = []
    for obj, item in zip(created, further.buildings_new, strict=True):
        buildings[(item.estate.code, item.number)] = obj
        entries.append((obj, AuditAction.CREATE, None, building_audit(obj.estate, item.number, item.values)))
    for obj, item in zip(changed, further.buildings_changed, strict=True):
        buildings[(item.estate.code, item.number)] = obj
        entries.append((obj, AuditAction.UPDATE, building_audit(obj.estate, item.number, item.old_values),
                        building_audit(obj.estate, item.number, item.values)))
    record_changes_bulk(actor=actor, entries=entries, verb=AUDIT_VERB, cause=cause)

    def building_of(item: Item) -> Building:
        key = (item.estate.code, item.number)
        if key not in buildings:  # in the database and not in the building sheet (or unchanged there)
            buildings[key] = Building(pk=item.building_id, estate=estates[item.estate.code], number=item.number)
        return buildings[key]

    created = [Household(building=building_of(i), unit=i.unit, room=i.room, **i.values) for i in further.households_new]
    Household.objects.bulk_create(created, batch_size=2000)
    _fill_ids(created, Household, "building_id", "unit", "room")
    changed = [Household(pk=i.old_id, building=building_of(i), unit=i.unit, room=i.room, **i.values)
               for i in further.households_changed]
    Household.objects.bulk_update(changed, fields=list(HOUSEHOLD_FIELDS), batch_size=500)
    entries = [(obj, AuditAction.CREATE, None, household_audit(obj.building, i.unit, i.room, i.values))
               for obj, i in zip(created, further.households_new, strict=True)]
    entries += [(obj, AuditAction.UPDATE, household_audit(obj.building, i.unit, i.room, i.old_values),
                 household_audit(obj.building, i.unit, i.room, i.values))
                for obj, i in zip(changed, further.households_changed, strict=True)]
    record_changes_bulk(actor=actor, entries=entries, verb=AUDIT_VERB, cause=cause)


def _fill_ids(objs: list, model, parent: str, *keys: str) -> None:
    """Primary keys for rows that `bulk_create` could not return them for (older database versions)."""
    if connection.features.can_return_rows_from_bulk_insert or not objs:
        return
    ids = {}
    parents = sorted({getattr(o, parent) for o in objs})
    for start in range(0, len(parents), CHUNK):
        for record in model.objects.filter(**{f"{parent}__in": parents[start:start + CHUNK]}).values_list(
                "id", parent, *keys):
            ids[record[1:]] = record[0]
    for obj in objs:
        obj.pk = ids[(getattr(obj, parent), *(getattr(obj, k) for k in keys))]
