"""The interface's Chinese words for housing types and management modes are the census template's and the
domain's (单位自管房, 专业物业, 准物业, 业主自治, 无); the census import takes those and the interface's old wordings."""

import pytest
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.estates.census.columns import HOUSING_LABELS, MANAGEMENT_LABELS
from gaizao.estates.census.importer import census_import
from gaizao.estates.models import HousingType, ManagementMode

from ..census.sheets import csv_bytes, good_row
from ..conftest import make_user, page_client

pytestmark = pytest.mark.django_db


def test_the_interface_says_what_the_census_template_says():
    with translation.override("zh-hans"):
        assert str(HousingType.WORK_UNIT.label) == HOUSING_LABELS[HousingType.WORK_UNIT] == "单位自管房"
        for mode in ManagementMode:
            assert str(mode.label) == MANAGEMENT_LABELS[mode], mode


def test_the_list_filters_use_those_words(zhejiang):
    html = page_client(make_user(Role.COUNTY_OFFICIAL, username="xihu-o")).get("/estates/").content.decode()
    for word in ("单位自管房", "专业物业", "准物业", "业主自治"):
        assert word in html
    for old in ("单位自建房", "专业物业管理", "业主自治管理", "准物业服务"):
        assert old not in html


@pytest.mark.parametrize("housing, management", [
    ("单位自管房", "专业物业"), ("单位自管房", "业主自治"), ("房改房", "准物业"), ("房改房", "无"),
    ("房改房", "专业物业管理"), ("房改房", "业主自治管理"), ("房改房", "准物业服务"),  # the interface's old words
    ("单位自建房", "无"),
])
def test_the_census_import_takes_both_wordings(zhejiang, housing, management):
    report = census_import(data=csv_bytes([good_row(1, **{"房屋性质": housing, "管理方式": management})]),
                           actor=None, filename="x.csv", dry_run=True)
    assert report["error_count"] == 0, report.get("errors")
