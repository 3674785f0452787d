"""Census import: validate every row and column, then write all or nothing.

`census_import(actor=…, data=…, filename=…, dry_run=…, valid_only=…)` returns a report:
counts of created, updated and unchanged estates, a preview, and the errors (sheet, row number as
Excel shows it, column header, value, reason). A commit with any invalid row writes nothing and
raises `ServiceError(CENSUS_ROWS_INVALID)` carrying the same report; `valid_only=True` is the
separate, explicit choice of importing the valid rows and skipping the rest.

Matching: by 小区编码 when given, else by community (or street) + name. Importing the same file
again changes nothing. Every created or changed estate gets an audit entry whose cause names the
import. The writes are one transaction, so a failed or killed import leaves nothing behind.

Speed (200,000 rows in about 25 s on two cores; `docs/architecture.md` says where the time goes):
cells are parsed column by column, each distinct value once; the rules are memoised; on SQLite the
secondary indexes of a large import are rebuilt after its inserts, links and the new estates' audit
entries are written by single INSERT … SELECT statements, and a second thread makes the estate rows
while SQLite works without the GIL. The fast paths are property-tested equal to the plain ones.
"""

from __future__ import annotations

import datetime
import difflib
import gc
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from decimal import Decimal
from operator import itemgetter

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import Action, Scope, scope_for
from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.core.models import AuditAction, AuditEntry
from gaizao.core.request_context import current_request_id
from gaizao.estates import services as estate_services
from gaizao.estates.models import (
    CatalogueItem,
    ContentClass,
    Eligibility,
    Estate,
    EstateStatus,
    HousingType,
    ManagementMode,
)
from gaizao.estates.rules import BASIC, ENHANCEMENT, IMPROVEMENT, MemoisedEvaluator
from gaizao.regions.models import Region, RegionLevel

from . import values as v
from .columns import (
    BOUNDS,
    COLUMN_BY_FIELD,
    ESTATE_SHEET,
    HEADER_INDEX,
    HOUSING_CHOICES,
    HOUSING_LABELS,
    MANAGEMENT_CHOICES,
    MANAGEMENT_LABELS,
    MIN_BUILT_YEAR,
)
from .reader import CensusFileError, Table, as_named, column_letter, locate_table, open_book

ProgressCallback = Callable[[int, str], None]
AUDIT_VERB = "estates.census_import"  # the verb of every audit entry an import writes
ERROR_CAP = 5000
SUGGESTION_BUDGET = 2000  # distinct unknown texts per import that get "did you mean" hints
PREVIEW = 20
CHUNK = 5000

# Census fields stored on the estate (deficiencies are a many-to-many, regions are resolved).
VALUE_FIELDS = ("name", "address", "built_year", "buildings", "households", "floor_area", "housing_type",
                "in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard", "management_mode",
                "max_floors", "buildings_with_elevator", "willingness", "longitude", "latitude")
DEFAULTS = {"address": "", "buildings": 0, "households": 0, "housing_type": HousingType.OTHER.value,
            "in_shantytown_plan": False, "in_historic_district": False, "has_precast_slab_hazard": False,
            "management_mode": ManagementMode.NONE.value, "buildings_with_elevator": 0}
ESTATE_REQUIRED_FIELDS = ("name", "county", "street", "built_year")  # columns an estate sheet must have
EXAMPLE_PREFIXES = ("示例", "（示例）", "(示例)", "【示例】")
CODE_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_\-.]{0,31}$")


# ---------------------------------------------------------------------------------------------
# regions


def name_key(text: str) -> str:
    return unicodedata.normalize("NFKC", "".join((text or "").split())).lower()


_SUFFIXES = ("社区居民委员会", "居民委员会", "社区居委会", "街道办事处", "居委会", "社区", "街道", "镇", "乡", "区", "县",
             "市", "村")


def short_key(text: str) -> str:
    key = name_key(text)
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            return key[: -len(suffix)]
    return key


class RegionResolver:
    """Counties, streets and communities by code or by name, each inside the one before."""

    def __init__(self):
        self.by_code: dict[str, Region] = {}
        self.children: dict[int | None, dict[str, list[Region]]] = defaultdict(lambda: defaultdict(list))
        self.children_short: dict[int | None, dict[str, list[Region]]] = defaultdict(lambda: defaultdict(list))
        self.counties_by_name: dict[str, list[Region]] = defaultdict(list)
        self.counties_by_short: dict[str, list[Region]] = defaultdict(list)
        self.cities_by_short: dict[str, Region] = {}  # (a city written where its county belongs)
        # what may stand before a county's name, as in 浙江省杭州市西湖区: (spelling, city or None for the province)
        self.prefixes: list[tuple[str, Region | None]] = []
        self._hinted: dict[tuple, list[str]] = {}  # (parent id or None, text) -> closest names
        levels = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.STREET,
                  RegionLevel.COMMUNITY)
        for region in Region.objects.filter(level__in=levels).only("id", "code", "name", "level", "parent_id",
                                                                    "is_active"):
            if region.level in (RegionLevel.PROVINCE, RegionLevel.CITY):
                city = region if region.level == RegionLevel.CITY else None
                full = name_key(region.name)
                for spelling in {full, short_key(region.name), full.removesuffix("省").removesuffix("市")} - {""}:
                    self.prefixes.append((spelling, city))
                if city is not None and region.is_active:
                    self.cities_by_short[short_key(region.name)] = region
                continue
            self.by_code[region.code] = region
            if region.level == RegionLevel.COUNTY:
                self.counties_by_name[name_key(region.name)].append(region)
                self.counties_by_short[short_key(region.name)].append(region)
            else:
                self.children[region.parent_id][name_key(region.name)].append(region)
                self.children_short[region.parent_id][short_key(region.name)].append(region)

    @staticmethod
    def _pick(candidates: list[Region]) -> Region | None:
        if len(candidates) == 1:
            return candidates[0]
        active = [r for r in candidates if r.is_active]
        return active[0] if len(active) == 1 else None

    def county(self, ref) -> Region:
        kind, text = ref
        if kind == "code":
            region = self.by_code.get(text)
            if region is None or region.level != RegionLevel.COUNTY:
                raise v.ValueProblem(_("no county with this code"))
            return region
        found = self._pick(self.counties_by_name.get(name_key(text), [])) or self._pick(
            self.counties_by_short.get(short_key(text), [])) or self._qualified_county(text)
        if found is None:
            city = self.cities_by_short.get(short_key(text))
            if city is not None:
                counties = sorted((r for regions in self.counties_by_short.values() for r in regions
                                   if r.parent_id == city.pk and r.is_active), key=lambda r: r.code)
                listed = "、".join(r.name for r in counties[:8]) + ("…" if len(counties) > 8 else "")
                raise v.ValueProblem(_("%(city)s is a city: give one of its counties (%(counties)s)")
                                     % {"city": city.name, "counties": listed})
            reason = _("no county of this name in the region tree")
            if (None, text) not in self._hinted and len(self._hinted) < SUGGESTION_BUDGET:
                names = {k: regions[0].name for k, regions in self.counties_by_short.items()
                         if any(r.is_active for r in regions)}
                self._hinted[(None, text)] = [names[k] for k in difflib.get_close_matches(
                    short_key(text), list(names), n=3, cutoff=0.5)]
            hints = self._hinted.get((None, text), [])
            if hints:
                reason += _("; did you mean %(names)s?") % {"names": "、".join(hints)}
            raise v.ValueProblem(reason)
        return found

    def _qualified_county(self, text: str) -> Region | None:
        """A county written with its province or city before it (浙江省杭州市西湖区, 杭州西湖区); a city
        prefix must be the county's own city."""
        key = name_key(text)
        for spelling, city in self.prefixes:
            if not key.startswith(spelling) or len(key) == len(spelling):
                continue
            rest = key[len(spelling):]
            if city is None:  # the province: its city may follow
                found = self._qualified_county(rest) or self._county_named(rest, None)
            else:
                found = self._county_named(rest, city)
            if found is not None:
                return found
        return None

    def _county_named(self, key: str, city: Region | None) -> Region | None:
        candidates = self.counties_by_name.get(key, []) or self.counties_by_short.get(short_key(key), [])
        if city is not None:
            candidates = [r for r in candidates if r.parent_id == city.pk]
        return self._pick(candidates)

    def child(self, ref, parent: Region, level: str) -> Region:
        kind, text = ref
        if kind == "code":
            region = self.by_code.get(text)
            if region is None or region.level != level:
                raise v.ValueProblem(_("no %(level)s with this code") % {"level": RegionLevel(level).label})
            if region.parent_id != parent.pk:
                raise v.ValueProblem(_("%(name)s (%(code)s) is not inside %(parent)s")
                                     % {"name": region.name, "code": region.code, "parent": parent.name})
            return region
        found = self._pick(self.children[parent.pk].get(name_key(text), [])) or self._pick(
            self.children_short[parent.pk].get(short_key(text), []))
        if found is None:
            alike = sorted(r.name for r in self.children_short[parent.pk].get(short_key(text), []) if r.is_active)
            if len(alike) > 1:  # 富巷 inside 阳明街道: both 富巷社区 and 富巷居委会
                raise v.ValueProblem(_("several %(level)s inside %(parent)s go by this name: %(names)s; write the "
                                       "full name or the code") % {"level": RegionLevel(level).label,
                                                                   "parent": parent.name, "names": "、".join(alike)})
            reason = _("no %(level)s of this name inside %(parent)s") % {"level": RegionLevel(level).label,
                                                                        "parent": parent.name}
            hints = self._close_children(parent, text)
            if hints:
                reason += _("; did you mean %(names)s?") % {"names": "、".join(hints)}
            raise v.ValueProblem(reason)
        return found

    def _close_children(self, parent: Region, text: str) -> list[str]:
        """The names of `parent`'s active regions closest to `text` (a typo, a former name)."""
        if len(self._hinted) >= SUGGESTION_BUDGET and (parent.pk, text) not in self._hinted:
            return []
        if (parent.pk, text) not in self._hinted:
            names = sorted({r.name for regions in self.children[parent.pk].values() for r in regions if r.is_active})
            by_key: dict[str, list[str]] = defaultdict(list)
            for name in names:
                by_key[short_key(name)].append(name)
            close = difflib.get_close_matches(short_key(text), list(by_key), n=3, cutoff=0.5)
            self._hinted[(parent.pk, text)] = [name for k in close for name in by_key[k]]
        return self._hinted[(parent.pk, text)]


