"""The estate register (小区), the content catalogue, the rules of eligibility and priority, and the
project pool (项目库) with merged renovation projects (片区).

Rules are data rows: the province default sits on region 33, a county may override it.
Derived values (eligibility, reasons, route, score, breakdown, rank) are stored on the estate so
lists sort and filter in the database; `services.estates_recompute` keeps them current.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import ScopedQuerySet
from gaizao.core.models import RegionRule


class ContentClass(models.TextChoices):
    BASIC = "basic", _("Basic")  # 基础类
    IMPROVEMENT = "improvement", _("Improvement")  # 完善类
    ENHANCEMENT = "enhancement", _("Enhancement")  # 提升类


class CatalogueItem(models.Model):
    """One item of the renovation content catalogue (改造内容清单)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=128, blank=True)
    content_class = models.CharField(_("content class"), max_length=16, choices=ContentClass.choices)
    synonyms = models.JSONField(_("synonyms"), default=list, blank=True,
                                help_text=_("Words residents and counties use for this item"))
    source = models.CharField(_("source"), max_length=64, blank=True)
    sort = models.PositiveIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")

    def __str__(self) -> str:
        return self.name


class HousingType(models.TextChoices):
    REFORMED_PUBLIC = "reformed_public", _("Reformed public housing")  # 房改房
    PUBLIC = "public", _("Public housing")  # 公房
    COMMODITY = "commodity", _("Commodity housing")  # 商品房
    WORK_UNIT = "work_unit", _("Work-unit housing")  # 单位自管房
    MIXED = "mixed", _("Mixed")  # 混合
    OTHER = "other", _("Other")  # 其他


class ManagementMode(models.TextChoices):
    PROFESSIONAL = "professional", _("Professional property management")  # 专业物业
    QUASI = "quasi", _("Quasi-property service")  # 准物业
    OWNERS = "owners", _("Owners' self-management")  # 业主自治
    NONE = "none", _("None")  # 无


class EstateStatus(models.TextChoices):
    SURVEYED = "surveyed", _("Surveyed")
    POOLED = "pooled", _("In the pool")
    DEFERRED = "deferred", _("Deferred")
    DROPPED = "dropped", _("Dropped")


class Eligibility(models.TextChoices):
    ELIGIBLE = "eligible", _("Eligible")
    INELIGIBLE = "ineligible", _("Ineligible")
    EXCLUDED = "excluded", _("Excluded")


class RebuildRoute(models.TextChoices):
    NONE = "", _("Renovation")
    PARTIAL_REBUILD = "partial_rebuild", _("Partial rebuild")
    FULL_REBUILD = "full_rebuild", _("Full rebuild")
    SHANTYTOWN = "shantytown", _("Shanty-town redevelopment")


class BuildingStructure(models.TextChoices):
    BRICK_CONCRETE = "brick_concrete", _("Brick and concrete")  # 砖混
    FRAME = "frame", _("Frame")  # 框架
    SHEAR_WALL = "shear_wall", _("Shear wall")  # 剪力墙
    BRICK_WOOD = "brick_wood", _("Brick and wood")  # 砖木
    OTHER = "other", _("Other")


def _region_fk(verbose, related_name="+", db_index=True):
    return models.ForeignKey("regions.Region", verbose_name=verbose, on_delete=models.PROTECT,
                             related_name=related_name, db_index=db_index)


class RenovationProjectQuerySet(ScopedQuerySet):
    scope_lookup = "region__code"


