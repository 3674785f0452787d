"""Estates on real regions for tests, made through the services (no hand-built rows)."""

import importlib

from gaizao.estates.services import estate_create, rules_defaults_setup
from gaizao.regions.models import Region


def community_in(code: str, avoid: tuple[str, ...] = ()) -> Region:
    """The first active community inside `code` that lies in none of `avoid` (deeper target regions)."""
    qs = Region.objects.filter(level="community", code__startswith=code, is_active=True)
    for other in avoid:
        if other != code and other.startswith(code):
            qs = qs.exclude(code__startswith=other)
    return qs.order_by("code").first()


def catalogue_ensure() -> None:
    """Browser tests flush the database (seeded rows included): seed the catalogue again if it is gone."""
    from django.apps import apps

    from gaizao.estates.models import CatalogueItem

    if not CatalogueItem.objects.exists():
        importlib.import_module("gaizao.estates.migrations.0002_seed_catalogue").seed(apps, None)


def make_estate(region: Region | str, name: str = "测试小区", **fields):
    catalogue_ensure()
    rules_defaults_setup(actor=None)
    if isinstance(region, str):
        region = Region.objects.get(code=region)
    values = {"built_year": 1985, "housing_type": "public", "buildings": 6, "households": 150,
              "floor_area": "12000", "willingness": "80", "deficiencies": ["roof", "water_supply"],
              "longitude": "120.130000", "latitude": "30.270000"}
    values.update(fields)
    return estate_create(actor=None, region=region, name=name, **values)