# ---------------------------------------------------------------------------------------------
# catalogue


class Catalogue:
    def __init__(self):
        self.items = {i.pk: i for i in CatalogueItem.objects.all()}
        self.lookup: dict[str, int] = {}
        self.fast: dict[str, int | None] = {}
        self.exact: dict[str, int | None] = {"": None}  # a cell's part as written → item id (None: no item)
        self._suggested: dict[str, list[str]] = {}
        for item in sorted(self.items.values(), key=lambda i: (not i.is_active, i.sort)):
            for spelling in (item.name, item.code, item.name_en, *(item.synonyms or [])):
                if spelling:
                    self.lookup.setdefault(name_key(spelling), item.pk)
        for key, pk in self.lookup.items():
            self.exact.setdefault(key, pk)

    def cell_ids(self, raw) -> tuple[int, ...]:
        """The item ids of a 主要问题 cell (as `ids(parse_items(raw))`). A cell whose parts are all
        spellings seen before is split and looked up directly; others take the full path."""
        if type(raw) is str:
            exact = self.exact
            found = set()
            for part in v.ITEM_SEPARATORS.split(raw):
                pk = exact.get(part, 0)
                if pk == 0:
                    break
                if pk is not None:
                    found.add(pk)
            else:
                return tuple(sorted(found))
        ids = self.ids(v.parse_items(raw))
        if type(raw) is str:  # remember how this cell spelled its items
            for part in v.ITEM_SEPARATORS.split(raw):
                text = part.strip(v.EDGE_SPACES)
                pk = self.lookup.get(name_key(text)) if text else None
                if pk is not None or not text:  # (a blank word such as 无数据 is an item only as the whole cell)
                    self.exact[part] = pk
        return ids

    def column_ids(self, column: list) -> list | None:
        """`cell_ids` of every cell of a column without an error, else None (the caller then parses
        cell by cell to report the errors)."""
        lookup, split, out = self.exact.__getitem__, v.ITEM_SEPARATORS.split, []
        for cell in column:
            if type(cell) is str:
                try:
                    found = set(map(lookup, split(cell)))
                except KeyError:
                    pass
                else:
                    found.discard(None)
                    out.append(tuple(sorted(found)))
                    continue
            elif cell is None:
                out.append(())
                continue
            try:
                out.append(self.cell_ids(cell))
            except v.ValueProblem:
                return None
        return out

    def ids(self, names: list[str]) -> tuple[int, ...]:
        found, unknown = [], []
        fast = self.fast
        for name in names:
            pk = fast.get(name)
            if pk is None:
                pk = fast[name] = self.lookup.get(name_key(name))
            if pk is None:
                unknown.append(name)
            elif pk not in found:
                found.append(pk)
        if unknown:
            reason = _("not in the content catalogue: %(items)s") % {"items": "、".join(unknown[:5])}
            hints = self.suggestions(unknown[0])
            if hints:
                reason += _("; did you mean %(names)s?") % {"names": "、".join(hints)}
            raise v.ValueProblem(reason)
        return tuple(sorted(found))

    def suggestions(self, text: str, *, limit: int = 3) -> list[str]:
        """Catalogue items a county may have meant by `text`: those a spelling of which it contains
        (`屋面防水` → 屋面), else the closest spellings. Each text once, and at most SUGGESTION_BUDGET
        texts per import (a column of free prose would otherwise cost 0.2 ms a cell for hints nobody reads)."""
        key = name_key(text)
        if key in self._suggested:
            return self._suggested[key]
        if len(self._suggested) >= SUGGESTION_BUDGET:
            return []
        self._suggested[key] = names = self._suggest(key, limit)
        return names

    def _suggest(self, key: str, limit: int) -> list[str]:
        hits = sorted((spelling for spelling in self.lookup if len(spelling) > 1 and spelling in key),
                      key=len, reverse=True)
        if not hits:
            hits = difflib.get_close_matches(key, list(self.lookup), n=limit, cutoff=0.5)
        names = []
        for spelling in hits:
            name = self.items[self.lookup[spelling]].name
            if name not in names:
                names.append(name)
        return names[:limit]

    def names(self, ids) -> str:
        return "、".join(self.items[i].name for i in sorted(ids, key=lambda i: (self.items[i].sort, i)))

    def counts(self, ids) -> dict[str, int]:
        counts = {c: 0 for c in ContentClass.values}
        for i in ids:
            counts[self.items[i].content_class] += 1
        return counts


# ---------------------------------------------------------------------------------------------
# parsing one row


def build_parsers(headers: dict[str, str], catalogue: Catalogue) -> dict[str, Callable]:
    area_factor = 10000 if "万" in headers.get("floor_area", "") else 1
    low, high = BOUNDS["floor_area"]

    def area(raw):
        value = v.parse_decimal(raw)
        if value is None:
            return None
        value = (value * area_factor).quantize(Decimal("0.01"))
        if not low <= value <= high:
            raise v.ValueProblem(_("must be from %(min)s to %(max)s") % {"min": low, "max": high})
        return value

    # `_parse_column` calls these once per distinct cell value of their column
    return {
        "code": v.text_upto(32),
        "name": v.text_upto(128),
        "county": v.region_ref,
        "street": v.region_ref,
        "community": v.region_ref,
        "address": v.text_upto(256),
        "built_year": lambda raw: v.parse_year(raw, min_year=MIN_BUILT_YEAR),
        "buildings": v.int_between(*BOUNDS["buildings"]),
        "households": v.int_between(*BOUNDS["households"]),
        "floor_area": area,
        "housing_type": lambda raw: v.parse_choice(raw, HOUSING_CHOICES, tuple(HOUSING_LABELS.values())),
        "in_shantytown_plan": v.parse_bool,
        "in_historic_district": v.parse_bool,
        "has_precast_slab_hazard": v.parse_bool,
        "management_mode": lambda raw: v.parse_choice(raw, MANAGEMENT_CHOICES, tuple(MANAGEMENT_LABELS.values())),
        "max_floors": v.int_between(*BOUNDS["max_floors"]),
        "buildings_with_elevator": v.int_between(*BOUNDS["buildings_with_elevator"]),
        "willingness": v.parse_percent,
        "deficiencies": catalogue.cell_ids,
        "longitude": lambda raw: v.parse_coordinate(raw, min_value=BOUNDS["longitude"][0],
                                                    max_value=BOUNDS["longitude"][1]),
        "latitude": lambda raw: v.parse_coordinate(raw, min_value=BOUNDS["latitude"][0],
                                                   max_value=BOUNDS["latitude"][1]),
    }


def build_column_parsers(headers: dict[str, str], catalogue: Catalogue) -> dict[str, Callable]:
    """Whole-column fast paths (see `values.text_column`) for the columns that hardly repeat a value;
    each gives None when its column needs the cell-by-cell parsers of `build_parsers`."""
    paths = {
        "deficiencies": catalogue.column_ids,
        "code": lambda column: v.text_column(column, max_length=32),
        "name": lambda column: v.text_column(column, max_length=128),
        "address": lambda column: v.text_column(column, max_length=256),
        "longitude": lambda column: v.decimal_column(column, places=6, min_value=BOUNDS["longitude"][0],
                                                     max_value=BOUNDS["longitude"][1]),
        "latitude": lambda column: v.decimal_column(column, places=6, min_value=BOUNDS["latitude"][0],
                                                    max_value=BOUNDS["latitude"][1]),
    }
    if "万" not in headers.get("floor_area", ""):
        low, high = BOUNDS["floor_area"]
        paths["floor_area"] = lambda column: v.decimal_column(column, places=2, min_value=low, max_value=high)
    return paths


@dataclass(slots=True)
class Row:
    """One valid census row, ready to write: values in VALUE_FIELDS order."""

    line: int
    code: str | None
    region: Region
    county: Region
    values: tuple
    deficiencies: tuple[int, ...] | None  # None: the column is absent (left alone on update)
    present: frozenset[str]
    name_key: str = ""  # `name_key` of the name, for matching
    table: int = 0  # which estate sheet (index into the import's estate tables)


