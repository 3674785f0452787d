"""The demo generator: realistic, reproducible, nested scales, idempotent loading."""

import statistics

import pytest

from gaizao.core.models import AuditEntry
from gaizao.estates import geo
from gaizao.estates.generator import DEMO_COMMUNITY, demo_estates_ensure, generate_rows
from gaizao.estates.models import Building, Estate, Household, RenovationProject

pytestmark = pytest.mark.django_db


def test_rows_follow_the_brief_and_nest(zhejiang):
    small = generate_rows("small")
    province = generate_rows("province")
    assert 500 <= len(small) <= 700
    assert 11_500 <= len(province) <= 12_500
    assert generate_rows("small") == small  # reproducible
    keys = {(r["region"], r["name"]) for r in province}
    assert all((r["region"], r["name"]) in keys for r in small)  # small ⊂ province
    assert len(keys) == len(province)  # names unique within a community
    assert 10 <= statistics.mean(r["buildings"] for r in province) <= 14
    assert 260 <= statistics.mean(r["households"] for r in province) <= 340
    per_household = sum(float(r["floor_area"]) for r in province) / sum(r["households"] for r in province)
    assert 72 <= per_household <= 88
    years = [r["built_year"] for r in province]
    assert sum(1975 <= y <= 2005 for y in years) / len(years) > 0.85
    types = [r["housing_type"] for r in province]
    assert (types.count("reformed_public") + types.count("public")) / len(types) > 0.45
    assert len({r["region"][:6] for r in province}) == 90  # every county
    inside = sum(geo.point_in_county(_county_name(r["region"][:6]), float(r["longitude"]), float(r["latitude"]))
                 for r in province[:2000] if _county_name(r["region"][:6]) in geo.polygons_by_name())
    assert inside / 2000 > 0.8


_NAMES = {}


def _county_name(code):
    from gaizao.regions.models import Region

    if code not in _NAMES:
        _NAMES[code] = Region.objects.get(code=code).name
    return _NAMES[code]


def test_small_demo_loads_once_and_then_changes_nothing(zhejiang):
    first = demo_estates_ensure("small")
    assert first["created"] == Estate.objects.count() > 500
    assert first["pool"]["admitted"] > 0 and first["buildings"] > 0 and first["projects"] == 1
    assert Household.objects.exists() and Building.objects.filter(estate__region__code=DEMO_COMMUNITY).exists()
    audit_rows = AuditEntry.objects.count()
    statuses = list(Estate.objects.order_by("pk").values_list("status", "county_rank"))
    second = demo_estates_ensure("small")
    assert (second["created"], second["updated"]) == (0, 0)
    assert second["pool"] == {"admitted": 0, "deferred": 0, "dropped": 0}
    assert second["buildings"] == 0 and second["projects"] == 0
    assert AuditEntry.objects.count() == audit_rows
    assert list(Estate.objects.order_by("pk").values_list("status", "county_rank")) == statuses
    assert RenovationProject.objects.count() == 1
