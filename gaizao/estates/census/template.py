"""The census template: Chinese headers, data-validation lists and one example row, on the estate
sheet (小区) and on the building (楼栋) and household (住户) sheets.

The example rows' estate name starts with 示例, and the importer skips such rows, so a county can
fill the template in below them and upload it as it is.
"""

from __future__ import annotations

import datetime
import io

import xlsxwriter
from django.utils.translation import gettext as _

from gaizao.estates.models import CatalogueItem, ContentClass
from gaizao.regions.models import Region, RegionLevel

from .buildings import BUILDING_COLUMNS, BUILDING_SHEET, HOUSEHOLD_COLUMNS, HOUSEHOLD_SHEET, STRUCTURE_LABELS
from .columns import COLUMNS, ESTATE_SHEET, HOUSING_LABELS, MANAGEMENT_LABELS, MIN_BUILT_YEAR, NO, YES

EXAMPLE_PREFIX = "示例"
TEMPLATE_ROWS = 200_000  # validation reaches this far down
LISTS_SHEET = "选项"
CLASS_LABELS = {ContentClass.BASIC: "基础类", ContentClass.IMPROVEMENT: "完善类", ContentClass.ENHANCEMENT: "提升类"}

NOTES = (
    "每行填写一个小区；第一行是表头，请勿修改表头文字。带 * 的列必须填写。",
    "小区编码：已登记小区的编码（导出的表格中有），新小区留空，系统按社区和名称匹配并自动编码。",
    "县（市、区）、街道（乡镇）、社区：填写名称或行政区划代码，后一级必须属于前一级；社区可留空（小区挂在街道下）。",
    "建成年份：如 1995、1995年、1995.06、1995-06-01 均可。",
    "是否类各列：填 是/否（也接受 Y/N、√/×、有/无）。",
    "居民改造意愿：百分比，如 85%、85 或 0.85。",
    "主要问题：填写改造内容清单中的项目名称，多个项目用 、 ， ; 分隔（见“改造内容清单”工作表）。",
    "经度、纬度：十进制度数（如 120.1234、30.2567），两者同时填写或同时留空。",
    "以“示例”开头的小区名称所在行不会导入。",
    "同一文件再次导入不会重复登记：已存在的小区只更新有变化的内容。",
    "“楼栋”“住户”工作表可不填；填写时每行一个楼栋或一户，整个文件（小区、楼栋、住户）有任何错误则全部不导入。",
    "楼栋、住户所属小区：填小区编码，或填小区名称和县（市、区）、街道（乡镇）、社区（与“小区”表相同）；"
    "小区可以是系统中已有的，也可以是同一文件“小区”表中新填的。",
    "楼栋按“小区＋楼栋号”匹配，住户按“楼栋＋单元＋室号”匹配：已存在的只更新有变化的内容。",
    "住户的楼栋必须在“楼栋”表中或系统中已有；所在楼层不能高于楼栋层数。结构填 砖混/框架/剪力墙/砖木/其他。",
    "联系电话：手机 11 位或带区号的固定电话，可含空格、横线、括号或 +86；系统只保存数字，页面显示时隐去中间几位。",
)


def example_row(county: Region | None) -> dict[str, object]:
    street = community = None
    if county is not None:
        street = Region.objects.filter(parent=county, level=RegionLevel.STREET, is_active=True).order_by("code").first()
        if street is not None:
            community = Region.objects.filter(parent=street, is_active=True).order_by("code").first()
    return {
        "code": "",
        "name": f"{EXAMPLE_PREFIX}：幸福小区",
        "county": county.name if county else "西湖区",
        "street": street.name if street else "文新街道",
        "community": community.name if community else "",
        "address": "幸福路 1 号",
        "built_year": 1995,
        "buildings": 12,
        "households": 300,
        "floor_area": 24000,
        "housing_type": HOUSING_LABELS["reformed_public"],
        "in_shantytown_plan": NO,
        "in_historic_district": NO,
        "has_precast_slab_hazard": NO,
        "management_mode": MANAGEMENT_LABELS["quasi"],
        "max_floors": 6,
        "buildings_with_elevator": 0,
        "willingness": 0.85,
        "deficiencies": "供水设施、排水设施、加装电梯",
        "longitude": 120.1234,
        "latitude": 30.2567,
    }