@dataclass
class Report:
    filename: str = ""
    kind: str = ""
    sheet: str = ""
    header_row: int = 0
    dry_run: bool = True
    valid_only: bool = False
    committed: bool = False
    rows: int = 0
    valid_rows: int = 0
    invalid_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    examples: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_headers: list[str] = field(default_factory=list)
    # every estate sheet read (a county may send one per street): sheet, header_row, rows
    estate_sheets: list[dict] = field(default_factory=list)
    preview: dict = field(default_factory=lambda: {"created": [], "updated": [], "unchanged": []})
    # the building (楼栋) and household (住户) sheets, see `buildings.py`; counts of valid and invalid rows
    # and of examples above are over all sheets
    further_sheets: dict = field(default_factory=dict)  # "buildings"/"households" -> sheet, header_row, rows
    buildings_created: int = 0
    buildings_updated: int = 0
    buildings_unchanged: int = 0
    households_created: int = 0
    households_updated: int = 0
    households_unchanged: int = 0
    preview_buildings: dict = field(default_factory=lambda: {"created": [], "updated": []})
    preview_households: dict = field(default_factory=lambda: {"created": [], "updated": []})

    def count(self, name: str, n: int = 1) -> None:
        setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def sort_errors(self) -> None:
        """Errors in the order a reader fixes them: sheet by sheet, row by row, left to right (they are
        found column by column)."""
        sheets: dict[str, int] = {}
        for e in self.errors:
            sheets.setdefault(e["sheet"], len(sheets))
        self.errors.sort(key=lambda e: (sheets[e["sheet"]], e["row"], _column_number(e["cell"])))

    def error(self, *, row: int, column: str, cell: str, value, reason: str, sheet: str | None = None) -> None:
        """One problem; `sheet` defaults to the estate sheet. Callers mask what must not be shown
        (owners' phones) before passing `value`."""
        self.error_count += 1
        if len(self.errors) < ERROR_CAP:
            text = v.clean_text(value) if value is not None else ""
            self.errors.append({"sheet": sheet or self.sheet, "row": row, "column": column, "cell": cell,
                                "value": text[:100], "reason": str(reason)})


def _column_number(cell: str) -> int:
    """1 for A1, 27 for AA5; 0 for no cell."""
    number = 0
    for char in cell:
        if not "A" <= char <= "Z":
            break
        number = number * 26 + ord(char) - 64
    return number


# ---------------------------------------------------------------------------------------------
# the import


def census_import(*, actor, data: bytes, filename: str = "", dry_run: bool = True, valid_only: bool = False,
                  progress: ProgressCallback | None = None, cause: str = "", scope: Scope | None = None) -> dict:
    """Check a census file and (unless `dry_run`) write it; see the module's docstring. Its building
    (楼栋) and household (住户) sheets, when it has them, are checked and written with the estates, all
    or nothing (`buildings.py`)."""
    with _collector_paused():
        return _census_import(actor=actor, data=data, filename=filename, dry_run=dry_run, valid_only=valid_only,
                              progress=progress, cause=cause, scope=scope)