class RenovationProject(models.Model):
    """Adjacent estates merged into one renovation project (片区); each estate keeps its own record."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    # the smallest region holding every member estate (a community, a street or the county)
    region = _region_fk(_("region"), "renovation_projects")
    county = _region_fk(_("county"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RenovationProjectQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("renovation project")
        verbose_name_plural = _("renovation projects")

    def __str__(self) -> str:
        return self.name

    @property
    def region_code(self) -> str:
        return self.region.code


class EstateQuerySet(ScopedQuerySet):
    scope_lookup = "region__code"


class Estate(models.Model):
    """An old residential estate (小区) on a street or neighbourhood-committee region."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    address = models.CharField(_("address"), max_length=256, blank=True)
    # no single-column indexes: (region, name) and the (county, …) indexes below lead with these columns
    region = _region_fk(_("region"), "estates", db_index=False)
    county = _region_fk(_("county"), db_index=False)
    built_year = models.PositiveSmallIntegerField(
        _("built year"), null=True, blank=True, validators=[MinValueValidator(1900), MaxValueValidator(2100)])
    buildings = models.PositiveIntegerField(_("buildings"), default=0)
    households = models.PositiveIntegerField(_("households"), default=0)
    floor_area = models.DecimalField(_("floor area (m²)"), max_digits=12, decimal_places=2, null=True, blank=True,
                                     validators=[MinValueValidator(Decimal("0"))])
    housing_type = models.CharField(_("housing type"), max_length=16, choices=HousingType.choices,
                                    default=HousingType.OTHER)
    in_shantytown_plan = models.BooleanField(_("in a shanty-town redevelopment plan"), default=False)
    in_historic_district = models.BooleanField(_("in a historic district"), default=False)
    has_precast_slab_hazard = models.BooleanField(_("precast hollow-core slab hazard"), default=False)
    management_mode = models.CharField(_("management mode"), max_length=16, choices=ManagementMode.choices,
                                       default=ManagementMode.NONE)
    max_floors = models.PositiveSmallIntegerField(_("highest floor count"), null=True, blank=True,
                                                  validators=[MaxValueValidator(200)])
    buildings_with_elevator = models.PositiveIntegerField(_("buildings with an elevator"), default=0)
    willingness = models.DecimalField(
        _("residents' willingness (%)"), max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    deficiencies = models.ManyToManyField(CatalogueItem, verbose_name=_("deficiencies"), blank=True,
                                          related_name="estates", through="EstateDeficiency")
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                    validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))])
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                   validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))])

    status = models.CharField(_("status"), max_length=16, choices=EstateStatus.choices,
                              default=EstateStatus.SURVEYED)
    status_reason = models.CharField(_("status reason"), max_length=200, blank=True)
    pool_year = models.PositiveSmallIntegerField(_("pool year"), null=True, blank=True)

    eligibility = models.CharField(_("eligibility"), max_length=16, choices=Eligibility.choices,
                                   default=Eligibility.INELIGIBLE)
    # [{"code": "...", "params": {...}}]; rendered in words by `eligibility.reason_text`
    eligibility_reasons = models.JSONField(_("eligibility reasons"), default=list, blank=True)
    rebuild_route = models.CharField(_("route"), max_length=16, choices=RebuildRoute.choices, blank=True,
                                     default=RebuildRoute.NONE)
    priority_score = models.DecimalField(_("priority score"), max_digits=6, decimal_places=2, null=True,
                                         blank=True)
    priority_breakdown = models.JSONField(_("priority breakdown"), default=dict, blank=True)
    county_rank = models.PositiveIntegerField(_("rank in county"), null=True, blank=True)

    project = models.ForeignKey(RenovationProject, verbose_name=_("renovation project"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="estates")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = EstateQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("estate")
        verbose_name_plural = _("estates")
        indexes = [
            models.Index(fields=["region", "name"], name="estate_region_name"),
            models.Index(fields=["county", "status"], name="estate_county_status"),
            models.Index(fields=["county", "-priority_score", "code"], name="estate_county_rank"),
            models.Index(fields=["county", "eligibility"], name="estate_county_eligibility"),
            models.Index(fields=["-priority_score", "code"], name="estate_score"),
            models.Index(fields=["built_year"], name="estate_built_year"),
            # status counts read this index instead of the table; eligibility and housing type filter
            # without one of their own (a few values over the whole register: a scan in code order is as quick)
            models.Index(fields=["status"], name="estate_status"),
            models.Index(fields=["name"], name="estate_name"),
            models.Index(fields=["updated_at"], name="estate_updated_at"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def region_code(self) -> str:
        return self.region.code


class EstateDeficiency(models.Model):
    """An item of the catalogue an estate lacks or has broken (the estate ↔ item link). A model of its
    own so that `estate` needs no index: the unique (estate, item) pair leads with it. A census of
    200,000 estates writes about 1.8 million of these."""

    estate = models.ForeignKey(Estate, verbose_name=_("estate"), on_delete=models.CASCADE, db_index=False)
    catalogueitem = models.ForeignKey(CatalogueItem, verbose_name=_("catalogue item"), on_delete=models.CASCADE)

    class Meta:
        db_table = "estates_estate_deficiencies"  # the table Django made for the plain many-to-many field
        unique_together = [("estate", "catalogueitem")]
        verbose_name = _("deficiency")
        verbose_name_plural = _("deficiencies")

    def __str__(self) -> str:
        return f"{self.estate_id}: {self.catalogueitem_id}"


class BuildingQuerySet(ScopedQuerySet):
    scope_lookup = "estate__region__code"


class Building(models.Model):
    """A building (楼栋) of an estate."""

    estate = models.ForeignKey(Estate, verbose_name=_("estate"), on_delete=models.CASCADE,
                               related_name="building_set")
    number = models.CharField(_("number"), max_length=32)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True,
                                              validators=[MaxValueValidator(200)])
    units = models.PositiveSmallIntegerField(_("stairwell units"), null=True, blank=True)
    households = models.PositiveIntegerField(_("households"), null=True, blank=True)
    has_elevator = models.BooleanField(_("has an elevator"), default=False)
    structure = models.CharField(_("structure"), max_length=16, choices=BuildingStructure.choices, blank=True)
    built_year = models.PositiveSmallIntegerField(
        _("built year"), null=True, blank=True, validators=[MinValueValidator(1900), MaxValueValidator(2100)])

    objects = BuildingQuerySet.as_manager()

    class Meta:
        ordering = ["estate_id", "number"]
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        constraints = [models.UniqueConstraint(fields=["estate", "number"], name="building_unique_number")]

    def __str__(self) -> str:
        return f"{self.estate.name} {self.number}"

    @property
    def region_code(self) -> str:
        return self.estate.region.code


class HouseholdQuerySet(ScopedQuerySet):
    scope_lookup = "building__estate__region__code"


def mask_phone(phone: str) -> str:
    """138****5678: the middle digits hidden, enough left to recognise a number."""
    digits = (phone or "").strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return digits[:1] + "*" * (len(digits) - 3) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


class Household(models.Model):
    """A dwelling (户) in a building; the owner's phone is stored and shown masked."""

    building = models.ForeignKey(Building, verbose_name=_("building"), on_delete=models.CASCADE,
                                 related_name="household_set")
    unit = models.CharField(_("stairwell unit"), max_length=16, blank=True)
    room = models.CharField(_("room"), max_length=16)
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    floor_area = models.DecimalField(_("exclusive floor area (m²)"), max_digits=8, decimal_places=2, null=True,
                                     blank=True, validators=[MinValueValidator(Decimal("0"))])
    owner_name = models.CharField(_("owner name"), max_length=64, blank=True)
    owner_phone = models.CharField(_("owner phone"), max_length=32, blank=True)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        ordering = ["building_id", "unit", "room"]
        verbose_name = _("household")
        verbose_name_plural = _("households")
        constraints = [models.UniqueConstraint(fields=["building", "unit", "room"], name="household_unique_room")]

    def __str__(self) -> str:
        return f"{self.building} {self.unit}-{self.room}".strip()

    @property
    def owner_phone_masked(self) -> str:
        return mask_phone(self.owner_phone)

    @property
    def region_code(self) -> str:
        return self.building.estate.region.code


def default_priority_housing_types() -> list[str]:
    return [HousingType.REFORMED_PUBLIC.value, HousingType.PUBLIC.value]


class EligibilityPolicy(RegionRule):
    """Who qualifies: the province default (region 33) and per-county overrides."""

    region = models.OneToOneField("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT,
                                  related_name="eligibility_policy")
    cutoff_year = models.PositiveSmallIntegerField(
        _("built in or before"), default=1999, validators=[MinValueValidator(1900), MaxValueValidator(2100)])
    exclude_shantytown = models.BooleanField(_("exclude estates in a shanty-town plan"), default=True)
    priority_housing_types = models.JSONField(_("priority housing types"), default=default_priority_housing_types,
                                              blank=True)
    hazard_route = models.CharField(_("route for a precast slab hazard"), max_length=16,
                                    choices=[(RebuildRoute.PARTIAL_REBUILD.value, RebuildRoute.PARTIAL_REBUILD.label),
                                             (RebuildRoute.FULL_REBUILD.value, RebuildRoute.FULL_REBUILD.label)],
                                    default=RebuildRoute.PARTIAL_REBUILD)
    min_willingness = models.DecimalField(
        _("minimum residents' willingness (%)"), max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])

    class Meta(RegionRule.Meta):
        verbose_name = _("eligibility policy")
        verbose_name_plural = _("eligibility policies")


class PriorityWeights(RegionRule):
    """How the priority score (0-100 with the defaults) is weighed: province default and county overrides."""

    region = models.OneToOneField("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT,
                                  related_name="priority_weights")
    age = models.DecimalField(_("age: points at full age"), max_digits=6, decimal_places=2, default=Decimal("30"))
    age_full_years = models.PositiveSmallIntegerField(
        _("age: years before the cut-off for full points"), default=25, validators=[MinValueValidator(1)])
    basic_item = models.DecimalField(_("points per missing basic item"), max_digits=6, decimal_places=2,
                                     default=Decimal("5"))
    improvement_item = models.DecimalField(_("points per missing improvement item"), max_digits=6,
                                           decimal_places=2, default=Decimal("2"))
    enhancement_item = models.DecimalField(_("points per missing enhancement item"), max_digits=6,
                                           decimal_places=2, default=Decimal("1"))
    deficiency_cap = models.DecimalField(_("deficiencies: most points"), max_digits=6, decimal_places=2,
                                         default=Decimal("30"))
    willingness = models.DecimalField(_("willingness: points at 100%"), max_digits=6, decimal_places=2,
                                      default=Decimal("20"))
    priority_housing = models.DecimalField(_("priority housing type"), max_digits=6, decimal_places=2,
                                           default=Decimal("10"))
    hazard = models.DecimalField(_("precast slab hazard"), max_digits=6, decimal_places=2, default=Decimal("10"))

    class Meta(RegionRule.Meta):
        verbose_name = _("priority weights")
        verbose_name_plural = _("priority weights")
