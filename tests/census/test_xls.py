"""Legacy .xls (BIFF8, Excel 97-2003) census sheets, written by xlwt and read by calamine: values land
as meant, and a bad row is named by the row number Excel shows."""

import datetime
import io
from decimal import Decimal

import pytest
import xlwt
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.core.jobs import execute_job
from gaizao.core.models import JobStatus
from gaizao.estates.census.importer import census_import
from gaizao.estates.models import Estate, HousingType, ManagementMode

from ..conftest import make_user
from .sheets import HEADERS, good_row

pytestmark = pytest.mark.django_db

TITLE = "西湖区城镇老旧小区调查摸底表"
NOTE = "单位：户、㎡；填报日期：2024年3月"


def xls_bytes(rows: list[dict], *, title: str | None = TITLE, notes: list[str] = (NOTE,)) -> bytes:
    """A real .xls: a merged title row and note rows, the census header, then rows by header.
    Dates are written as Excel dates (a number with a date format), numbers as numbers, the rest as text."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("小区")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    r = 0
    if title:
        sheet.write_merge(0, 0, 0, 7, title)
        r = 1
    for note in notes:
        sheet.write(r, 0, note)
        r += 1
    for c, header in enumerate(HEADERS):
        sheet.write(r, c, header)
    for row in rows:
        r += 1
        for c, header in enumerate(HEADERS):
            value = row.get(header, "")
            if value is None or value == "":
                continue
            if isinstance(value, datetime.date):
                sheet.write(r, c, value, date_style)
            else:
                sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xls_rows_land_with_their_values():
    rows = [
        good_row(1, **{"小区名称": "翠苑一区", "街道（乡镇）": "文新街道", "社区": "", "建成年份": datetime.date(1994, 6, 1),
                       "户数": "1,200", "楼栋数": "12", "建筑面积（㎡）": "24,000.5", "居民改造意愿（%）": 0.9,
                       "主要问题": "供水设施、排水设施", "管理方式": "准物业"}),
        good_row(2, **{"小区名称": "石灰桥新村", "建成年份": 1988, "户数": 450, "房屋性质": "单位房", "管理方式": "无物业",
                       "主要问题": "电梯;屋顶"}),
        good_row(3, **{"小区名称": "示例：幸福小区"}),  # the template's example row is left out
    ]
    data = xls_bytes(rows)
    assert data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file, as Excel 97-2003 writes it
    report = census_import(actor=None, data=data, filename="x.xls", dry_run=False)
    assert report["kind"] == "xls" and report["committed"]
    assert (report["created"], report["error_count"], report["examples"], report["header_row"]) == (2, 0, 1, 3), \
        report["errors"]
    one = Estate.objects.get(name="翠苑一区")
    assert (one.built_year, one.households, one.buildings) == (1994, 1200, 12)
    assert one.floor_area == Decimal("24000.50") and one.willingness == Decimal("90")
    assert one.region.code == "330106013" and one.management_mode == ManagementMode.QUASI
    assert sorted(one.deficiencies.values_list("code", flat=True)) == ["drainage", "water_supply"]
    two = Estate.objects.get(name="石灰桥新村")
    assert (two.built_year, two.households, two.buildings) == (1988, 450, 10)
    assert two.region.code == "330106004053" and two.county.code == "330106"
    assert two.housing_type == HousingType.WORK_UNIT and two.management_mode == ManagementMode.NONE
    assert sorted(two.deficiencies.values_list("code", flat=True)) == ["elevators", "roof"]
    assert (two.longitude, two.latitude) == (Decimal("120.123400"), Decimal("30.256700"))
    # the same file again changes nothing
    again = census_import(actor=None, data=data, filename="x.xls", dry_run=False)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


@translation.override("en")
def test_xls_bad_row_is_named_by_the_row_excel_shows():
    rows = [good_row(1), good_row(2, **{"建成年份": "19x5"}), good_row(3, **{"户数": "很多"})]
    with pytest.raises(ServiceError) as exc:
        census_import(actor=None, data=xls_bytes(rows), filename="bad.xls", dry_run=False)
    assert exc.value.code == "census_rows_invalid" and Estate.objects.count() == 0
    errors = {(e["row"], e["column"]): e for e in exc.value.fields["errors"]}
    # title in row 1, note in row 2, header in row 3: data rows 2 and 3 are Excel rows 5 and 6
    assert set(errors) == {(5, "建成年份"), (6, "户数")}, errors
    year = errors[(5, "建成年份")]
    assert (year["sheet"], year["cell"], year["value"], year["reason"]) == ("小区", "G5", "19x5", "not a year")
    assert errors[(6, "户数")]["cell"] == "I6"


def test_xls_upload_runs_as_a_job(django_capture_on_commit_callbacks):
    from gaizao.estates.census.jobs import census_import_start

    admin = make_user(Role.PROVINCE_ADMIN, username="admin-xls")
    with django_capture_on_commit_callbacks(execute=False):
        job = census_import_start(actor=admin, data=xls_bytes([good_row(1), good_row(2)], title=None, notes=[]),
                                  filename="旧表.xls", dry_run=False)
    assert job.params["kind"] == "xls" and job.params["path"].endswith(".xls")
    assert execute_job(job) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.result["created"], job.result["header_row"]) == (2, 1)
    assert set(Estate.objects.values_list("name", flat=True)) == {"测试小区1", "测试小区2"}