@contextmanager
def _collector_paused():
    """Python's cycle collector off while an import runs. A large sheet is millions of live cells and
    parsed values, and every full collection walks all of them: 2.4 s of 19.7 s on 220,000 rows. The
    import makes no reference cycles worth collecting before it returns; its objects go by reference
    counting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _census_import(*, actor, data: bytes, filename: str, dry_run: bool, valid_only: bool,
                   progress: ProgressCallback | None, cause: str, scope: Scope | None) -> dict:
    report_progress = progress or (lambda pct, msg: None)
    scope = scope or _scope_of(actor)
    report = Report(filename=filename, dry_run=dry_run, valid_only=valid_only)
    from . import buildings  # the building and household sheets (that module imports this one)

    report_progress(2, _("Reading the file"))
    book = open_book(data, filename=filename)
    report.kind = book.kind
    report_progress(4, _("Reading the sheets"))
    try:
        sheets = buildings.find_sheets(book, _find_table)
    except CensusFileError as exc:  # (a text file named .xlsx: say so first)
        raise as_named(exc, filename, book.kind) from None
    report.warnings.extend(sheets.warnings)
    # the estate sheets: none (the file has only building and household sheets), one, or one per street
    tables = [sheets.estate, *sheets.more_estates] if sheets.estate is not None else []
    resolver, catalogue = RegionResolver(), Catalogue()
    plan = Plan()
    if tables:
        report.sheet, report.header_row = tables[0].sheet, tables[0].header_row
        report.unknown_headers = tables[0].unknown_headers[:50]
        rows: list[Row] = []
        for index, table in enumerate(tables):
            if table.duplicate_headers:
                report.warnings.append(_("Sheet %(sheet)s: these headers appear twice; the first column of each was "
                                         "used: %(h)s") % {"sheet": table.sheet,
                                                           "h": "、".join(table.duplicate_headers[:10])})
            missing = [COLUMN_BY_FIELD[f].header for f in ESTATE_REQUIRED_FIELDS if f not in table.fields]
            if missing:
                raise CensusFileError(
                    _("Sheet %(sheet)s (header in row %(row)d) lacks the required columns: %(columns)s")
                    % {"sheet": table.sheet, "row": table.header_row, "columns": "、".join(missing)},
                    fields={"missing_columns": missing, "sheet": table.sheet, "header_row": table.header_row})
            read_before, errors_before = report.rows, report.error_count
            rows.extend(_parse_rows(table, report, resolver, catalogue, scope, report_progress, table_index=index))
            report.estate_sheets.append({"sheet": table.sheet, "header_row": table.header_row,
                                         "rows": report.rows - read_before,
                                         "errors": report.error_count - errors_before})
        if len(tables) > 1:
            rows = _without_summary_sheets(rows, tables, report)
        report_progress(55, _("Checked %(n)d rows") % {"n": report.rows})
        if report.rows == 0 and not sheets.further:
            names = "、".join(t.sheet for t in tables)
            raise CensusFileError(_("Sheet %(sheet)s has a header row but no estates below it.") % {"sheet": names},
                                  fields={"sheet": names, "header_row": tables[0].header_row})
        plan = _plan(rows, report, tables, scope, catalogue)
        report.valid_rows = len(plan.rows_ok)
    further = None
    if sheets.further:
        report_progress(58, _("Checking the building and household sheets"))
        further = buildings.plan_further(sheets, report, plan, resolver, scope)
        report.valid_rows += further.valid_rows
        if report.rows == 0 and further.rows == 0:
            raise CensusFileError(_("The file has header rows but no rows to import below them (rows starting "
                                    "with 示例 are examples and are skipped)."),
                                  fields={"sheets": [t.sheet for t in (*tables, *sheets.further.values())]})
    report.sort_errors()
    if report.error_count and not valid_only:
        if not dry_run:
            report.committed = False
            raise ServiceError(ErrorCode.CENSUS_ROWS_INVALID,
                               _("%(n)d problems in %(rows)d rows; nothing was imported.")
                               % {"n": report.error_count, "rows": report.invalid_rows}, fields=report.as_dict())
    report.created, report.updated, report.unchanged = len(plan.creates), len(plan.updates), plan.unchanged
    report.skipped = report.invalid_rows if valid_only else 0
    if dry_run:
        return report.as_dict()
    report_progress(65, _("Writing %(n)d estates") % {"n": len(plan.creates) + len(plan.updates)})
    cause = cause or f"census import {filename}"[:200]
    with transaction.atomic():  # estates, buildings and households: all or nothing
        if report.rows:
            _write(plan, actor=actor, cause=cause, catalogue=catalogue, progress=report_progress)
        if further is not None:
            report_progress(96, _("Writing %(b)d buildings and %(h)d households")
                            % {"b": len(further.buildings_new) + len(further.buildings_changed),
                               "h": len(further.households_new) + len(further.households_changed)})
            buildings.write_further(further, actor=actor, cause=cause)
        report_progress(98, _("Saving"))
    report.committed = True
    report_progress(100, _("Imported"))
    return report.as_dict()


def _scope_of(actor) -> Scope:
    if actor is None:  # the command line without --user: the whole province
        return Scope(user_id=None, is_superuser=True)
    return scope_for(actor)


def _find_table(book) -> Table:
    candidates = sorted(book.sheets, key=lambda s: (s.name.strip() != ESTATE_SHEET,))
    for sheet in candidates:
        table = locate_table(sheet, HEADER_INDEX)
        if table is not None:
            return table
    raise CensusFileError(
        _("No sheet has the census header row (小区名称, 县（市、区）, 街道（乡镇）, 建成年份 …) in its first rows."),
        fields={"expected": [c.header for c in COLUMN_BY_FIELD.values()]})


def _parse_rows(table: Table, report: Report, resolver: RegionResolver, catalogue: Catalogue, scope: Scope,
                progress: ProgressCallback, *, table_index: int = 0) -> list[Row]:
    """Every data row parsed and checked. Column by column: each distinct value of a column is parsed
    once (a census repeats its counties, years and yes/no a hundred thousand times), then the row
    checks run over the parsed columns side by side."""
    parsers = build_parsers(table.headers, catalogue)
    column_parsers = build_column_parsers(table.headers, catalogue)
    fields = table.fields
    headers = {f: table.headers[f] for f in fields}
    letters = {f: column_letter(col + table.col_offset) for f, col in fields.items()}
    lines, records = _data_rows(table, report, progress)
    count = len(records)
    short = count and min(map(len, records)) <= max(fields.values())
    parsed: dict[str, list] = {}
    raw_columns: dict[str, list] = {}
    bad_rows: set[int] = set()
    failed: dict[str, set[int]] = {}

    def problem(i: int, name: str, reason: str, raw=None) -> None:
        if raw is None:
            column = raw_columns.get(name)
            raw = column[i] if column is not None else ""
        report.error(row=lines[i], column=headers.get(name, COLUMN_BY_FIELD[name].header), sheet=table.sheet,
                     cell=f"{letters[name]}{lines[i]}" if name in letters else "", value=raw, reason=reason)
        bad_rows.add(i)

    for name, col in fields.items():
        if short:
            raw_columns[name] = [cells[col] if col < len(cells) else None for cells in records]
        else:
            raw_columns[name] = list(map(itemgetter(col), records))
    del records  # the cells live on in their columns; the rows' lists would hold ~50 MB more
    for name in fields:
        column = raw_columns[name]
        orphans = _fill_dittos(column) if not DITTO_MARKS.isdisjoint(column) else []
        values = column_parsers[name](column) if name in column_parsers else None
        problems = []
        if values is None:
            values, problems = _parse_column(column, parsers[name])
        parsed[name] = values
        failed[name] = {i for i, _reason in problems} | set(orphans)
        for i, reason in problems:
            problem(i, name, reason)
        for i in orphans:
            problem(i, name, _("“same as above” (同上) but the row above has nothing here"), raw="同上")
    progress(45, _("Checked the values of %(n)d rows") % {"n": count})

    none = [None] * count
    for name in ("name", "county", "street", "built_year"):
        for i in _indexes_of_none(parsed[name]):
            if i not in failed[name]:  # a value that failed to parse has its error already
                problem(i, name, _("required"))
    codes = parsed.get("code", none)
    for i, code in enumerate(codes):
        if code is not None and not CODE_PATTERN.match(code):
            problem(i, "code", _("a code has letters, digits, - _ . only (at most 32)"))
    if "buildings" in parsed and "buildings_with_elevator" in parsed:
        for i, (b, e) in enumerate(zip(parsed["buildings"], parsed["buildings_with_elevator"], strict=True)):
            if b and e and e > b:
                problem(i, "buildings_with_elevator",
                        _("more buildings with an elevator than buildings (%(n)d)") % {"n": b})
    if "longitude" in parsed and "latitude" in parsed:
        for i, (lon, lat) in enumerate(zip(parsed["longitude"], parsed["latitude"], strict=True)):
            if (lon is None) != (lat is None):
                problem(i, "latitude" if lat is None else "longitude", _("give both longitude and latitude, or neither"))

    # regions: each distinct (county, street, community) is resolved and checked against the scope once
    counties, streets = parsed.get("county", none), parsed.get("street", none)
    communities = parsed.get("community", none)
    places: dict = {}
    regions: list = [None] * count
    for i, key in enumerate(zip(counties, streets, communities, strict=True)):
        if key[0] is None or key[1] is None:
            continue
        hit = places.get(key)
        if hit is None:
            hit = _resolve(resolver, *key)
            hit = places[key] = (*hit, hit[1] is not None and scope.covers(hit[1].code, Action.CHANGE))
        county, region, trouble, covered = hit
        if trouble:
            problem(i, trouble[0], trouble[1])
        elif not covered:
            problem(i, _outside_column(scope, region), _("outside your area: you may import only into %(area)s")
                    % {"area": _area_names(scope, resolver)})
        else:
            regions[i] = (county, region)

    report.invalid_rows += len(bad_rows)
    value_columns = []
    for name in VALUE_FIELDS:
        column = parsed.get(name)
        default = DEFAULTS.get(name)
        if column is None:
            value_columns.append(none)
        elif default is None:
            value_columns.append(column)
        else:
            value_columns.append([default if value is None else value for value in column])
    present = frozenset(fields)
    deficiencies = parsed.get("deficiencies")
    rows: list[Row] = []
    for i, values in enumerate(zip(*value_columns, strict=True)):
        if i in bad_rows:
            continue
        county, region = regions[i]
        rows.append(Row(lines[i], codes[i], region, county, values,
                        deficiencies[i] if deficiencies is not None else None, present, name_key(values[0]),
                        table_index))
    return rows


_LONGEST_BLANK = max(map(len, v.BLANK_WORDS))
# Cells meaning "as in the row above", from paper forms: filled in before the column is parsed.
DITTO_MARKS = frozenset({"同上", "同 上", "同上。", "〃"})


def _fill_dittos(column: list) -> list[int]:
    """Replace each ditto mark with the cell above it (itself perhaps a filled ditto); returns the
    indexes of marks with nothing above, left blank for the caller to report."""
    orphans = []
    above = None
    for i, cell in enumerate(column):
        if type(cell) is str and cell in DITTO_MARKS:
            if above is None:
                orphans.append(i)
                column[i] = None
                continue
            column[i] = cell = above
        above = None if cell is None or cell == "" or (type(cell) is str and v.is_blank(cell)) else cell
    return orphans

# A totals row (合计, 小计, 全区合计 …) under the estates: not an estate, skipped with a warning.
TOTALS_LABEL = re.compile(r"^(?:全省|全市|全区|全县|全镇|全街道|本页|本表|总)?(?:合计|总计|小计)[:：]?$")
SKIPPED_LINES_SHOWN = 20


# A sheet named like a summary of the others (汇总, 总表 …) beside street sheets.
SUMMARY_SHEET_NAME = re.compile(r"汇总|总表|合计|总计|全区|全县|全市")


def _without_summary_sheets(rows: list[Row], tables: list[Table], report: Report) -> list[Row]:
    """The rows without those of a summary sheet (汇总) that only repeats the other estate sheets: each
    of its rows is on another sheet with the same values, and it has no problem of its own. A summary
    with an estate or a value of its own, or with problems, is kept, and its repeats are reported as
    duplicates."""
    summaries = {i for i, table in enumerate(tables) if SUMMARY_SHEET_NAME.search(table.sheet)
                 and not report.estate_sheets[i]["errors"]}
    if not summaries or len(summaries) == len(tables):
        return rows
    def same(row: Row) -> tuple:
        return row.region.pk, row.name_key, row.code, row.values, row.deficiencies

    elsewhere = {same(row) for row in rows if row.table not in summaries}
    dropped = set()
    for i in summaries:
        own = {same(row) for row in rows if row.table == i}
        if own and own <= elsewhere:
            dropped.add(i)
            report.rows -= report.estate_sheets[i]["rows"]
            report.estate_sheets[i]["skipped"] = True
            report.warnings.append(
                _("Sheet %(sheet)s was not imported: each of its %(n)d estates is also on another sheet (a summary "
                  "of them).") % {"sheet": tables[i].sheet, "n": report.estate_sheets[i]["rows"]})
    return [row for row in rows if row.table not in dropped] if dropped else rows


def _is_totals_label(cell) -> bool:
    return type(cell) is str and "计" in cell and TOTALS_LABEL.match(v.choice_key(cell)) is not None


# The labels a signature or notes line under the table starts with (填表人：张三, 审核人：李四,
# 联系电话：…, 注：…), matched on the cell in half-width forms. Two characters or more may run straight
# into their value (填表人张三); 注 needs a colon or a number after it (注1：…), so that no word merely
# starting with 注 is taken for a note.
SIGNATURE_LABELS = ("填表人", "填报人", "填表", "填报单位", "审核人", "审核", "复核人", "审批人", "负责人", "单位负责人",
                    "制表人", "制表", "统计人", "经办人", "分管领导", "联系人", "联系电话", "联系方式", "电话", "填表日期",
                    "填报日期", "制表日期", "审核日期", "日期", "备注", "说明", "盖章", "(盖章)")
SIGNATURE_LABEL = re.compile("^(?:" + "|".join(map(re.escape, sorted(SIGNATURE_LABELS, key=len, reverse=True)))
                             + r"|注\s*\d*\s*[:.、])")
_BARE_LABEL = re.compile(r"\s*:?\s*")  # what follows a label whose value is in the next cell (联系电话： | 88888888)
# A signature line written in the name column (the export's layout: 小区编码 in A, 小区名称 in B): the name cell
# itself is a label and its colon (填表人：张三). Every named row is checked, with one C-level startswith; a name
# that merely starts like a label (日期小区, 注册…, 填表人张三) has no colon after it and is never taken for one.
NAME_SIGNATURE_PREFIXES = tuple(label + colon for label in (*SIGNATURE_LABELS, "（盖章）", "注",
                                                            *(f"注{n}" for n in range(1, 10)))
                                for colon in ("：", ":"))


def _is_signature_row(cells: list, key_columns: list[int]) -> bool:
    """A signature or notes line under the table: one or two cells, the first (or each) starting with a
    label such as 填表人 or 备注, while the county, street and year cells are empty. Called for rows without
    a name, and for rows whose name cell starts with a label and its colon (填表人：张三 in 小区名称), so an
    ordinary row costs nothing; a row with a county, a street, a year or more than two cells is never one."""
    blank = v.is_blank
    if any(c < len(cells) and not blank(cells[c]) for c in key_columns):
        return False
    filled = [c for c in cells if not blank(c)]
    if not filled or len(filled) > 2 or type(filled[0]) is not str:
        return False
    first = v.to_halfwidth(filled[0].strip(v.EDGE_SPACES))
    label = SIGNATURE_LABEL.match(first)
    if label is None:
        return False
    if len(filled) == 1:
        return True
    second = filled[1]
    if type(second) is str and SIGNATURE_LABEL.match(v.to_halfwidth(second.strip(v.EDGE_SPACES))):
        return True
    return _BARE_LABEL.fullmatch(first, label.end()) is not None


def _data_rows(table: Table, report: Report, progress: ProgressCallback) -> tuple[list[int], list[list]]:
    """(Excel row numbers, cells) of the rows to import. Skipped: blank rows, the template's example rows,
    totals rows, and notes and signatures under the table (填表人：… 联系电话：…): rows with nothing in the
    columns the import reads (written in a 序号 or 备注 column), or one or two labelled cells in any column
    (the name column too, as 填表人：张三 with its colon) with no county, street or year
    (`_is_signature_row`); the last two with a warning."""
    blank, edges = v.is_blank, v.EDGE_SPACES
    name_col, code_col = table.fields.get("name"), table.fields.get("code")
    read_columns = sorted(table.fields.values())
    # a signature line leaves these empty (the name is checked before `_is_signature_row` is called: empty, or
    # itself a labelled line)
    key_columns = [table.fields[f] for f in ("county", "street", "built_year") if f in table.fields]
    # a totals row names itself in one of its first cells (序号, the name, the county)
    label_columns = range(max([3, *(c + 1 for c in (name_col, table.fields.get("county")) if c is not None)]))
    lines: list[int] = []
    records: list[list] = []
    totals: list[int] = []
    notes: list[int] = []
    for line, cells in table.rows:
        if not cells:
            continue
        first = cells[name_col] if name_col is not None and name_col < len(cells) else None
        # (a name longer than any blank word and not wrapped in spaces is not blank: no call per row)
        if type(first) is not str or not first or (
                (len(first) <= _LONGEST_BLANK or first[0] in edges or first[-1] in edges) and blank(first)):
            if all(c is None or c == "" or (isinstance(c, str) and blank(c)) for c in cells):
                continue
            if any(_is_totals_label(cells[c]) for c in label_columns if c < len(cells)):
                totals.append(line)
                continue
            if all(c >= len(cells) or cells[c] is None or cells[c] == "" or (isinstance(cells[c], str) and blank(
                    cells[c])) for c in read_columns) or _is_signature_row(cells, key_columns):
                notes.append(line)
                continue
        elif "计" in first and _is_totals_label(first):
            totals.append(line)
            continue
        elif first.startswith(NAME_SIGNATURE_PREFIXES) and _is_signature_row(cells, key_columns):
            notes.append(line)  # 填表人：张三 in the name column, nothing in county, street and year
            continue
        elif first.startswith(EXAMPLE_PREFIXES) and (
                code_col is None or code_col >= len(cells) or blank(cells[code_col])):
            report.examples += 1
            continue
        lines.append(line)
        records.append(cells)
        if len(records) % 50_000 == 0:
            progress(5 + min(35, len(records) * 35 // 200_000), _("Read %(n)d rows") % {"n": len(records)})
    if totals:
        report.warnings.append(_("Skipped as totals rows (合计/小计): row %(rows)s.")
                               % {"rows": _lines_text(totals)})
    if notes:
        report.warnings.append(_("Skipped as notes or signatures under the table (填表人, 审核人 …; no estate name, "
                                 "county, street or year): row %(rows)s.") % {"rows": _lines_text(notes)})
    report.rows += len(records)
    return lines, records


def _lines_text(lines: list[int]) -> str:
    shown = "、".join(map(str, lines[:SKIPPED_LINES_SHOWN]))
    if len(lines) > SKIPPED_LINES_SHOWN:
        shown += _(" and %(n)d more") % {"n": len(lines) - SKIPPED_LINES_SHOWN}
    return shown


def _parse_column(column: list, parse: Callable) -> tuple[list, list[tuple[int, str]]]:
    """(parsed values, [(index, reason)]) of one column, parsing each distinct cell value once.

    True and 1 are equal as dictionary keys but not as cells (a yes/no cell in a number column is an
    error), so a column holding both booleans and numbers is keyed by (type, value)."""
    distinct = set(column)
    if 0 in distinct or 1 in distinct:  # (only then can a boolean hide behind an equal number)
        kinds = set(map(type, column))
        if bool in kinds and (int in kinds or float in kinds):
            keys = list(zip(map(type, column), column, strict=True))
            values, problems = _parse_column(keys, lambda key: parse(key[1]))
            return values, problems
    good: dict = {}
    bad: dict = {}
    for raw in distinct:
        try:
            good[raw] = parse(raw)
        except v.ValueProblem as exc:
            bad[raw] = exc.reason
    values = list(map(good.get, column))
    if not bad:
        return values, []
    return values, [(i, bad[raw]) for i, raw in enumerate(column) if raw in bad]


def _indexes_of_none(values: list) -> list[int]:
    if None not in values:
        return []
    return [i for i, value in enumerate(values) if value is None]


def _outside_column(scope: Scope, region: Region) -> str:
    """The first of county, street, community whose code lies beside (not above or below) the user's area."""
    prefixes = scope.prefixes(Action.CHANGE)
    for name, length in (("county", 6), ("street", 9), ("community", 12)):
        code = region.code[:length]
        if not any(code.startswith(p) or p.startswith(code) for p in prefixes):
            return name
    return "community" if len(region.code) == 12 else "street"


