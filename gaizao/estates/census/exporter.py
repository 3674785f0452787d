"""Export any (already filtered and scoped) estate queryset as a census sheet, xlsx or csv.

The columns are the template's, so an export re-imports unchanged. Text cells that begin with
= + - @ (or a tab or carriage return) cannot run in a spreadsheet: in xlsx they are string cells
with Excel's quote prefix; in csv they get a leading apostrophe, which the importer removes again.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import xlsxwriter

from gaizao.estates.models import CatalogueItem, Estate
from gaizao.regions.models import Region

from .columns import COLUMNS, ESTATE_SHEET, HOUSING_LABELS, MANAGEMENT_LABELS, NO, YES

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOOL_FIELDS = ("in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard")
CHUNK = 2000


def _needs_guard(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_safe(value):
    """A csv cell that cannot be read as a formula."""
    if isinstance(value, str) and _needs_guard(value):
        return "'" + value
    return value


def export_rows(estates) -> Iterator[dict]:
    """One dict per estate with the template's fields (values as the template writes them)."""
    items = {i.pk: (i.sort, i.name) for i in CatalogueItem.objects.all()}
    regions: dict[int, Region] = {}
    fields = ("id", "code", "name", "address", "region_id", "county_id", "built_year", "buildings", "households",
              "floor_area", "housing_type", "in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard",
              "management_mode", "max_floors", "buildings_with_elevator", "willingness", "longitude", "latitude")
    through = Estate.deficiencies.through
    # the list's sort when the estates come sorted (?sort=…), else by code
    queryset = (estates if estates.query.order_by else estates.order_by("code")).values_list(*fields)
    batch: list[tuple] = []

    def flush(batch):
        ids = [r[0] for r in batch]
        defs = defaultdict(list)
        for estate_id, item_id in through.objects.filter(estate_id__in=ids).values_list("estate_id",
                                                                                         "catalogueitem_id"):
            defs[estate_id].append(items[item_id])
        missing = {r[4] for r in batch} | {r[5] for r in batch}
        missing -= regions.keys()
        if missing:
            for region in Region.objects.filter(pk__in=missing).select_related("parent"):
                regions[region.pk] = region
        for record in batch:
            data = dict(zip(fields, record, strict=True))
            region, county = regions[data["region_id"]], regions[data["county_id"]]
            if region.level == "community":
                street, community = region.parent, region
            else:
                street, community = region, None
            row = {
                "code": data["code"], "name": data["name"], "county": county.name, "street": street.name,
                "community": community.name if community else "", "address": data["address"],
                "built_year": data["built_year"], "buildings": data["buildings"],
                "households": data["households"], "floor_area": data["floor_area"],
                "housing_type": HOUSING_LABELS.get(data["housing_type"], data["housing_type"]),
                "management_mode": MANAGEMENT_LABELS.get(data["management_mode"], data["management_mode"]),
                "max_floors": data["max_floors"], "buildings_with_elevator": data["buildings_with_elevator"],
                "willingness": data["willingness"], "longitude": data["longitude"], "latitude": data["latitude"],
                "deficiencies": "、".join(name for _sort, name in sorted(defs.get(data["id"], []))),
            }
            for name in BOOL_FIELDS:
                row[name] = YES if data[name] else NO
            yield row

    for record in queryset.iterator(chunk_size=CHUNK):
        batch.append(record)
        if len(batch) >= CHUNK:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)


def write_xlsx(estates, target) -> int:
    """Write the estates to `target` (path or binary file); returns the number of rows."""
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    guarded = workbook.add_format({"quote_prefix": True})
    percent = workbook.add_format({"num_format": "0.00%"})
    sheet = workbook.add_worksheet(ESTATE_SHEET)
    for col, spec in enumerate(COLUMNS):
        sheet.write_string(0, col, f"{spec.header}*" if spec.required else spec.header, header)
    count = 0
    for count, row in enumerate(export_rows(estates), start=1):
        for col, spec in enumerate(COLUMNS):
            value = row[spec.field]
            if value is None or value == "":
                continue
            if spec.field == "willingness":
                sheet.write_number(count, col, float(value / 100), percent)
            elif isinstance(value, Decimal):
                sheet.write_number(count, col, float(value))
            elif isinstance(value, int):
                sheet.write_number(count, col, value)
            elif _needs_guard(value):
                sheet.write_string(count, col, value, guarded)
            else:
                sheet.write_string(count, col, value)
    workbook.close()
    return count


def write_csv(estates, stream) -> int:
    """Write UTF-8 csv with a BOM (so Excel shows the Chinese) to a text stream."""
    stream.write("\ufeff")
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([f"{c.header}*" if c.required else c.header for c in COLUMNS])
    count = 0
    for row in export_rows(estates):
        count += 1
        out = []
        for spec in COLUMNS:
            value = row[spec.field]
            if value is None:
                out.append("")
            elif spec.field == "willingness":
                out.append(f"{value.normalize():f}%")
            elif isinstance(value, Decimal):
                out.append(f"{value.normalize():f}")
            else:
                out.append(csv_safe(value))
        writer.writerow(out)
    return count


def export_bytes(estates, fmt: str) -> bytes:
    if fmt == "csv":
        text = io.StringIO()
        write_csv(estates, text)
        return text.getvalue().encode("utf-8")
    buffer = io.BytesIO()
    write_xlsx(estates, buffer)
    return buffer.getvalue()
