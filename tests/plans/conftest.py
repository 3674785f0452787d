"""Fixtures for the plans tests: pool estates on real regions, plans, users per role."""

import itertools
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.estates.models import CatalogueItem, Eligibility, Estate, EstateStatus, RenovationProject
from gaizao.plans import services
from gaizao.plans.models import PlanPeriod
from gaizao.regions.models import Region, RegionLevel

from ..conftest import make_user

_counter = itertools.count(1)


def pool_estate(county_code: str, *, households: int = 300, floor_area="24000", priority="50",
                classes=("basic",), pool_year: int | None = 2020, status=EstateStatus.POOLED, name: str | None = None,
                project=None) -> Estate:
    """A pooled estate on the county's first street (real regions, real rows)."""
    street = Region.objects.filter(code__startswith=county_code, level=RegionLevel.STREET).order_by("code").first()
    county = Region.objects.get(code=county_code)
    n = next(_counter)
    estate = Estate.objects.create(
        code=f"T{county_code}{n:05d}", name=name or f"测试小区{n}", region=street, county=county,
        households=households, floor_area=None if floor_area is None else Decimal(floor_area), built_year=1990,
        status=status, pool_year=pool_year if status == EstateStatus.POOLED else None,
        eligibility=Eligibility.ELIGIBLE, priority_score=Decimal(priority), project=project)
    items = [CatalogueItem.objects.filter(content_class=c).order_by("sort").first() for c in classes]
    estate.deficiencies.set([i for i in items if i is not None])
    return estate


def merged_project(code: str, name: str, street: Region, pool_years=(2020, 2020), surveyed: int = 0):
    """A merged project (片区) on `street`: a pool estate per year of `pool_years`, and `surveyed` estates not
    yet in the pool."""
    project = RenovationProject.objects.create(code=code, name=name, region=street, county=street.parent)
    for year in pool_years:
        pool_estate(street.code[:6], pool_year=year, project=project)
    for _ in range(surveyed):
        pool_estate(street.code[:6], status=EstateStatus.SURVEYED, project=project)
    return project


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language (Chinese): a page request of an earlier test leaves its
    language active in the thread (the language middleware activates it and does not reset it), so a test
    calling a service after an English page read English words."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def period(zhejiang):
    return services.period_default()


@pytest.fixture
def people(zhejiang):
    """One user per role at 西湖区 / 杭州市 / 浙江省, plus a sibling county and city."""
    return {
        "county": make_user(Role.COUNTY_OFFICIAL, "p-xihu", "330106"),
        "sibling_county": make_user(Role.COUNTY_OFFICIAL, "p-gongshu", "330105"),
        "city": make_user(Role.CITY_OFFICIAL, "p-hangzhou", "3301"),
        "other_city": make_user(Role.CITY_OFFICIAL, "p-ningbo", "3302"),
        "province": make_user(Role.PROVINCE_ADMIN, "p-admin", "33"),
        "street": make_user(Role.STREET_OFFICIAL, "p-street", "330106004"),
        "reviewer": make_user(Role.DEPARTMENT_REVIEWER, "p-fgj", "330106"),
    }


@pytest.fixture
def xihu(zhejiang):
    return Region.objects.get(code="330106")


@pytest.fixture
def draft_plan(people, xihu, period):
    """A draft plan for 西湖区 with three pool estates in 2020, 2021, 2022."""
    plan = services.plan_create(actor=people["county"], county=xihu, period=period)
    for year in (2020, 2021, 2022):
        services.plan_item_add(actor=people["county"], plan=plan, estate=pool_estate("330106"), year=year)
    return plan


__all__ = ["merged_project", "pool_estate", "PlanPeriod"]