def _area_names(scope: Scope, resolver: RegionResolver) -> str:
    names = []
    for prefix in scope.prefixes(Action.CHANGE):
        region = resolver.by_code.get(prefix)
        names.append(region.name if region is not None else prefix)
    return "、".join(names) or "-"


def _resolve(resolver: RegionResolver, county_ref, street_ref, community_ref):
    """(county, region, problem): the estate's region is its community, else its street."""
    try:
        county = resolver.county(county_ref)
    except v.ValueProblem as exc:
        return None, None, ("county", exc.reason)
    try:
        street = resolver.child(street_ref, county, RegionLevel.STREET)
    except v.ValueProblem as exc:
        return county, None, ("street", exc.reason)
    if community_ref is None:
        community = None
    else:
        try:
            community = resolver.child(community_ref, street, RegionLevel.COMMUNITY)
        except v.ValueProblem as exc:
            return county, None, ("community", exc.reason)
    for name, region in (("county", county), ("street", street), ("community", community)):
        if region is not None and not region.is_active:
            return county, None, (name, _("%(name)s (%(code)s) is retired: use the region that replaced it")
                                  % {"name": region.name, "code": region.code})
    return county, community or street, None


# ---------------------------------------------------------------------------------------------
# matching against the file itself and the database


@dataclass(slots=True)
class Existing:
    id: int
    code: str
    region_id: int
    county_id: int
    values: tuple
    deficiencies: tuple[int, ...]


@dataclass
class Plan:
    rows_ok: list[Row] = field(default_factory=list)
    creates: list[tuple[Row, str]] = field(default_factory=list)  # (row, code)
    updates: list[tuple[Row, Existing, tuple, tuple]] = field(default_factory=list)  # row, old, new values, defs
    unchanged: int = 0
    occupied_counties: set[int] = field(default_factory=set)  # counties that had estates before the import
    ranked_counties: set[int] = field(default_factory=set)  # counties whose ranks the import computed itself


def _plan(rows: list[Row], report: Report, tables: list[Table], scope: Scope, catalogue: Catalogue) -> Plan:
    plan = Plan()
    name_i = VALUE_FIELDS.index("name")

    def err(row: Row, name: str, value, reason: str):
        table = tables[row.table]
        letter = column_letter(table.fields[name] + table.col_offset) if name in table.fields else ""
        report.error(row=row.line, column=table.headers.get(name, COLUMN_BY_FIELD[name].header), sheet=table.sheet,
                     cell=f"{letter}{row.line}" if letter else "", value=value, reason=reason)

    def where(row: Row, first: tuple[int, int]) -> dict:
        """The earlier row `first` (line, table) as the message names it, beside `row`."""
        line, table = first
        if table == row.table:
            return {"row": line, "at": ""}
        return {"row": line, "at": _(" of sheet %(sheet)s") % {"sheet": tables[table].sheet}}

    # duplicates within the file
    seen_codes: dict[str, tuple[int, int]] = {}
    seen_names: dict[tuple[int, str], tuple[int, int]] = {}
    unique: list[Row] = []
    for row in rows:
        key = (row.region.pk, row.name_key)
        if row.code is not None and row.code in seen_codes:
            err(row, "code", row.code, _("the same code as row %(row)d%(at)s") % where(row, seen_codes[row.code]))
        elif key in seen_names:
            err(row, "name", row.values[name_i],
                _("the same estate (community and name) as row %(row)d%(at)s") % where(row, seen_names[key]))
        else:
            if row.code is not None:
                seen_codes[row.code] = (row.line, row.table)
            seen_names[key] = (row.line, row.table)
            unique.append(row)
            continue
        report.invalid_rows += 1

    # what the database holds for these counties and codes
    county_ids = {row.county.pk for row in unique}
    existing_by_code, existing_by_name = _load_existing(county_ids, [r.code for r in unique if r.code])
    plan.occupied_counties = {e.county_id for e in existing_by_code.values()}
    fresh_codes = _FreshCodes(unique)
    matched: dict[int, tuple[int, int]] = {}  # estate id -> the row (line, table) that matched it
    for row in unique:
        key = (row.region.pk, row.name_key)
        match = None
        if row.code is not None:
            match = existing_by_code.get(row.code)
            if match is not None and not scope.covers(_code_of(match.region_id), Action.CHANGE):
                err(row, "code", row.code, _("this code belongs to an estate outside your area"))
                report.invalid_rows += 1
                continue
            same_name = existing_by_name.get(key)
            if same_name is not None and same_name.code != row.code:
                err(row, "name", row.values[name_i],
                    _("an estate of this name already exists in this community with code %(code)s")
                    % {"code": same_name.code})
                report.invalid_rows += 1
                continue
        else:
            match = existing_by_name.get(key)
            if match is _AMBIGUOUS:
                err(row, "name", row.values[name_i],
                    _("several estates of this name in this community: give the 小区编码"))
                report.invalid_rows += 1
                continue
        if match is not None:  # one row per estate: a row renaming it by code and another by its old name
            first = matched.get(match.id)
            if first is not None:
                by_code = row.code is not None
                err(row, "code" if by_code else "name", row.code if by_code else row.values[name_i],
                    _("the same estate (%(code)s) as row %(row)d%(at)s") % {"code": match.code, **where(row, first)})
                report.invalid_rows += 1
                continue
            matched[match.id] = (row.line, row.table)
        plan.rows_ok.append(row)
        if match is None:
            code = row.code or fresh_codes.next(row.county.code)
            plan.creates.append((row, code))
            if len(report.preview["created"]) < PREVIEW:
                report.preview["created"].append({"sheet": tables[row.table].sheet, "row": row.line, "code": code, "name": row.values[name_i]})
            continue
        new_defs = match.deficiencies if row.deficiencies is None else row.deficiencies
        if row.values == match.values and new_defs == match.deficiencies and match.region_id == row.region.pk:
            changed = []  # (the common case of a file imported again: nothing to merge or compare field by field)
            new_values = match.values
        else:
            new_values = tuple(old if new is None and VALUE_FIELDS[i] not in row.present else new
                               for i, (old, new) in enumerate(zip(match.values, row.values, strict=True)))
            changed = [VALUE_FIELDS[i] for i, (a, b) in enumerate(zip(match.values, new_values, strict=True))
                       if a != b]
        if new_defs != match.deficiencies:
            changed.append("deficiencies")
        if match.region_id != row.region.pk:
            changed.append("region")
        if changed:
            plan.updates.append((row, match, new_values, new_defs))
            if len(report.preview["updated"]) < PREVIEW:
                report.preview["updated"].append({"sheet": tables[row.table].sheet, "row": row.line, "code": match.code, "name": new_values[name_i],
                                                  "fields": changed, "columns": _changed_columns(
                                                      changed, match.region_id, row.region.code)})
        else:
            plan.unchanged += 1
            if len(report.preview["unchanged"]) < PREVIEW:
                report.preview["unchanged"].append({"sheet": tables[row.table].sheet, "row": row.line, "code": match.code,
                                                    "name": new_values[name_i]})
    return plan


