"""The county layer for the map (no tile server) and points inside counties.

`data/zhejiang_counties_2017.geojson` names counties as of 2017, so polygons are matched to regions
by name through a small alias table. Some of today's counties have no polygon of their own: their
estates lie inside the polygon of the 2017 county they were carved from.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path

GEOJSON_PATH = Path(__file__).resolve().parent.parent / "data" / "zhejiang_counties_2017.geojson"

# 2017 name in the file → today's region name
ALIASES = {"临安市": "临安区", "玉环县": "玉环市"}
# today's county without a polygon → the 2017 county whose polygon contains it
CONTAINED_IN = {"龙港市": "苍南县", "临平区": "余杭区", "钱塘区": "江干区"}


@lru_cache(maxsize=1)
def _features() -> list[dict]:
    with open(GEOJSON_PATH, encoding="utf-8") as fh:
        return json.load(fh)["features"]


def _rings(geometry: dict) -> list[list[list[list[float]]]]:
    """Polygons as lists of rings (outer first) whatever the geometry type."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    return []


def _in_ring(x: float, y: float, ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / ((yj - yi) or 1e-12) + xi:
            inside = not inside
        j = i
    return inside


def _in_polygons(x: float, y: float, polygons) -> bool:
    for rings in polygons:
        if rings and _in_ring(x, y, rings[0]) and not any(_in_ring(x, y, hole) for hole in rings[1:]):
            return True
    return False


@lru_cache(maxsize=1)
def polygons_by_name() -> dict[str, tuple[list, tuple[float, float, float, float]]]:
    """Today's county name → (polygons, bbox) for every county the file covers (aliases applied)."""
    out = {}
    for feature in _features():
        name = feature["properties"].get("name", "")
        polygons = _rings(feature["geometry"])
        xs = [p[0] for rings in polygons for p in rings[0]]
        ys = [p[1] for rings in polygons for p in rings[0]]
        if not xs:
            continue
        out[ALIASES.get(name, name)] = (polygons, (min(xs), min(ys), max(xs), max(ys)))
    return out


def polygon_for(county_name: str):
    shapes = polygons_by_name()
    return shapes.get(county_name) or shapes.get(CONTAINED_IN.get(county_name, ""))


def random_point_in(county_name: str, rng: random.Random, tries: int = 200) -> tuple[float, float] | None:
    """A point inside the county (or the 2017 county containing it), by rejection sampling."""
    shape = polygon_for(county_name)
    if shape is None:
        return None
    polygons, (x0, y0, x1, y1) = shape
    for _attempt in range(tries):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if _in_polygons(x, y, polygons):
            return x, y
    return (x0 + x1) / 2, (y0 + y1) / 2


def point_in_county(county_name: str, x: float, y: float) -> bool:
    shape = polygon_for(county_name)
    return shape is not None and _in_polygons(x, y, shape[0])


def county_layer(region_codes_by_name: dict[str, str]) -> dict:
    """The GeoJSON with each feature's `code` (today's region code, or a retired one) and today's name."""
    features = []
    for feature in _features():
        name = feature["properties"].get("name", "")
        today = ALIASES.get(name, name)
        features.append({
            "type": "Feature",
            "geometry": feature["geometry"],
            "properties": {"name": today, "name_2017": name, "city": feature["properties"].get("city", ""),
                           "code": region_codes_by_name.get(today, "")},
        })
    return {"type": "FeatureCollection", "features": features}
