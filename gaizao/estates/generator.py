"""Realistic demo estates on real community regions, with the distributions of the domain brief.

About 12 buildings and 300 households per estate, about 80 m² per household, built mostly
1975-2005, housing types weighted to 房改房 and 公房, points inside the real county outline.

Every attribute of the i-th estate of a community comes from a random generator seeded by
(community code, i), so a run is reproducible and a bigger scale contains the smaller one:
`small` ⊂ `province` ⊂ `national`. `generate_rows(scale)` gives plain row dicts in the format of
`services.estates_upsert` (which a census writer can also put in a spreadsheet);
`demo_estates_ensure(scale)` loads them and adds pool states, buildings and a merged project,
and changes nothing when run again.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gaizao.regions.models import Region, RegionLevel

from . import geo
from .models import CatalogueItem, ContentClass, Eligibility, Estate, EstateStatus, RenovationProject

SCALES = ("small", "province", "national")
SMALL_FOCUS = ("330106", "330105", "330203")  # 西湖区, 拱墅区, 海曙区 (the demo users' counties)
DEMO_COMMUNITY = "330106004053"
PROVINCE_TARGET = 12_000
NATIONAL_TARGET = 220_000
CAUSE = "demo data"

HOUSING_WEIGHTS = [("reformed_public", 40), ("public", 15), ("commodity", 20), ("work_unit", 12), ("mixed", 8),
                   ("other", 5)]
MANAGEMENT_WEIGHTS = [("none", 35), ("quasi", 25), ("owners", 15), ("professional", 25)]
SUFFIXES = ["新村", "小区", "花园", "苑", "公寓", "住宅区", "家园", "坊", "里", "大院"]
WORK_UNITS = ["机械厂", "丝绸厂", "供电局", "化肥厂", "纺织厂", "人民医院", "粮食局", "水泥厂", "汽运公司", "自来水公司",
              "邮电局", "印染厂", "钢铁厂", "农机厂", "商业局", "轴承厂"]
ORDINALS = "一二三四五六七八九十"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华国平志强海燕文红梅玉兰金凤"


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def _communities() -> list[dict]:
    rows = Region.objects.filter(level=RegionLevel.COMMUNITY, is_active=True).order_by("code").values(
        "code", "name", "parent__name", "parent__code")
    counties = dict(Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", "name"))
    out = []
    for row in rows:
        out.append({"code": row["code"], "name": row["name"], "street": row["parent__name"],
                    "county": row["code"][:6], "county_name": counties.get(row["code"][:6], "")})
    return out


def counts_for(scale: str, communities: list[dict]) -> dict[str, int]:
    """How many estates each community gets at a scale (monotonic: a bigger scale never has fewer)."""
    if scale not in SCALES:
        raise ValueError(scale)
    small: dict[str, int] = {}
    first_of_county: set[str] = set()
    for c in communities:
        if c["county"] in SMALL_FOCUS:
            small[c["code"]] = 1
        elif c["county"] not in first_of_county:
            first_of_county.add(c["county"])
            small[c["code"]] = 1
    small[DEMO_COMMUNITY] = 5
    if scale == "small":
        return {code: n for code, n in small.items() if n}
    n = len(communities)

    def spread(target: int) -> dict[str, int]:
        base, extra = divmod(target, n)
        ranked = sorted(communities, key=lambda c: _seed("extra", c["code"]))
        bonus = {c["code"] for c in ranked[:extra]}
        return {c["code"]: base + (1 if c["code"] in bonus else 0) for c in communities}

    province = spread(PROVINCE_TARGET)
    province = {code: max(province.get(code, 0), small.get(code, 0)) for code in province}
    if scale == "province":
        return province
    national = spread(NATIONAL_TARGET)
    return {code: max(national.get(code, 0), province.get(code, 0)) for code in national}


def _estate_row(community: dict, i: int, items_by_class: dict[str, list[str]], used_names: set[str],
                centre: tuple[float, float] | None) -> dict:
    rng = random.Random(_seed(community["code"], i))
    housing = _weighted(rng, HOUSING_WEIGHTS)
    if housing == "commodity":
        built = round(rng.triangular(1988, 2008, 1999))
    else:
        built = round(rng.triangular(1968, 2005, 1990))
    buildings = max(1, min(80, round(rng.lognormvariate(math.log(10.5), 0.5))))
    households = max(buildings * 4, round(buildings * rng.gauss(25, 6)))
    area = Decimal(str(round(households * max(35.0, rng.gauss(80, 12)), 2)))
    r = rng.random()
    if r < 0.08:
        floors = rng.randint(2, 3)
    elif r < 0.83:
        floors = rng.randint(4, 7)
    elif r < 0.90:
        floors = rng.randint(8, 11)
    else:
        floors = rng.randint(12, 24)
    if floors >= 8:
        with_elevator = buildings
    elif floors >= 4 and rng.random() < 0.15:
        with_elevator = rng.randint(1, max(1, buildings // 3))
    else:
        with_elevator = 0
    base = community["name"]
    for tail in ("社区居民委员会", "居民委员会", "社区居委会", "社区", "居委会", "村"):
        if base.endswith(tail) and len(base) > len(tail):
            base = base[: -len(tail)]
            break
    if housing == "work_unit":
        name = f"{base}{rng.choice(WORK_UNITS)}宿舍"
    else:
        name = f"{base}{rng.choice(SUFFIXES)}"
    k = 1
    unique = name
    while unique in used_names:
        k += 1
        unique = f"{name}{ORDINALS[k - 1] if k <= 10 else k}{'期' if k <= 10 else '区'}"
    used_names.add(unique)
    older = built < 1990
    deficiencies = rng.sample(items_by_class[ContentClass.BASIC],
                              min(len(items_by_class[ContentClass.BASIC]), rng.randint(1, 5) + (2 if older else 0)))
    deficiencies += rng.sample(items_by_class[ContentClass.IMPROVEMENT],
                               min(len(items_by_class[ContentClass.IMPROVEMENT]), rng.randint(0, 5)))
    deficiencies += rng.sample(items_by_class[ContentClass.ENHANCEMENT],
                               min(len(items_by_class[ContentClass.ENHANCEMENT]), rng.randint(0, 3)))
    if floors >= 4 and with_elevator < buildings and "elevators" not in deficiencies and rng.random() < 0.6:
        deficiencies.append("elevators")
    willingness = None if rng.random() < 0.1 else Decimal(str(round(min(100.0, max(10.0, rng.gauss(74, 15))), 1)))
    lon = lat = None
    if centre is not None:
        for _attempt in range(5):
            x, y = centre[0] + rng.gauss(0, 0.004), centre[1] + rng.gauss(0, 0.004)
            if geo.point_in_county(community["county_name"], x, y) or geo.polygon_for(
                    community["county_name"]) is None:
                break
        else:
            x, y = centre
        lon, lat = Decimal(f"{x:.6f}"), Decimal(f"{y:.6f}")
    road = f"{base[:2]}{rng.choice(['路', '街', '巷', '弄'])}"
    return {
        "name": unique,
        "region": community["code"],
        "address": f"{community['street']}{road}{rng.randint(1, 300)}号",
        "built_year": built,
        "buildings": buildings,
        "households": households,
        "floor_area": area,
        "housing_type": housing,
        "in_shantytown_plan": rng.random() < 0.03,
        "in_historic_district": rng.random() < 0.02,
        "has_precast_slab_hazard": rng.random() < (0.10 if older else 0.02),
        "management_mode": _weighted(rng, MANAGEMENT_WEIGHTS),
        "max_floors": floors,
        "buildings_with_elevator": with_elevator,
        "willingness": willingness,
        "deficiencies": sorted(deficiencies),
        "longitude": lon,
        "latitude": lat,
    }


def generate_rows(scale: str = "small") -> list[dict]:
    """Plain row dicts (the `estates_upsert` format, without codes) for a scale; reproducible."""
    communities = _communities()
    counts = counts_for(scale, communities)
    items_by_class: dict[str, list[str]] = defaultdict(list)
    for code, cls in CatalogueItem.objects.filter(is_active=True).order_by("sort").values_list("code",
                                                                                               "content_class"):
        items_by_class[cls].append(code)
    rows = []
    for community in communities:
        n = counts.get(community["code"], 0)
        if not n:
            continue
        centre = geo.random_point_in(community["county_name"], random.Random(_seed("centre", community["code"])))
        used: set[str] = set()
        for i in range(n):
            row = _estate_row(community, i, items_by_class, used, centre)
            row["row"] = len(rows) + 1
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# loading


def demo_estates_ensure(scale: str = "small", *, progress=None) -> dict:
    """Load the scale's estates (idempotent), then pool states, buildings and a merged project once."""
    from .services import estates_upsert, rules_defaults_setup

    rules_defaults_setup(actor=None, cause=CAUSE)
    rows = generate_rows(scale)
    summary = estates_upsert(actor=None, rows=rows, cause=CAUSE, dry_run=False, progress=progress)
    summary.pop("outcomes", None)
    counties = sorted({r["region"][:6] for r in rows})
    summary["pool"] = _demo_pool(counties)
    summary["buildings"] = _demo_buildings(scale)
    summary["projects"] = _demo_project()
    summary["estates_total"] = Estate.objects.count()
    return summary