def example_building(sample: dict) -> dict[str, object]:
    return {"estate_code": "", "estate_name": sample["name"], "county": sample["county"], "street": sample["street"],
            "community": sample["community"], "number": "1", "floors": 6, "units": 2, "households": 24,
            "has_elevator": NO, "structure": STRUCTURE_LABELS["brick_concrete"], "built_year": 1995}


def example_household(sample: dict) -> dict[str, object]:
    return {"estate_code": "", "estate_name": sample["name"], "county": sample["county"], "street": sample["street"],
            "community": sample["community"], "building": "1", "unit": "1", "room": "101", "floor": 1,
            "floor_area": 56.5, "owner_name": "张三", "owner_phone": "13800000000"}


def write_template(target, *, counties: list[Region] | None = None) -> None:
    """Write the template to a path or a binary file object. `counties` fill the county list
    (default: every active county of the province)."""
    if counties is None:
        counties = list(Region.objects.filter(level=RegionLevel.COUNTY, is_active=True).order_by("code"))
    workbook = xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_urls": False})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                "valign": "vcenter"})
    required = workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "text_wrap": True,
                                    "valign": "vcenter", "font_color": "#C00000"})
    example = workbook.add_format({"italic": True, "font_color": "#7F7F7F"})
    percent = workbook.add_format({"italic": True, "font_color": "#7F7F7F", "num_format": "0%"})

    sheet = workbook.add_worksheet(ESTATE_SHEET)
    building_sheet = workbook.add_worksheet(BUILDING_SHEET)
    household_sheet = workbook.add_worksheet(HOUSEHOLD_SHEET)
    notes = workbook.add_worksheet("填表说明")
    catalogue_sheet = workbook.add_worksheet("改造内容清单")
    lists = workbook.add_worksheet(LISTS_SHEET)

    # the lists that the validations point at
    list_columns = {
        "county": [c.name for c in counties] or ["西湖区"],
        "housing_type": list(HOUSING_LABELS.values()),
        "management_mode": list(MANAGEMENT_LABELS.values()),
        "yes_no": [YES, NO],
        "structure": list(STRUCTURE_LABELS.values()),
    }
    ranges = {}
    for col, (key, items) in enumerate(list_columns.items()):
        lists.write_string(0, col, key)
        for row, item in enumerate(items, start=1):
            lists.write_string(row, col, item)
        letter = xlsxwriter.utility.xl_col_to_name(col)
        ranges[key] = f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(items) + 1}"
    lists.hide()

    last = TEMPLATE_ROWS
    max_year = datetime.date.today().year
    for col, spec in enumerate(COLUMNS):
        label = f"{spec.header}*" if spec.required else spec.header
        sheet.write_string(0, col, label, required if spec.required else bold)
        sheet.set_column(col, col, 18 if spec.field in ("name", "address", "deficiencies") else 12)
        validation = _validation(spec.field, ranges, max_year)
        if validation:
            sheet.data_validation(1, col, last, col, validation)
    sheet.freeze_panes(1, 2)
    sheet.set_row(0, 32)
    sample = example_row(counties[0] if len(counties) == 1 else None)
    for col, spec in enumerate(COLUMNS):
        value = sample[spec.field]
        if spec.field == "willingness":
            sheet.write_number(1, col, value, percent)
        elif isinstance(value, int | float):
            sheet.write_number(1, col, value, example)
        elif value:
            sheet.write_string(1, col, value, example)
    for further, columns, values in ((building_sheet, BUILDING_COLUMNS, example_building(sample)),
                                     (household_sheet, HOUSEHOLD_COLUMNS, example_household(sample))):
        for col, spec in enumerate(columns):
            label = f"{spec.header}*" if spec.required else spec.header
            further.write_string(0, col, label, required if spec.required else bold)
            further.set_column(col, col, 18 if spec.field == "estate_name" else 12)
            validation = _further_validation(spec.field, ranges, max_year)
            if validation:
                further.data_validation(1, col, last, col, validation)
            value = values[spec.field]
            if isinstance(value, int | float):
                further.write_number(1, col, value, example)
            elif value:
                further.write_string(1, col, value, example)
        further.freeze_panes(1, 2)
        further.set_row(0, 32)

    notes.set_column(0, 0, 110)
    notes.write_string(0, 0, "城镇老旧小区调查摸底表 · 填表说明", bold)
    for row, text in enumerate(NOTES, start=1):
        notes.write_string(row, 0, f"{row}. {text}")

    catalogue_sheet.write_row(0, 0, ["类别", "项目", "也可写作"], bold)
    catalogue_sheet.set_column(0, 0, 10)
    catalogue_sheet.set_column(1, 1, 28)
    catalogue_sheet.set_column(2, 2, 60)
    for row, item in enumerate(CatalogueItem.objects.filter(is_active=True).order_by("sort", "code"), start=1):
        catalogue_sheet.write_string(row, 0, CLASS_LABELS.get(item.content_class, item.content_class))
        catalogue_sheet.write_string(row, 1, item.name)
        catalogue_sheet.write_string(row, 2, "、".join(item.synonyms or []))
    workbook.close()


