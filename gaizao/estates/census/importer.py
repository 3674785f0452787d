"""Census import: validate every row and column, then write all or nothing.

`census_import(actor=…, data=…, filename=…, dry_run=…, valid_only=…)` returns a report:
counts of created, updated and unchanged estates, a preview, and the errors (sheet, row number as
Excel shows it, column header, value, reason). A commit with any invalid row writes nothing and
raises `ServiceError(CENSUS_ROWS_INVALID)` carrying the same report; `valid_only=True` is the
separate, explicit choice of importing the valid rows and skipping the rest.

Matching: by 小区编码 when given, else by community (or street) + name. Importing the same file
again changes nothing. Every created or changed estate gets an audit entry whose cause names the
import. The writes are one transaction, so a failed or killed import leaves nothing behind.

Speed: 200,000 rows are read as a stream, parsed with per-column caches, and written with one
`executemany` per table (estates, their deficiencies, audit entries), chunked to bound memory.
"""

from __future__ import annotations

import datetime
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
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
    Estate,
    EstateStatus,
    HousingType,
    ManagementMode,
)
from gaizao.regions.models import Region, RegionLevel

from . import values as v
from .columns import (
    BOUNDS,
    COLUMN_BY_FIELD,
    ESTATE_SHEET,
    HEADER_INDEX,
    HOUSING_CHOICES,
    MANAGEMENT_CHOICES,
    MIN_BUILT_YEAR,
)
from .reader import CensusFileError, Table, column_letter, locate_table, open_book

ProgressCallback = Callable[[int, str], None]
ERROR_CAP = 5000
PREVIEW = 20
CHUNK = 5000

# Census fields stored on the estate (deficiencies are a many-to-many, regions are resolved).
VALUE_FIELDS = ("name", "address", "built_year", "buildings", "households", "floor_area", "housing_type",
                "in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard", "management_mode",
                "max_floors", "buildings_with_elevator", "willingness", "longitude", "latitude")
DEFAULTS = {"address": "", "buildings": 0, "households": 0, "housing_type": HousingType.OTHER.value,
            "in_shantytown_plan": False, "in_historic_district": False, "has_precast_slab_hazard": False,
            "management_mode": ManagementMode.NONE.value, "buildings_with_elevator": 0}
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
        levels = (RegionLevel.COUNTY, RegionLevel.STREET, RegionLevel.COMMUNITY)
        for region in Region.objects.filter(level__in=levels).only("id", "code", "name", "level", "parent_id",
                                                                    "is_active"):
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
            self.counties_by_short.get(short_key(text), []))
        if found is None:
            raise v.ValueProblem(_("no county of this name in the region tree"))
        return found

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
            raise v.ValueProblem(_("no %(level)s of this name inside %(parent)s")
                                 % {"level": RegionLevel(level).label, "parent": parent.name})
        return found


# ---------------------------------------------------------------------------------------------
# catalogue


class Catalogue:
    def __init__(self):
        self.items = {i.pk: i for i in CatalogueItem.objects.all()}
        self.lookup: dict[str, int] = {}
        self.fast: dict[str, int | None] = {}
        for item in sorted(self.items.values(), key=lambda i: (not i.is_active, i.sort)):
            for spelling in (item.name, item.code, item.name_en, *(item.synonyms or [])):
                if spelling:
                    self.lookup.setdefault(name_key(spelling), item.pk)

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
            raise v.ValueProblem(_("not in the content catalogue: %(items)s") % {"items": "、".join(unknown[:5])})
        return tuple(sorted(found))

    def names(self, ids) -> str:
        return "、".join(self.items[i].name for i in sorted(ids, key=lambda i: (self.items[i].sort, i)))

    def counts(self, ids) -> dict[str, int]:
        counts = {c: 0 for c in ContentClass.values}
        for i in ids:
            counts[self.items[i].content_class] += 1
        return counts


# ---------------------------------------------------------------------------------------------
# parsing one row


