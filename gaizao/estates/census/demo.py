"""Generated demo estates written as a county would send them: a census sheet with the
template's columns (`gaizao demo-data --scale … --write-census FILE.xlsx`)."""

from __future__ import annotations

import xlsxwriter

from gaizao.estates.models import CatalogueItem
from gaizao.regions.models import Region

from .columns import COLUMNS, ESTATE_SHEET, HOUSING_LABELS, MANAGEMENT_LABELS, NO, YES


def write_census(rows: list[dict], target, *, title: str | None = "城镇老旧小区调查摸底表（演示数据）") -> int:
    """Write generator rows (`estates.generator.generate_rows`) as a census xlsx; returns the row count.

    Regions are written by name (县（市、区）, 街道（乡镇）, 社区), catalogue items by their Chinese names,
    as counties fill the template; a merged title row sits above the header.
    """
    regions = {r.code: r for r in Region.objects.filter(level__in=["county", "street", "community"])}
    items = dict(CatalogueItem.objects.values_list("code", "name"))
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    percent = workbook.add_format({"num_format": "0.0%"})
    sheet = workbook.add_worksheet(ESTATE_SHEET)
    start = 0
    if title:
        sheet.merge_range(0, 0, 0, 8, title)
        start = 1
    for col, spec in enumerate(COLUMNS):
        sheet.write_string(start, col, f"{spec.header}*" if spec.required else spec.header, head)
    fields = [c.field for c in COLUMNS]
    for n, row in enumerate(rows, start=start + 1):
        region = regions[str(row["region"])]
        if region.level == "community":
            community, street = region, regions[region.code[:9]]
        else:
            community, street = None, region
        county = regions[region.code[:6]]
        values = {
            "code": row.get("code") or "", "name": row["name"], "county": county.name, "street": street.name,
            "community": community.name if community else "", "address": row.get("address") or "",
            "built_year": row.get("built_year"), "buildings": row.get("buildings"),
            "households": row.get("households"), "floor_area": row.get("floor_area"),
            "housing_type": HOUSING_LABELS.get(row.get("housing_type"), ""),
            "in_shantytown_plan": YES if row.get("in_shantytown_plan") else NO,
            "in_historic_district": YES if row.get("in_historic_district") else NO,
            "has_precast_slab_hazard": YES if row.get("has_precast_slab_hazard") else NO,
            "management_mode": MANAGEMENT_LABELS.get(row.get("management_mode"), ""),
            "max_floors": row.get("max_floors"), "buildings_with_elevator": row.get("buildings_with_elevator"),
            "willingness": row.get("willingness"),
            "deficiencies": "、".join(items[c] for c in row.get("deficiencies") or ()),
            "longitude": row.get("longitude"), "latitude": row.get("latitude"),
        }
        for col, name in enumerate(fields):
            value = values[name]
            if value is None or value == "":
                continue
            if name == "willingness":
                sheet.write_number(n, col, float(value) / 100, percent)
            elif isinstance(value, str):
                sheet.write_string(n, col, value)
            else:
                sheet.write_number(n, col, float(value) if not isinstance(value, int) else value)
    workbook.close()
    return len(rows)