def _changed_columns(changed: list[str], old_region_id: int, new_region: str) -> list[str]:
    """The census columns of the changed fields, by their headers in the template (户数, 建成年份 …), for
    the preview; a change of region names the columns that differ (县（市、区）, 街道（乡镇）, 社区)."""
    columns = []
    for name in changed:
        if name != "region":
            columns.append(COLUMN_BY_FIELD[name].header)
            continue
        old_region = _code_of(old_region_id)
        for level, length in (("county", 6), ("street", 9), ("community", 12)):
            if old_region[:length] != new_region[:length]:
                columns.append(COLUMN_BY_FIELD[level].header)
    return columns


_AMBIGUOUS = Existing(id=0, code="", region_id=0, county_id=0, values=(), deficiencies=())
_REGION_CODES: dict[int, str] = {}


def _code_of(region_id: int) -> str:
    if region_id not in _REGION_CODES:
        _REGION_CODES.clear()
        _REGION_CODES.update(Region.objects.values_list("id", "code"))
    return _REGION_CODES.get(region_id, "")


def _load_existing(county_ids: set[int], codes: list[str]):
    """The database's estates in these counties or with these codes, by code and by (region, name key).

    Read with plain SQL and converted column by column, each distinct value once, by the converters
    the ORM would apply (a re-import of 220,000 estates read them in 3.0 s through `values_list`, 1.8 s
    so); the links come grouped per estate from the database."""
    columns = ("id", "code", "region_id", "county_id", *VALUE_FIELDS)
    by_code: dict[str, Existing] = {}
    by_name: dict[tuple[int, str], Existing] = {}
    records = []
    if county_ids:
        records.extend(_raw_rows(Estate.objects.filter(county_id__in=sorted(county_ids)), columns))
    wanted = list(codes)
    for start in range(0, len(wanted), 900):
        chunk = wanted[start:start + 900]
        records.extend(_raw_rows(Estate.objects.filter(code__in=chunk).exclude(county_id__in=county_ids), columns))
    if not records:
        return by_code, by_name
    defs = _links_of(county_ids, [r[0] for r in records if r[3] not in county_ids])
    value_columns = _converted_columns(list(zip(*records, strict=True))[4:], VALUE_FIELDS)
    for record, values in zip(records, zip(*value_columns, strict=True), strict=True):
        existing = Existing(id=record[0], code=record[1], region_id=record[2], county_id=record[3],
                            values=values, deficiencies=defs.get(record[0], ()))
        by_code[existing.code] = existing
        key = (existing.region_id, name_key(values[0]))
        by_name[key] = _AMBIGUOUS if key in by_name else existing
    return by_code, by_name


def _raw_rows(queryset, columns: tuple[str, ...]) -> list[tuple]:
    """The rows of `queryset.values_list(*columns)` as the database gives them (no conversion)."""
    sql, params = queryset.values_list(*columns).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _converted_columns(columns: list[tuple], names: tuple[str, ...]) -> list:
    """Each raw column converted as the ORM converts the estate field of its name (decimals, booleans
    on SQLite), each distinct raw value once."""
    meta = Estate._meta
    out = []
    for column, name in zip(columns, names, strict=True):
        model_field = meta.get_field(name)
        col = model_field.get_col(meta.db_table)
        converters = [*connection.ops.get_db_converters(col), *model_field.get_db_converters(connection)]
        if converters:
            seen: dict = {}
            for raw in set(column):
                value = raw
                for convert in converters:
                    value = convert(value, col, connection)
                seen[raw] = value
            column = list(map(seen.__getitem__, column))
        out.append(column)
    return out


def _links_of(county_ids: set[int], estate_ids: list[int]) -> dict[int, tuple[int, ...]]:
    """Estate id → its catalogue item ids (sorted), for the estates of these counties and these ids."""
    qn = connection.ops.quote_name
    links, estates = qn(Estate.deficiencies.through._meta.db_table), qn(Estate._meta.db_table)
    grouped = ("group_concat(d.catalogueitem_id)" if connection.vendor == "sqlite"
               else "string_agg(d.catalogueitem_id::text, ',')")
    base = (f"SELECT d.estate_id, {grouped} FROM {links} d JOIN {estates} e ON e.id = d.estate_id "
            "WHERE {where} GROUP BY d.estate_id")
    found: dict[int, str] = {}
    with connection.cursor() as cursor:
        if county_ids:
            ids = sorted(county_ids)
            cursor.execute(base.format(where=f"e.county_id IN ({', '.join(['%s'] * len(ids))})"), ids)
            found.update(cursor.fetchall())
        for start in range(0, len(estate_ids), 900):
            chunk = estate_ids[start:start + 900]
            cursor.execute(base.format(where=f"d.estate_id IN ({', '.join(['%s'] * len(chunk))})"), chunk)
            found.update(cursor.fetchall())
    parsed: dict[str, tuple[int, ...]] = {}
    out = {}
    for estate_id, text in found.items():
        items = parsed.get(text)
        if items is None:
            items = parsed[text] = tuple(sorted(map(int, text.split(","))))
        out[estate_id] = items
    return out


class _FreshCodes:
    """Codes for new estates as the estates services make them (`<county code>-<6 digits>`), after the
    highest in use in the database and in the file."""

    def __init__(self, rows: list[Row]):
        self.rows_by_county: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            if row.code:
                self.rows_by_county[row.code.split("-", 1)[0]].add(row.code)
        self.pending: dict[str, list[str]] = {}
        self.wanted: dict[str, int] = defaultdict(int)
        for row in rows:
            if not row.code:
                self.wanted[row.county.code] += 1

    def next(self, county_code: str) -> str:
        if county_code not in self.pending:
            self.pending[county_code] = estate_services._next_codes(
                county_code, self.wanted[county_code], self.rows_by_county.get(county_code))[::-1]
        return self.pending[county_code].pop()


# ---------------------------------------------------------------------------------------------
# writing


_DEFAULT_SLOTS = tuple((i, DEFAULTS[name]) for i, name in enumerate(VALUE_FIELDS) if name in DEFAULTS)


def _filled(values: tuple) -> tuple:
    """The values with the model's defaults for blanks (the same tuple when nothing is blank)."""
    if all(values[i] is not None for i, _default in _DEFAULT_SLOTS):
        return values
    return tuple(DEFAULTS.get(name) if value is None else value for name, value in zip(VALUE_FIELDS, values,
                                                                                          strict=True))


def plain(value):
    """A value as audit JSON holds it (decimals as text)."""
    if isinstance(value, Decimal):
        return str(value)
    return value


_OTHER_HOUSING = HousingType.OTHER.value


class _Deriver:
    """Eligibility, reasons, route, score and breakdown of census values, as the database stores them
    (one memoised evaluator per county's rules)."""

    def __init__(self, catalogue: Catalogue, rules: dict, dumps):
        self.class_of = {pk: item.content_class for pk, item in catalogue.items.items()}
        self.evaluators = {code: MemoisedEvaluator(county_rules, dumps=dumps) for code, county_rules in rules.items()}
        self.counts: dict[tuple, tuple[int, int, int]] = {}
        self.slots = itemgetter(*(VALUE_FIELDS.index(name) for name in (
            "built_year", "housing_type", "in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard",
            "willingness")))

    def __call__(self, values: tuple, defs: tuple, county_code: str) -> tuple:
        counts = self.counts.get(defs)
        if counts is None:
            classes = [self.class_of.get(pk) for pk in defs]
            counts = self.counts[defs] = (classes.count(BASIC), classes.count(IMPROVEMENT),
                                          classes.count(ENHANCEMENT))
        year, housing, shantytown, historic, hazard, willingness = self.slots(values)
        return self.evaluators[county_code](year, housing or _OTHER_HOUSING, shantytown, historic, hazard, willingness,
                                            counts)