@transaction.atomic
def _demo_pool(county_codes: list[str]) -> dict:
    """Keep about 15% of each county's eligible estates in the pool (top ranks, over 2020-2022);
    defer two and drop two (residents unwilling) in a county that has none yet. Idempotent."""
    from django.db.models import Count

    from .services import estate_defer, estate_drop, estates_admit

    admitted = deferred = dropped = 0
    stats = defaultdict(lambda: defaultdict(int))
    for county, status, eligibility, n in (Estate.objects.filter(county__code__in=county_codes)
                                           .values_list("county__code", "status", "eligibility")
                                           .annotate(n=Count("pk"))):
        stats[county][status] += n
        if eligibility == Eligibility.ELIGIBLE:
            stats[county]["eligible"] += n
    for county in county_codes:
        want = stats[county]["eligible"] * 15 // 100 - stats[county][EstateStatus.POOLED]
        ranked = list(Estate.objects.filter(county__code=county, eligibility=Eligibility.ELIGIBLE,
                                            status=EstateStatus.SURVEYED)
                      .order_by("county_rank", "code").values_list("pk", flat=True))
        take = ranked[:max(0, want)]
        for year, ids in zip((2020, 2021, 2022), [take[i::3] for i in range(3)], strict=True):
            if ids:
                admitted += estates_admit(actor=None, estates=ids, year=year, cause=CAUSE)
        if not stats[county][EstateStatus.DEFERRED]:
            for pk in ranked[len(take):len(take) + 2]:
                # to next year: a deferral is never to a year already past
                estate_defer(actor=None, estate=Estate(pk=pk), reason="资金未落实，顺延至下一年度",
                             to_year=timezone.localdate().year + 1, cause=CAUSE)
                deferred += 1
        if not stats[county][EstateStatus.DROPPED]:
            unwilling = list(Estate.objects.filter(county__code=county, status=EstateStatus.SURVEYED)
                             .filter(Q(willingness__lt=40)).order_by("code").values_list("pk", flat=True)[:2])
            for pk in unwilling:
                estate_drop(actor=None, estate=Estate(pk=pk), reason="居民改造意愿不足", cause=CAUSE)
                dropped += 1
    return {"admitted": admitted, "deferred": deferred, "dropped": dropped}