def _cached(fn):
    cache: dict = {}

    def parse(raw):
        try:
            key = (type(raw), raw)
            hit = cache.get(key)
        except TypeError:
            return fn(raw)
        if hit is None:
            try:
                hit = (True, fn(raw))
            except v.ValueProblem as exc:
                hit = (False, exc)
            if len(cache) < 50_000:
                cache[key] = hit
        if hit[0]:
            return hit[1]
        raise hit[1]

    return parse


def _int(name):
    low, high = BOUNDS[name]
    return lambda raw: v.parse_int(raw, min_value=low, max_value=high)


def _text(max_length):
    return lambda raw: v.parse_text(raw, max_length=max_length)


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

    def willingness(raw):
        value = v.parse_percent(raw)
        return value

    def items(raw):
        return catalogue.ids(v.parse_items(raw))

    return {
        "code": _text(32),
        "name": _text(128),
        "county": _cached(v.region_ref),
        "street": _cached(v.region_ref),
        "community": _cached(v.region_ref),
        "address": _text(256),
        "built_year": _cached(lambda raw: v.parse_year(raw, min_year=MIN_BUILT_YEAR)),
        "buildings": _cached(_int("buildings")),
        "households": _cached(_int("households")),
        "floor_area": area,
        "housing_type": _cached(lambda raw: v.parse_choice(raw, HOUSING_CHOICES)),
        "in_shantytown_plan": _cached(v.parse_bool),
        "in_historic_district": _cached(v.parse_bool),
        "has_precast_slab_hazard": _cached(v.parse_bool),
        "management_mode": _cached(lambda raw: v.parse_choice(raw, MANAGEMENT_CHOICES)),
        "max_floors": _cached(_int("max_floors")),
        "buildings_with_elevator": _cached(_int("buildings_with_elevator")),
        "willingness": _cached(willingness),
        "deficiencies": _cached(items),
        "longitude": lambda raw: v.parse_coordinate(raw, min_value=BOUNDS["longitude"][0],
                                                    max_value=BOUNDS["longitude"][1]),
        "latitude": lambda raw: v.parse_coordinate(raw, min_value=BOUNDS["latitude"][0],
                                                   max_value=BOUNDS["latitude"][1]),
    }


