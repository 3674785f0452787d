"""The census sheet's columns: one list that the template, the importer and the exporter share,
so an export re-imports unchanged."""

from __future__ import annotations

from gaizao.estates.models import HousingType, ManagementMode

from .reader import ColumnSpec, HeaderIndex
from .values import choice_key

ESTATE_SHEET = "小区"

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("code", "小区编码", ("编码", "小区代码", "小区编号", "编号", "代码")),
    ColumnSpec("name", "小区名称", ("小区名", "名称", "小区", "项目名称", "小区(项目)名称"), required=True),
    ColumnSpec("county", "县（市、区）", ("县市区", "县(区)", "区县", "县区", "县", "所属县(市、区)", "所属区县", "县(市区)",
                                      "区(县、市)", "区县市", "县(市)"), required=True),
    ColumnSpec("street", "街道（乡镇）", ("街道", "乡镇", "街道乡镇", "镇街", "乡镇街道", "所属街道", "街道(镇)", "街镇",
                                      "乡镇(街道)"), required=True),
    ColumnSpec("community", "社区", ("社区(居委会)", "居委会", "所属社区", "社区名称", "社区居委会", "村社区")),
    ColumnSpec("address", "地址", ("小区地址", "详细地址", "坐落", "坐落位置", "位置", "地点")),
    ColumnSpec("built_year", "建成年份", ("建成年代", "建成时间", "竣工年份", "竣工时间", "建设年代", "建成年度", "建造年代",
                                      "建设年份", "建成年月", "年代"), required=True),
    ColumnSpec("buildings", "楼栋数", ("栋数", "幢数", "楼幢数", "楼栋数量", "楼栋", "楼幢", "总栋数", "楼栋数(幢)")),
    ColumnSpec("households", "户数", ("住户数", "总户数", "居民户数", "户数(户)", "住户", "套数")),
    ColumnSpec("floor_area", "建筑面积（㎡）", ("建筑面积", "总建筑面积", "建筑面积(平方米)", "面积", "建筑面积(万㎡)")),
    ColumnSpec("housing_type", "房屋性质", ("房屋类型", "产权性质", "住房性质", "房屋产权性质", "性质")),
    ColumnSpec("in_shantytown_plan", "是否纳入棚改计划", ("纳入棚改计划", "棚改", "是否棚改", "是否纳入棚户区改造计划",
                                                  "棚改计划")),
    ColumnSpec("in_historic_district", "是否位于历史文化街区", ("历史文化街区", "是否历史文化街区", "位于历史文化街区")),
    ColumnSpec("has_precast_slab_hazard", "是否有多孔预制楼板", ("多孔预制楼板", "预制楼板", "预制板", "是否多孔预制板",
                                                       "有无多孔预制楼板")),
    ColumnSpec("management_mode", "管理方式", ("物业管理方式", "管理模式", "物业管理", "物业管理模式", "物业")),
    ColumnSpec("max_floors", "最高层数", ("层数", "最高楼层", "楼层数", "最高层")),
    ColumnSpec("buildings_with_elevator", "已有电梯栋数", ("电梯栋数", "有电梯楼栋数", "已有电梯", "有电梯栋数",
                                                   "已装电梯栋数")),
    ColumnSpec("willingness", "居民改造意愿（%）", ("居民改造意愿", "改造意愿", "意愿比例", "居民意愿", "改造意愿(%)",
                                              "居民同意率", "同意率")),
    ColumnSpec("deficiencies", "主要问题", ("存在问题", "主要短板", "问题", "短板", "存在的主要问题", "改造需求",
                                        "主要问题及短板")),
    ColumnSpec("longitude", "经度", ("lng", "lon", "longitude")),
    ColumnSpec("latitude", "纬度", ("lat", "latitude")),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
FIELDS = tuple(c.field for c in COLUMNS)
HEADER_INDEX = HeaderIndex(COLUMNS)

# Chinese labels first: the template's lists and the exporter write these.
HOUSING_LABELS = {
    HousingType.REFORMED_PUBLIC: "房改房",
    HousingType.PUBLIC: "公房",
    HousingType.COMMODITY: "商品房",
    HousingType.WORK_UNIT: "单位自管房",
    HousingType.MIXED: "混合",
    HousingType.OTHER: "其他",
}
HOUSING_SYNONYMS = {
    HousingType.REFORMED_PUBLIC: ("房改", "房改房屋", "已购公房", "售后公房", "房改售房"),
    HousingType.PUBLIC: ("公有住房", "直管公房", "公有房屋", "公租房", "直管公房"),
    HousingType.COMMODITY: ("商品住宅", "商品房屋", "商品"),
    HousingType.WORK_UNIT: ("单位房", "单位自管", "单位自管公房", "自管公房", "单位宿舍", "单位自建房"),
    HousingType.MIXED: ("混合产权", "混合型", "多种"),
    HousingType.OTHER: ("其它",),
}
MANAGEMENT_LABELS = {
    ManagementMode.PROFESSIONAL: "专业物业",
    ManagementMode.QUASI: "准物业",
    ManagementMode.OWNERS: "业主自治",
    ManagementMode.NONE: "无",
}
MANAGEMENT_SYNONYMS = {
    ManagementMode.PROFESSIONAL: ("物业公司", "专业化物业", "专业物业管理", "物业管理公司", "市场化物业"),
    ManagementMode.QUASI: ("准物业管理", "社区托管", "街道托管", "托管", "准物业服务"),
    ManagementMode.OWNERS: ("自治", "业主自管", "居民自治", "自管", "业主自治管理"),
    ManagementMode.NONE: ("无物业", "没有", "无管理", "否"),
}


def _choice_map(labels: dict, synonyms: dict) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value, label in labels.items():
        for spelling in (label, value, str(value.label), *synonyms.get(value, ())):
            mapping.setdefault(choice_key(spelling), str(value))
    return mapping


HOUSING_CHOICES = _choice_map(HOUSING_LABELS, HOUSING_SYNONYMS)
MANAGEMENT_CHOICES = _choice_map(MANAGEMENT_LABELS, MANAGEMENT_SYNONYMS)

YES, NO = "是", "否"

# Bounds (the model's validators, and what a census can sensibly hold)
BOUNDS = {
    "buildings": (0, 2000),
    "households": (0, 100000),
    "max_floors": (1, 200),
    "buildings_with_elevator": (0, 2000),
    "floor_area": (0, 100_000_000),
    "longitude": (73, 136),
    "latitude": (3, 54),
}
MIN_BUILT_YEAR = 1900