def _demo_buildings(scale: str) -> int:
    """Buildings (and the households of the first two) for the demo community's estates that have none."""
    from .services import estate_buildings_add

    added = 0
    estates = Estate.objects.filter(region__code=DEMO_COMMUNITY, building_set__isnull=True).order_by("code")
    for estate in estates:
        rng = random.Random(_seed("buildings", estate.code))
        specs = []
        floors = estate.max_floors or 6
        for b in range(1, min(estate.buildings, 30) + 1):
            units = 2 if floors <= 7 else 1
            spec = {"number": f"{b}幢", "floors": floors, "units": units, "households": units * floors * 2,
                    "has_elevator": b <= estate.buildings_with_elevator, "structure": "brick_concrete"
                    if floors <= 7 else "frame", "built_year": estate.built_year}
            if b <= 2:
                spec["dwellings"] = [
                    {"unit": f"{u}单元", "room": f"{f}0{r}", "floor": f,
                     "floor_area": Decimal(str(round(rng.gauss(72, 10), 2))),
                     "owner_name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _n in range(rng.randint(1, 2))),
                     "owner_phone": f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"}
                    for u in range(1, units + 1) for f in range(1, floors + 1) for r in (1, 2)]
            specs.append(spec)
        added += estate_buildings_add(actor=None, estate=estate, buildings=specs, cause=CAUSE)
    return added


def _demo_project() -> int:
    """Merge the first two estates of the demo community into a project, once."""
    from .services import estates_merge

    if RenovationProject.objects.filter(region__code__startswith=DEMO_COMMUNITY[:9]).exists():
        return 0
    pair = list(Estate.objects.filter(region__code=DEMO_COMMUNITY, project__isnull=True)
                .exclude(status=EstateStatus.DROPPED).order_by("code")[:2])
    if len(pair) < 2:
        return 0
    estates_merge(actor=None, estates=pair, name=f"{pair[0].name}等片区改造", cause=CAUSE)
    return 1