@dataclass
class Row:
    """One valid census row, ready to write: values in VALUE_FIELDS order."""

    line: int
    code: str | None
    region: Region
    county: Region
    values: tuple
    deficiencies: tuple[int, ...] | None  # None: the column is absent (left alone on update)
    present: frozenset[str]


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
    preview: dict = field(default_factory=lambda: {"created": [], "updated": [], "unchanged": []})
    estate_codes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "filename": self.filename, "kind": self.kind, "sheet": self.sheet, "header_row": self.header_row,
            "dry_run": self.dry_run, "valid_only": self.valid_only, "committed": self.committed, "rows": self.rows,
            "valid_rows": self.valid_rows, "invalid_rows": self.invalid_rows, "created": self.created,
            "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
            "examples": self.examples,
            "error_count": self.error_count, "errors": self.errors, "warnings": self.warnings,
            "unknown_headers": self.unknown_headers, "preview": self.preview,
        }

    def error(self, *, row: int, column: str, cell: str, value, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < ERROR_CAP:
            text = v.clean_text(value) if value is not None else ""
            self.errors.append({"sheet": self.sheet, "row": row, "column": column, "cell": cell,
                                "value": text[:100], "reason": str(reason)})


# ---------------------------------------------------------------------------------------------
# the import


def census_import(*, actor, data: bytes, filename: str = "", dry_run: bool = True, valid_only: bool = False,
                  progress: ProgressCallback | None = None, cause: str = "", scope: Scope | None = None) -> dict:
    """Check a census file and (unless `dry_run`) write it; see the module's docstring."""
    report_progress = progress or (lambda pct, msg: None)
    scope = scope or _scope_of(actor)
    report = Report(filename=filename, dry_run=dry_run, valid_only=valid_only)
    report_progress(2, _("Reading the file"))
    book = open_book(data, filename=filename)
    report.kind = book.kind
    table = _find_table(book)
    report.sheet, report.header_row = table.sheet, table.header_row
    report.unknown_headers = table.unknown_headers[:50]
    if table.duplicate_headers:
        report.warnings.append(_("These headers appear twice; the first column of each was used: %(h)s")
                               % {"h": "、".join(table.duplicate_headers[:10])})
    missing = [COLUMN_BY_FIELD[f].header for f in ("name", "county", "street", "built_year")
               if f not in table.fields]
    if missing:
        raise CensusFileError(
            _("Sheet %(sheet)s (header in row %(row)d) lacks the required columns: %(columns)s")
            % {"sheet": table.sheet, "row": table.header_row, "columns": "、".join(missing)},
            fields={"missing_columns": missing, "sheet": table.sheet, "header_row": table.header_row})

    resolver, catalogue = RegionResolver(), Catalogue()
    rows = _parse_rows(table, report, resolver, catalogue, scope, report_progress)
    report_progress(55, _("Checked %(n)d rows") % {"n": report.rows})
    if report.rows == 0:
        raise CensusFileError(_("Sheet %(sheet)s has a header row but no estates below it.") % {"sheet": table.sheet},
                              fields={"sheet": table.sheet, "header_row": table.header_row})
    plan = _plan(rows, report, table, scope, catalogue)
    report.valid_rows = len(plan.rows_ok)
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
    _write(plan, actor=actor, cause=cause, catalogue=catalogue, progress=report_progress)
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
                progress: ProgressCallback) -> list[Row]:
    parsers = build_parsers(table.headers, catalogue)
    present = [(f, col, parsers[f]) for f, col in table.fields.items()]
    present_names = frozenset(table.fields)
    headers = {f: table.headers[f] for f in table.fields}
    letters = {f: column_letter(col + table.col_offset) for f, col in table.fields.items()}
    value_slots = [(name, i, DEFAULTS.get(name)) for i, name in enumerate(VALUE_FIELDS) if name in table.fields]
    rows: list[Row] = []
    blank = v.is_blank
    name_col, code_col = table.fields.get("name"), table.fields.get("code")
    region_cache: dict = {}
    for line, cells in table.rows:
        if not cells or all(c is None or c == "" or (isinstance(c, str) and blank(c)) for c in cells):
            continue
        if name_col is not None and name_col < len(cells) and str(cells[name_col]).startswith(EXAMPLE_PREFIXES) and (
                code_col is None or code_col >= len(cells) or v.is_blank(cells[code_col])):
            report.examples += 1
            continue
        report.rows += 1
        if report.rows % 20000 == 0:
            progress(5 + min(45, report.rows * 45 // 200_000), _("Read %(n)d rows") % {"n": report.rows})
        parsed: dict = {}
        bad = False
        n = len(cells)
        for name, col, parse in present:
            raw = cells[col] if col < n else None
            try:
                parsed[name] = parse(raw)
            except v.ValueProblem as exc:
                bad = True
                report.error(row=line, column=headers[name], cell=f"{letters[name]}{line}", value=raw,
                             reason=exc.reason)

        def err(name, reason, raw=None, line=line, cells=cells, n=n):
            report.error(row=line, column=headers.get(name, COLUMN_BY_FIELD[name].header),
                         cell=f"{letters[name]}{line}" if name in letters else "",
                         value=raw if raw is not None else (cells[table.fields[name]] if name in table.fields and
                                                            table.fields[name] < n else ""),
                         reason=reason)

        for name in ("name", "county", "street", "built_year"):
            if name not in parsed or parsed[name] is None:
                if name in parsed:
                    err(name, _("required"))
                bad = True
        region = county = None
        if parsed.get("county") and parsed.get("street"):
            key = (parsed["county"], parsed["street"], parsed.get("community"))
            hit = region_cache.get(key)
            if hit is None:
                hit = _resolve(resolver, *key)
                hit = (*hit, hit[1] is not None and scope.covers(hit[1].code, Action.CHANGE))
                region_cache[key] = hit
            county, region, problem, covered = hit
            if problem:
                err(problem[0], problem[1])
                bad = True
            elif not covered:
                err(_outside_column(scope, region), _("outside your area: you may import only into %(area)s")
                    % {"area": _area_names(scope, resolver)})
                bad = True
        code = parsed.get("code")
        if code is not None and not CODE_PATTERN.match(code):
            err("code", _("a code has letters, digits, - _ . only (at most 32)"))
            bad = True
        b, e = parsed.get("buildings"), parsed.get("buildings_with_elevator")
        if b and e and e > b:
            err("buildings_with_elevator", _("more buildings with an elevator than buildings (%(n)d)") % {"n": b})
            bad = True
        lon, lat = parsed.get("longitude"), parsed.get("latitude")
        if (lon is None) != (lat is None) and ("longitude" in parsed and "latitude" in parsed):
            err("latitude" if lat is None else "longitude", _("give both longitude and latitude, or neither"))
            bad = True
        if bad:
            report.invalid_rows += 1
            continue
        values = [None] * len(VALUE_FIELDS)
        for name, i, default in value_slots:
            value = parsed[name]
            values[i] = default if value is None else value
        rows.append(Row(line=line, code=code, region=region, county=county, values=tuple(values),
                        deficiencies=parsed.get("deficiencies", None) if "deficiencies" in parsed else None,
                        present=present_names))
    return rows


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


@dataclass
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


def _plan(rows: list[Row], report: Report, table: Table, scope: Scope, catalogue: Catalogue) -> Plan:
    plan = Plan()
    headers = table.headers
    name_i = VALUE_FIELDS.index("name")

    def err(row: Row, name: str, value, reason: str):
        letter = column_letter(table.fields[name] + table.col_offset) if name in table.fields else ""
        report.error(row=row.line, column=headers.get(name, COLUMN_BY_FIELD[name].header),
                     cell=f"{letter}{row.line}" if letter else "", value=value, reason=reason)

    # duplicates within the file
    seen_codes: dict[str, int] = {}
    seen_names: dict[tuple[int, str], int] = {}
    unique: list[Row] = []
    for row in rows:
        key = (row.region.pk, name_key(row.values[name_i]))
        if row.code is not None and row.code in seen_codes:
            err(row, "code", row.code, _("the same code as row %(row)d") % {"row": seen_codes[row.code]})
        elif key in seen_names:
            err(row, "name", row.values[name_i],
                _("the same estate (community and name) as row %(row)d") % {"row": seen_names[key]})
        else:
            if row.code is not None:
                seen_codes[row.code] = row.line
            seen_names[key] = row.line
            unique.append(row)
            continue
        report.invalid_rows += 1

    # what the database holds for these counties and codes
    county_ids = {row.county.pk for row in unique}
    existing_by_code, existing_by_name = _load_existing(county_ids, [r.code for r in unique if r.code])
    fresh_codes = _FreshCodes(unique)
    for row in unique:
        key = (row.region.pk, name_key(row.values[name_i]))
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
        plan.rows_ok.append(row)
        if match is None:
            code = row.code or fresh_codes.next(row.county.code)
            plan.creates.append((row, code))
            if len(report.preview["created"]) < PREVIEW:
                report.preview["created"].append({"row": row.line, "code": code, "name": row.values[name_i]})
            continue
        new_values = tuple(old if new is None and VALUE_FIELDS[i] not in row.present else new
                           for i, (old, new) in enumerate(zip(match.values, row.values, strict=True)))
        new_defs = match.deficiencies if row.deficiencies is None else row.deficiencies
        changed = [VALUE_FIELDS[i] for i, (a, b) in enumerate(zip(match.values, new_values, strict=True)) if a != b]
        if new_defs != match.deficiencies:
            changed.append("deficiencies")
        if match.region_id != row.region.pk:
            changed.append("region")
        if changed:
            plan.updates.append((row, match, new_values, new_defs))
            if len(report.preview["updated"]) < PREVIEW:
                report.preview["updated"].append({"row": row.line, "code": match.code, "name": new_values[name_i],
                                                  "fields": changed})
        else:
            plan.unchanged += 1
            if len(report.preview["unchanged"]) < PREVIEW:
                report.preview["unchanged"].append({"row": row.line, "code": match.code,
                                                    "name": new_values[name_i]})
    return plan


_AMBIGUOUS = Existing(id=0, code="", region_id=0, county_id=0, values=(), deficiencies=())
_REGION_CODES: dict[int, str] = {}


def _code_of(region_id: int) -> str:
    if region_id not in _REGION_CODES:
        _REGION_CODES.clear()
        _REGION_CODES.update(Region.objects.values_list("id", "code"))
    return _REGION_CODES.get(region_id, "")


def _load_existing(county_ids: set[int], codes: list[str]):
    columns = ("id", "code", "region_id", "county_id", *VALUE_FIELDS)
    by_code: dict[str, Existing] = {}
    by_name: dict[tuple[int, str], Existing] = {}
    records = []
    if county_ids:
        records.extend(Estate.objects.filter(county_id__in=county_ids).values_list(*columns))
    wanted = [c for c in codes]
    for start in range(0, len(wanted), 900):
        chunk = wanted[start:start + 900]
        records.extend(Estate.objects.filter(code__in=chunk).exclude(county_id__in=county_ids).values_list(*columns))
    if not records:
        return by_code, by_name
    ids = [r[0] for r in records]
    defs: dict[int, list[int]] = defaultdict(list)
    through = Estate.deficiencies.through
    if county_ids:
        for estate_id, item_id in through.objects.filter(estate__county_id__in=county_ids).values_list(
                "estate_id", "catalogueitem_id"):
            defs[estate_id].append(item_id)
    outside = [r[0] for r in records if r[3] not in county_ids]
    for start in range(0, len(outside), 900):
        for estate_id, item_id in through.objects.filter(estate_id__in=outside[start:start + 900]).values_list(
                "estate_id", "catalogueitem_id"):
            defs[estate_id].append(item_id)
    del ids
    for record in records:
        existing = Existing(id=record[0], code=record[1], region_id=record[2], county_id=record[3],
                            values=tuple(record[4:]), deficiencies=tuple(sorted(defs.get(record[0], ()))))
        by_code[existing.code] = existing
        key = (existing.region_id, name_key(existing.values[0]))
        by_name[key] = _AMBIGUOUS if key in by_name else existing
    return by_code, by_name


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


def _filled(values: tuple) -> tuple:
    return tuple(DEFAULTS.get(name) if value is None else value for name, value in zip(VALUE_FIELDS, values,
                                                                                          strict=True))


def _audit_values(values: tuple, region: Region, deficiencies, catalogue: Catalogue) -> dict:
    data = {name: _plain(value) for name, value in zip(VALUE_FIELDS, values, strict=True)}
    data["region"] = region.code
    data["deficiencies"] = [catalogue.items[i].code for i in deficiencies]
    return data


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


def _write(plan: Plan, *, actor, cause: str, catalogue: Catalogue, progress: ProgressCallback) -> None:
    county_ids = {row.county.pk for row, *_rest in plan.creates} | {row.county.pk for row, *_r in plan.updates}
    county_ids |= {old.county_id for _row, old, *_r in plan.updates}
    rules = estate_services.rules_by_county({row.county.code for row, *_r in (*plan.creates, *plan.updates)})
    class_of = {pk: item.content_class for pk, item in catalogue.items.items()}
    ops = connection.ops
    now = timezone.now()
    now_db = ops.adapt_datetimefield_value(now)
    meta = Estate._meta
    table = connection.ops.quote_name(meta.db_table)
    col = {f.name: connection.ops.quote_name(f.column) for f in meta.concrete_fields}
    derived_fields = ("eligibility", "eligibility_reasons", "rebuild_route", "priority_score", "priority_breakdown")
    insert_fields = ("id", "code", "region", "county", *VALUE_FIELDS, *derived_fields, "status", "status_reason",
                     "created_at", "updated_at")
    insert_sql = (f"INSERT INTO {table} ({', '.join(col[f] for f in insert_fields)}) "
                  f"VALUES ({', '.join(['%s'] * len(insert_fields))})")
    update_fields = ("region", "county", *VALUE_FIELDS, *derived_fields, "updated_at")
    update_sql = (f"UPDATE {table} SET {', '.join(col[f] + ' = %s' for f in update_fields)} "
                  f"WHERE {col['id']} = %s")
    through = Estate.deficiencies.through
    through_table = ops.quote_name(through._meta.db_table)
    dumps = json.JSONEncoder(default=str, ensure_ascii=False, separators=(", ", ": ")).encode

    def derived_params(values, defs, county):
        out = estate_services.derived_values(dict(zip(VALUE_FIELDS, values, strict=True)), defs, class_of,
                                             rules[county.code])
        return (out["eligibility"], dumps(out["eligibility_reasons"]), out["rebuild_route"],
                Decimal(out["priority_score"]).quantize(CENTS), dumps(out["priority_breakdown"]))

    def value_params(values):
        # the parsers already rounded every Decimal to its field's places; both database drivers take them
        return values

    audit = _AuditWriter(actor=actor, cause=cause, now=now)
    after_json = _AuditJson(catalogue)
    total = len(plan.creates) + len(plan.updates)
    done = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # a bigger page cache for this connection: the estate table has many indexes
                cursor.execute("PRAGMA cache_size = -262144")
            new_ids = _reserve_ids(cursor, len(plan.creates))
            deferred = _defer_indexes(cursor, len(plan.creates))

            def prepare(start):
                """Rows, links and audit rows of one chunk (pure Python, no database)."""
                params, links, entries = [], [], []
                for offset, (row, code) in enumerate(plan.creates[start:start + CHUNK]):
                    estate_id = new_ids[start + offset]
                    values = _filled(row.values)
                    defs = row.deficiencies or ()
                    params.append((estate_id, code, row.region.pk, row.county.pk, *value_params(values),
                                   *derived_params(values, defs, row.county), EstateStatus.SURVEYED.value, "",
                                   now_db, now_db))
                    links.extend((estate_id, item) for item in defs)
                    entries.append(audit.row_json(estate_id, AuditAction.CREATE, row.values[0], row.region.code,
                                                  None, after_json(values, row.region.code, defs)))
                return params, links, entries

            # the next chunk is prepared in a thread while this one is written (the driver lets go of
            # the GIL while the database works)
            starts = list(range(0, len(plan.creates), CHUNK))
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(prepare, starts[0]) if starts else None
                for i in range(len(starts)):
                    params, links, entries = pending.result()
                    if i + 1 < len(starts):
                        pending = pool.submit(prepare, starts[i + 1])
                    cursor.executemany(insert_sql, params)
                    if links:
                        _insert_links(cursor, through_table, links)
                    audit.pending.extend(entries)
                    audit.flush(cursor)
                    done += len(params)
                    progress(65 + 30 * done // max(1, total),
                             _("Written %(n)d of %(total)d") % {"n": done, "total": total})
            for sql in deferred:
                cursor.execute(sql)
            for start in range(0, len(plan.updates), CHUNK):
                chunk = plan.updates[start:start + CHUNK]
                params = []
                relink = []
                for row, old, values, defs in chunk:
                    params.append((row.region.pk, row.county.pk, *value_params(values),
                                   *derived_params(values, defs, row.county), now_db, old.id))
                    if defs != old.deficiencies:
                        relink.append((old.id, defs))
                    audit.add(old.id, AuditAction.UPDATE, values[0], row.region.code,
                              _audit_values(old.values, _region_stub(old.region_id), old.deficiencies, catalogue),
                              _audit_values(values, row.region, defs, catalogue))
                cursor.executemany(update_sql, params)
                if relink:
                    ids = [estate_id for estate_id, _defs in relink]
                    for s in range(0, len(ids), 900):
                        through.objects.filter(estate_id__in=ids[s:s + 900]).delete()
                    links = [(estate_id, item) for estate_id, defs in relink for item in defs]
                    if links:
                        _insert_links(cursor, through_table, links)
                audit.flush(cursor)
                done += len(chunk)
                progress(65 + 30 * done // max(1, total), _("Written %(n)d of %(total)d") % {"n": done, "total": total})
        estate_services.counties_rerank(county_ids)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -2000")  # back to SQLite's default for this connection


CENTS = Decimal("0.01")
# SQLite: from this many new estates, and when they are at least as many as the rows already there, the
# secondary indexes of the tables written are dropped inside the transaction and built again after the
# inserts (a sorted build is far cheaper than 15 B-tree inserts per row). Unique column constraints stay.
REINDEX_MIN_ROWS = 20_000


def _defer_indexes(cursor, creates: int) -> list[str]:
    """Drop the secondary indexes that a large SQLite import would maintain row by row; returns the
    statements that build them again (run in the same transaction, before anything reads them)."""
    if connection.vendor != "sqlite" or creates < REINDEX_MIN_ROWS:
        return []
    qn = connection.ops.quote_name
    recreate = []
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
            recreate.append(sql)
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


def _insert_links(cursor, through_table: str, links: list[tuple[int, int]]) -> None:
    """Estate ↔ catalogue item links; on SQLite as one statement over a JSON array (no per-row binding)."""
    qn = connection.ops.quote_name
    if connection.vendor == "sqlite":
        cursor.execute(f"INSERT INTO {through_table} ({qn('estate_id')}, {qn('catalogueitem_id')}) "
                       f"SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(%s)",
                       [json.dumps(links)])
        return
    cursor.executemany(f"INSERT INTO {through_table} ({qn('estate_id')}, {qn('catalogueitem_id')}) "
                       f"VALUES (%s, %s)", links)


_encode_str = json.encoder.encode_basestring  # what json.dumps(…, ensure_ascii=False) writes for a str


class _AuditJson:
    """The JSON text of `_audit_values(values, region, deficiencies, catalogue)` exactly as
    `_AuditWriter._json` writes it, built directly (no dict, no encoder call per row)."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.keys = [_encode_str(name) + ":" for name in VALUE_FIELDS]
        self.region_key = "," + _encode_str("region") + ":"
        self.defs_key = "," + _encode_str("deficiencies") + ":"
        self.defs_text: dict[tuple, str] = {}

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
                text = json.dumps(_plain(value), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
            parts.append(key + text)
        key = tuple(deficiencies)
        defs = self.defs_text.get(key)
        if defs is None:
            items = self.catalogue.items
            defs = self.defs_text[key] = json.dumps([items[i].code for i in key], ensure_ascii=False,
                                                    separators=(",", ":"))
        return "{" + ",".join(parts) + self.region_key + _encode_str(region_code) + self.defs_key + defs + "}"


def _region_stub(region_id: int) -> Region:
    return Region(pk=region_id, code=_code_of(region_id))


class _AuditWriter:
    """Audit entries for an import in one `executemany` per chunk (as `record_changes_bulk`, but
    without building model instances for 200,000 rows)."""

    def __init__(self, *, actor, cause: str, now: datetime.datetime):
        ops = connection.ops
        meta = AuditEntry._meta
        self.actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
        self.actor_name = (getattr(actor, "username", "") or "system") if actor is not None else "system"
        self.request_id = current_request_id()
        self.content_type_id = ContentType.objects.get_for_model(Estate).pk
        self.cause = cause[:200]
        self.now = ops.adapt_datetimefield_value(now)
        self.json_field = meta.get_field("before")
        cols = ("at", "actor", "actor_name", "request_id", "action", "verb", "object_type", "object_id",
                "object_repr", "region_code", "before", "after", "cause")
        columns = ", ".join(ops.quote_name(meta.get_field(c).column) for c in cols)
        self.sql = (f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) "
                    f"VALUES ({', '.join(['%s'] * len(cols))})")
        self.pending: list[tuple] = []

    def _json(self, data):
        return None if data is None else json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False,
                                                    separators=(",", ":"))

    def row(self, object_id, action, name, region_code, before, after) -> tuple:
        return (self.now, self.actor_id, self.actor_name, self.request_id, action, "estates.census_import",
                self.content_type_id, str(object_id), str(name)[:200], region_code, self._json(before),
                self._json(after), self.cause)

    def row_json(self, object_id, action, name, region_code, before_json, after_json) -> tuple:
        """As `row`, with before and after already JSON text (or None)."""
        return (self.now, self.actor_id, self.actor_name, self.request_id, action, "estates.census_import",
                self.content_type_id, str(object_id), str(name)[:200], region_code, before_json, after_json,
                self.cause)

    def add(self, object_id, action, name, region_code, before, after) -> None:
        self.pending.append(self.row(object_id, action, name, region_code, before, after))

    def flush(self, cursor) -> None:
        if self.pending:
            cursor.executemany(self.sql, self.pending)
            self.pending = []