def _validation(field: str, ranges: dict, max_year: int) -> dict | None:
    if field == "county":
        return {"validate": "list", "source": ranges["county"], "error_type": "warning",
                "input_title": "县（市、区）", "input_message": _("Pick from the list or type a name or code")}
    if field in ("housing_type", "management_mode"):
        return {"validate": "list", "source": ranges[field]}
    if field in ("in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard"):
        return {"validate": "list", "source": ranges["yes_no"], "error_type": "warning"}
    if field == "built_year":
        return {"validate": "integer", "criteria": "between", "minimum": MIN_BUILT_YEAR, "maximum": max_year,
                "error_type": "warning", "input_message": "1995、1995年、1995-06-01"}
    if field in ("buildings", "households", "buildings_with_elevator", "max_floors"):
        return {"validate": "integer", "criteria": ">=", "value": 0, "error_type": "warning"}
    if field == "floor_area":
        return {"validate": "decimal", "criteria": ">=", "value": 0, "error_type": "warning"}
    if field == "willingness":
        return {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100, "error_type": "warning",
                "input_message": "85%、85 或 0.85"}
    if field == "longitude":
        return {"validate": "decimal", "criteria": "between", "minimum": 73, "maximum": 136, "error_type": "warning"}
    if field == "latitude":
        return {"validate": "decimal", "criteria": "between", "minimum": 3, "maximum": 54, "error_type": "warning"}
    if field == "deficiencies":
        return {"validate": "any", "input_title": "主要问题", "input_message": "见“改造内容清单”，多项用、分隔"}
    return None


def _further_validation(field: str, ranges: dict, max_year: int) -> dict | None:
    """Validations of the building and household sheets (the estate columns as in the estate sheet)."""
    if field == "has_elevator":
        return {"validate": "list", "source": ranges["yes_no"], "error_type": "warning"}
    if field == "structure":
        return {"validate": "list", "source": ranges["structure"], "error_type": "warning"}
    if field in ("floors", "units", "households"):
        return {"validate": "integer", "criteria": ">=", "value": 0, "error_type": "warning"}
    if field == "floor":
        return {"validate": "integer", "criteria": "between", "minimum": -5, "maximum": 200, "error_type": "warning"}
    if field == "floor_area":
        return {"validate": "decimal", "criteria": ">=", "value": 0, "error_type": "warning"}
    if field == "owner_phone":
        return {"validate": "any", "input_title": "联系电话", "input_message": "13812345678、0571-87654321"}
    if field in ("county", "built_year"):
        return _validation(field, ranges, max_year)
    return None


def template_bytes(*, counties: list[Region] | None = None) -> bytes:
    buffer = io.BytesIO()
    write_template(buffer, counties=counties)
    return buffer.getvalue()