def _write(plan: Plan, *, actor, cause: str, catalogue: Catalogue, progress: ProgressCallback) -> None:
    county_ids = {row.county.pk for row, *_rest in plan.creates} | {row.county.pk for row, *_r in plan.updates}
    county_ids |= {old.county_id for _row, old, *_r in plan.updates}
    dumps = json.JSONEncoder(default=str, ensure_ascii=False, separators=(", ", ": ")).encode
    derive = _Deriver(catalogue, estate_services.rules_by_county(
        {row.county.code for row, *_r in (*plan.creates, *plan.updates)}), dumps)
    ops = connection.ops
    now = timezone.now()
    now_db = ops.adapt_datetimefield_value(now)
    meta = Estate._meta
    table = connection.ops.quote_name(meta.db_table)
    col = {f.name: connection.ops.quote_name(f.column) for f in meta.concrete_fields}
    derived_fields = ("eligibility", "eligibility_reasons", "rebuild_route", "priority_score", "priority_breakdown")
    insert_fields = ("id", "code", "region", "county", *VALUE_FIELDS, *derived_fields, "county_rank", "status",
                     "status_reason", "created_at", "updated_at")
    insert_sql = (f"INSERT INTO {table} ({', '.join(col[f] for f in insert_fields)}) "
                  f"VALUES ({', '.join(['%s'] * len(insert_fields))})")
    update_fields = ("region", "county", *VALUE_FIELDS, *derived_fields, "updated_at")
    update_sql = (f"UPDATE {table} SET {', '.join(col[f] + ' = %s' for f in update_fields)} "
                  f"WHERE {col['id']} = %s")
    update_in_place_sql = (f"UPDATE {table} SET {', '.join(col[f] + ' = %s' for f in update_fields[2:])} "
                           f"WHERE {col['id']} = %s")
    through = Estate.deficiencies.through
    through_table = ops.quote_name(through._meta.db_table)
    audit = _AuditWriter(actor=actor, cause=cause, now=now)
    total = len(plan.creates) + len(plan.updates)
    eligible = Eligibility.ELIGIBLE.value
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # a bigger page cache for this connection (16 MB; the indexes of large imports are built after)
                cursor.execute("PRAGMA cache_size = -16384")
            # a county that got estates since the plan was read is ranked by SQL after the writes, not here
            # (SQLite holds the write lock from here on; on PostgreSQL an estate committed meanwhile by
            # someone else can share a rank number until the next ranking pass)
            new_counties = {row.county.pk for row, _code in plan.creates}
            plan.occupied_counties |= set(Estate.objects.filter(county_id__in=new_counties)
                                          .values_list("county_id", flat=True).order_by().distinct())
            new_ids = _reserve_ids(cursor, len(plan.creates))
            deferred = _defer_indexes(cursor, len(plan.creates))
            filled: list[tuple] = []

            def created_estate_rows() -> list[tuple]:
                filled.extend(_filled(row.values) for row, _code in plan.creates)
                derived = [derive(filled[i], row.deficiencies or (), row.county.code)
                           for i, (row, _code) in enumerate(plan.creates)]
                ranks = _ranks_of_new_counties(plan, derived, eligible)
                surveyed = EstateStatus.SURVEYED.value
                return [(new_ids[i], code, row.region.pk, row.county.pk, *filled[i], *derived[i],
                         ranks.get(i), surveyed, "", now_db, now_db) for i, (row, code) in enumerate(plan.creates)]

            def created_estate_codes() -> list[tuple[int, str]]:
                """(estate id, its deficiency codes as JSON text) for the audit statement (SQLite)."""
                text_of = _DeficiencyCodes(catalogue)
                return [(new_ids[i], text_of(row.deficiencies)) for i, (row, _c) in enumerate(plan.creates)
                        if row.deficiencies]

            # Two threads: SQLite holds no GIL while it inserts the links (one statement over JSON; the
            # foreign keys are checked at commit, so they may come before their estates) and while it
            # builds indexes, so the estate rows are made meanwhile, and then the audit's deficiency codes.
            # Inserts bind row by row under the GIL and run alone.
            with ThreadPoolExecutor(max_workers=1) as pool:
                if plan.creates:
                    progress(66, _("Working out eligibility and scores; linking the deficiencies"))
                estate_rows = pool.submit(created_estate_rows)
                _insert_estate_links(cursor, through_table,
                                     [(new_ids[i], row.deficiencies) for i, (row, _c) in enumerate(plan.creates)
                                      if row.deficiencies])
                for sql in deferred.get(through, []):
                    cursor.execute(sql)
                params = estate_rows.result()
                for start in range(0, len(params), 4 * CHUNK):
                    if connection.vendor == "postgresql":
                        _copy_rows(cursor, meta.db_table, [meta.get_field(f).column for f in insert_fields],
                                   params[start:start + 4 * CHUNK])
                    else:
                        cursor.executemany(insert_sql, params[start:start + 4 * CHUNK])
                    progress(65 + 20 * (start + 4 * CHUNK) // max(1, total),
                             _("Written %(n)d of %(total)d") % {"n": min(len(params), start + 4 * CHUNK),
                                                                "total": total})
                del params
                codes = pool.submit(created_estate_codes) if connection.vendor == "sqlite" and new_ids else None
                if deferred:
                    progress(65 + 21 * len(new_ids) // total, _("Indexing the estates"))
                for sql in deferred.get(Estate, []):
                    cursor.execute(sql)
            if new_ids:
                progress(65 + 25 * len(new_ids) // total, _("Writing the audit trail"))
            if connection.vendor == "sqlite" and new_ids:
                # the new estates' audit rows, made by SQLite from the rows just written
                _insert_created_audit_sqlite(cursor, audit, new_ids[0], new_ids[-1], codes.result())
            elif new_ids:
                after_json = _AuditJson(catalogue)
                _copy_rows(cursor, AuditEntry._meta.db_table, audit.columns, (
                    audit.row_json(new_ids[i], AuditAction.CREATE, row.values[0], row.region.code, None,
                                   after_json(filled[i], row.region.code, row.deficiencies or ()))
                    for i, (row, _code) in enumerate(plan.creates)))
            for sql in deferred.get(AuditEntry, []):
                cursor.execute(sql)
            done = len(plan.creates)
            progress(65 + 30 * done // max(1, total), _("Written %(n)d of %(total)d") % {"n": done, "total": total})
            audit_json = _AuditJson(catalogue)
            for start in range(0, len(plan.updates), CHUNK):
                chunk = plan.updates[start:start + CHUNK]
                update_params = []
                relink = []
                for row, old, values, defs in chunk:
                    update_params.append((row.region.pk, row.county.pk, *values,
                                          *derive(_filled(values), defs, row.county.code), now_db, old.id))
                    if defs != old.deficiencies:
                        relink.append((old.id, defs))
                    audit.add_json(old.id, AuditAction.UPDATE, values[0], row.region.code,
                                   audit_json(old.values, _code_of(old.region_id), old.deficiencies),
                                   audit_json(values, row.region.code, defs))
                if connection.vendor == "postgresql":
                    _update_by_copy(cursor, [meta.get_field(f).column for f in update_fields], update_params)
                else:
                    # region and county set only for the estates that moved: SQLite checks both foreign keys
                    # of every row whose UPDATE names them, moved or not (198,000 changed estates: 10 s -> 4 s)
                    moved = [p for p, (row, old, *_r) in zip(update_params, chunk, strict=True)
                             if row.region.pk != old.region_id or row.county.pk != old.county_id]
                    stayed = [p[2:] for p, (row, old, *_r) in zip(update_params, chunk, strict=True)
                              if row.region.pk == old.region_id and row.county.pk == old.county_id]
                    if moved:
                        cursor.executemany(update_sql, moved)
                    if stayed:
                        cursor.executemany(update_in_place_sql, stayed)
                if relink:
                    ids = [estate_id for estate_id, _defs in relink]
                    for s in range(0, len(ids), 900):
                        through.objects.filter(estate_id__in=ids[s:s + 900]).delete()
                    _insert_estate_links(cursor, through_table, [pair for pair in relink if pair[1]])
                audit.flush(cursor)
                done += len(chunk)
                progress(65 + 30 * done // max(1, total), _("Written %(n)d of %(total)d") % {"n": done, "total": total})
        estate_services.counties_rerank(county_ids - plan.ranked_counties)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -2000")  # back to SQLite's default for this connection


def _ranks_of_new_counties(plan: Plan, derived: list[tuple], eligible: str) -> dict[int, int]:
    """County ranks of new estates (index in `plan.creates` → rank) in counties that had no estates
    before this import and get no updates, ranked here as `counties_rerank` would (score, then code),
    so that those counties need no ranking pass over the table (`counties_rerank` orders codes by code
    point on both databases, as Python does)."""
    plan.ranked_counties = set()
    updated = {row.county.pk for row, *_r in plan.updates} | {old.county_id for _row, old, *_r in plan.updates}
    by_county: dict[int, list[tuple]] = defaultdict(list)
    for i, (row, code) in enumerate(plan.creates):
        county = row.county.pk
        if county in plan.occupied_counties or county in updated:
            continue
        by_county[county].append((derived[i][0] == eligible, derived[i][3], code, i))
    ranks: dict[int, int] = {}
    for county, members in by_county.items():
        candidates = [m for m in members if m[0]]
        candidates.sort(key=lambda m: m[2])
        candidates.sort(key=lambda m: m[1], reverse=True)  # stable: score descending, then code ascending
        for rank, member in enumerate(candidates, start=1):
            ranks[member[3]] = rank
        plan.ranked_counties.add(county)
    return ranks


CENTS = Decimal("0.01")
# SQLite: from this many new estates, and when they are at least as many as the rows already there, the
# secondary indexes of the tables written are dropped inside the transaction and built again after the
# inserts (a sorted build is far cheaper than 15 B-tree inserts per row). Unique column constraints stay.
REINDEX_MIN_ROWS = 20_000


def _defer_indexes(cursor, creates: int) -> dict:
    """Drop the secondary indexes that a large SQLite import would maintain row by row; returns, per
    model, the statements that build them again (run in the same transaction, before anything reads them)."""
    if connection.vendor != "sqlite" or creates < REINDEX_MIN_ROWS:
        return {}
    qn = connection.ops.quote_name
    recreate = defaultdict(list)
    for model, new_rows in ((Estate, creates), (Estate.deficiencies.through, creates),
                            (AuditEntry, creates)):
        table = model._meta.db_table
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) - COALESCE(MIN(id), 0) FROM {qn(table)}")
        if cursor.fetchone()[0] > new_rows:
            continue
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                       "AND sql IS NOT NULL", [table])
        for name, sql in cursor.fetchall():
            cursor.execute(f"DROP INDEX {qn(name)}")
            recreate[model].append(sql)
    return recreate


def _reserve_ids(cursor, count: int) -> list[int]:
    """Ids for `count` new estates, taken before inserting so that links and audit entries need no
    query back. The import holds the write lock (SQLite) or draws them from the sequence (PostgreSQL)."""
    if not count:
        return []
    table = Estate._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
    highest = cursor.fetchone()[0]
    if connection.vendor == "sqlite":
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        highest = max(highest, row[0] if row else 0)
    return list(range(highest + 1, highest + 1 + count))


def _insert_estate_links(cursor, through_table: str, estate_items: list[tuple[int, tuple[int, ...]]]) -> None:
    """Estate ↔ catalogue item links from (estate id, item ids); on SQLite as one statement over a JSON
    array (no per-row binding, and SQLite works without holding the GIL)."""
    qn = connection.ops.quote_name
    columns = f"{qn('estate_id')}, {qn('catalogueitem_id')}"
    if connection.vendor == "sqlite":
        cursor.execute(f"INSERT INTO {through_table} ({columns}) SELECT e.value ->> 0, i.value "
                       f"FROM json_each(%s) AS e, json_each(e.value, '$[1]') AS i", [json.dumps(estate_items)])
        return
    _copy_rows(cursor, Estate.deficiencies.through._meta.db_table, ("estate_id", "catalogueitem_id"),
               ((estate_id, item) for estate_id, items in estate_items for item in items))


def _update_by_copy(cursor, columns: list[str], rows: list[tuple]) -> None:
    """PostgreSQL: estates updated from rows of (*columns, id), copied into a temporary table and applied by
    one UPDATE … FROM (198,000 changed estates: 19.3 s by `executemany`)."""
    qn = connection.ops.quote_name
    table = qn(Estate._meta.db_table)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS census_estate_updates ON COMMIT DROP AS "
                   f"SELECT {', '.join(qn(c) for c in columns)}, id FROM {table} WITH NO DATA")
    cursor.execute("TRUNCATE census_estate_updates")
    _copy_rows(cursor, "census_estate_updates", [*columns, "id"], rows)
    cursor.execute(f"UPDATE {table} AS e SET {', '.join(f'{qn(c)} = u.{qn(c)}' for c in columns)} "
                   "FROM census_estate_updates AS u WHERE e.id = u.id")


def _copy_rows(cursor, table: str, columns, rows) -> None:
    """Rows into a PostgreSQL table with COPY: one stream instead of a statement per row (a census of
    220,000 estates: links 27.7 s, estates 17.0 s, audit 10.2 s by `executemany`)."""
    qn = connection.ops.quote_name
    with connection.wrap_database_errors, cursor.cursor.copy(
            f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_encode_str = json.encoder.encode_basestring  # what json.dumps(…, ensure_ascii=False) writes for a str


class _AuditJson:
    """The audit JSON of an estate's census values: each value field (decimals as text, as `plain` gives
    them), the region's code and the deficiency codes by item id, compact as `json.dumps(…,
    ensure_ascii=False, separators=(",", ":"))` writes it, built directly (no dict, no encoder call per
    row). tests/census/test_import_audit.py holds it equal to the estate as stored."""

    def __init__(self, catalogue: Catalogue):
        self.keys = [_encode_str(name) + ":" for name in VALUE_FIELDS]
        self.region_key = "," + _encode_str("region") + ":"
        self.defs_key = "," + _encode_str("deficiencies") + ":"
        self.codes = _DeficiencyCodes(catalogue)

    def __call__(self, values: tuple, region_code: str, deficiencies) -> str:
        parts = []
        for key, value in zip(self.keys, values, strict=True):
            kind = type(value)
            if kind is str:
                text = _encode_str(value)
            elif kind is int:
                text = int.__repr__(value)
            elif value is None:
                text = "null"
            elif kind is bool:
                text = "true" if value else "false"
            elif kind is Decimal:
                text = _encode_str(str(value))
            else:
                text = json.dumps(plain(value), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
            parts.append(key + text)
        return ("{" + ",".join(parts) + self.region_key + _encode_str(region_code) + self.defs_key
                + self.codes(tuple(deficiencies)) + "}")


class _DeficiencyCodes:
    """The JSON text of the item codes of a tuple of item ids (in id order, as the audit lists them),
    made once per distinct tuple."""

    def __init__(self, catalogue: Catalogue):
        self.code_of = {pk: item.code for pk, item in catalogue.items.items()}
        self.texts: dict[tuple, str] = {}

    def __call__(self, ids: tuple[int, ...]) -> str:
        text = self.texts.get(ids)
        if text is None:
            code_of = self.code_of
            text = self.texts[ids] = json.dumps([code_of[i] for i in sorted(ids)], ensure_ascii=False,
                                                separators=(",", ":"))
        return text


def _insert_created_audit_sqlite(cursor, audit: _AuditWriter, first_id: int, last_id: int,
                                 codes: list[tuple[int, str]]) -> None:
    """Audit entries of the estates with ids first_id..last_id (all new in this import), built by SQLite
    with json_object from the stored rows: the same `after` as `_AuditJson` gives (decimals as text with
    their field's places, yes/no as true/false, the region's code, deficiency codes by item id), without
    making 200,000 JSON texts in Python. `codes` holds (estate id, its deficiency codes as JSON text)
    pairs: a join on a temporary table of them is far cheaper than a subquery over the links per estate.
    tests/census/test_import_audit.py holds the two equal."""
    qn = connection.ops.quote_name
    meta = Estate._meta
    pairs = []
    for name in VALUE_FIELDS:
        model_field = meta.get_field(name)
        column = f"e.{qn(model_field.column)}"
        if isinstance(model_field, models.BooleanField):
            value = f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN json('true') ELSE json('false') END"
        elif isinstance(model_field, models.DecimalField):
            value = f"CASE WHEN {column} IS NULL THEN NULL ELSE printf('%%.{model_field.decimal_places}f', {column}) END"
        else:
            value = column
        pairs.append(f"'{name}', {value}")
    after = f"json_object({', '.join(pairs)}, 'region', r.{qn('code')}, 'deficiencies', json(COALESCE(d.codes, '[]')))"
    estate_table, region_table = qn(meta.db_table), qn(Region._meta.db_table)
    columns = audit.sql[audit.sql.index("(") + 1:audit.sql.index(")")]
    cursor.execute("CREATE TEMP TABLE census_deficiency_codes (estate_id INTEGER PRIMARY KEY, codes TEXT NOT NULL)")
    cursor.executemany("INSERT INTO temp.census_deficiency_codes VALUES (%s, %s)", codes)
    cursor.execute(
        f"INSERT INTO {qn(AuditEntry._meta.db_table)} ({columns}) "
        f"SELECT %s, %s, %s, %s, %s, %s, %s, CAST(e.{qn('id')} AS TEXT), substr(e.{qn('name')}, 1, 200), "
        f"r.{qn('code')}, NULL, {after}, %s "
        f"FROM {estate_table} e JOIN {region_table} r ON r.{qn('id')} = e.{qn('region_id')} "
        f"LEFT JOIN temp.census_deficiency_codes d ON d.estate_id = e.{qn('id')} "
        f"WHERE e.{qn('id')} BETWEEN %s AND %s ORDER BY e.{qn('id')}",
        [audit.now, audit.actor_id, audit.actor_name, audit.request_id, AuditAction.CREATE, audit.verb,
         audit.content_type_id, audit.cause, first_id, last_id])
    cursor.execute("DROP TABLE temp.census_deficiency_codes")


class _AuditWriter:
    """Audit entries for an import, written per chunk by `executemany` (SQLite) or COPY (PostgreSQL), as
    `record_changes_bulk` would, without building model instances for 200,000 rows."""

    def __init__(self, *, actor, cause: str, now: datetime.datetime):
        ops = connection.ops
        meta = AuditEntry._meta
        self.actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
        self.actor_name = (getattr(actor, "username", "") or "system") if actor is not None else "system"
        self.request_id = current_request_id()
        self.content_type_id = ContentType.objects.get_for_model(Estate).pk
        self.cause = cause[:200]
        self.verb = AUDIT_VERB
        self.now = ops.adapt_datetimefield_value(now)
        cols = ("at", "actor", "actor_name", "request_id", "action", "verb", "object_type", "object_id",
                "object_repr", "region_code", "before", "after", "cause")
        self.columns = [meta.get_field(c).column for c in cols]
        columns = ", ".join(ops.quote_name(column) for column in self.columns)
        self.sql = (f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) "
                    f"VALUES ({', '.join(['%s'] * len(cols))})")
        self.pending: list[tuple] = []

    def row_json(self, object_id, action, name, region_code, before_json, after_json) -> tuple:
        """One entry's column values; before and after as JSON text (or None)."""
        return (self.now, self.actor_id, self.actor_name, self.request_id, action, self.verb,
                self.content_type_id, str(object_id), str(name)[:200], region_code, before_json, after_json,
                self.cause)

    def add_json(self, object_id, action, name, region_code, before_json, after_json) -> None:
        self.pending.append(self.row_json(object_id, action, name, region_code, before_json, after_json))

    def flush(self, cursor) -> None:
        if self.pending:
            if connection.vendor == "postgresql":
                _copy_rows(cursor, AuditEntry._meta.db_table, self.columns, self.pending)
            else:
                cursor.executemany(self.sql, self.pending)
            self.pending = []
