from django.db import models
from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import ScopedQuerySet

PROVINCE_CODE = "33"  # Zhejiang, the root of the region tree: the province's default rules live on it


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")
    COUNTY = "county", _("County")
    STREET = "street", _("Street / town")
    COMMUNITY = "community", _("Community")


LEVEL_DEPTH = {level: depth for depth, level in enumerate(RegionLevel.values)}
# GB/T 2260 code length of each level, by depth: province 2, city 4, county 6, street 9, community 12
CODE_LENGTHS = (2, 4, 6, 9, 12)


class RegionQuerySet(ScopedQuerySet):
    scope_lookup = "code"


class Region(models.Model):
    """One administrative division. Codes are hierarchical: a child's code starts with its parent's,
    which is what scoping by prefix relies on."""

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=12, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_active = models.BooleanField(_("active"), default=True)
    retired_note = models.CharField(_("retirement note"), max_length=200, blank=True)
    successors = models.ManyToManyField(
        "self", verbose_name=_("successors"), symmetrical=False, blank=True, related_name="predecessors"
    )

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        indexes = [models.Index(fields=["level", "code"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）" if not self.is_active else self.name

    @property
    def region_code(self) -> str:
        return self.code

    @property
    def depth(self) -> int:
        return LEVEL_DEPTH[self.level]

    def ancestors(self) -> list["Region"]:
        """Ancestors from the top, found by code prefixes in one query."""
        prefixes = [self.code[:n] for n in CODE_LENGTHS if n < len(self.code)]
        return list(Region.objects.filter(code__in=prefixes).order_by("code"))
