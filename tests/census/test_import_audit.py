"""Every estate a census import creates or changes has an audit entry whose `after` is the estate as
stored: on SQLite SQL writes the new estates' entries, on PostgreSQL Python does; both must say the same."""

from decimal import Decimal

import pytest

from gaizao.core.models import AuditAction, AuditEntry
from gaizao.estates.census.importer import VALUE_FIELDS, census_import
from gaizao.estates.models import Estate

from .sheets import good_row, xlsx_bytes

pytestmark = pytest.mark.django_db


def stored(estate: Estate) -> dict:
    values = {}
    for name in VALUE_FIELDS:
        value = getattr(estate, name)
        values[name] = str(value) if isinstance(value, Decimal) else value
    values["region"] = estate.region.code
    values["deficiencies"] = list(estate.deficiencies.order_by("id").values_list("code", flat=True))
    return values


def test_created_estates_are_audited_as_stored():
    rows = [
        good_row(1),
        good_row(2, **{"建筑面积（㎡）": 30, "居民改造意愿（%）": 1, "经度": 120.5, "纬度": 30.25,
                       "是否纳入棚改计划": "是", "是否有多孔预制楼板": "√", "主要问题": "",
                       "地址": '引号"与\\反斜杠\t制表'}),
        good_row(3, **{"建筑面积（㎡）": "", "居民改造意愿（%）": "", "经度": "", "纬度": "", "社区": "",
                       "最高层数": "", "已有电梯栋数": "", "房屋性质": "", "管理方式": ""}),
        good_row(4, **{"主要问题": "加装电梯、供水设施、排水设施", "建筑面积（㎡）": 0.125, "小区名称": "名称 with 𠀀 and é"}),
    ]
    report = census_import(actor=None, data=xlsx_bytes(rows), filename="audit.xlsx", dry_run=False)
    assert report["created"] == 4 and report["error_count"] == 0
    entries = AuditEntry.objects.filter(verb="estates.census_import", action=AuditAction.CREATE)
    assert entries.count() == 4
    for estate in Estate.objects.all():
        entry = entries.get(object_id=str(estate.pk))
        assert entry.after == stored(estate), estate.name
        assert entry.before is None
        assert (entry.object_repr, entry.region_code, entry.cause) == (
            estate.name, estate.region.code, "census import audit.xlsx")
        assert entry.object_type.model == "estate"
    odd = Estate.objects.get(name="测试小区2")
    assert entries.get(object_id=str(odd.pk)).after["floor_area"] == "30.00"
    assert entries.get(object_id=str(odd.pk)).after["in_shantytown_plan"] is True


def test_changed_estates_are_audited_before_and_after():
    census_import(actor=None, data=xlsx_bytes([good_row(1)]), filename="a.xlsx", dry_run=False)
    estate = Estate.objects.get()
    before = stored(estate)
    census_import(actor=None, data=xlsx_bytes([good_row(1, **{"户数": 999, "主要问题": "加装电梯"})]),
                  filename="b.xlsx", dry_run=False)
    estate.refresh_from_db()
    entry = AuditEntry.objects.get(verb="estates.census_import", action=AuditAction.UPDATE)
    assert entry.before == before and entry.after == stored(estate)
    assert entry.after["households"] == 999
