from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .scoping import Role

__all__ = ["Role", "User", "Organisation", "Membership", "LoginFailure"]


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # Bumped whenever the user's memberships change, so a cached scope is never used after that.
    scope_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class OrganisationKind(models.TextChoices):
    DEPARTMENT = "department", _("Government department")
    COMPANY = "company", _("Company")
    UTILITY = "utility", _("Utility")


class Department(models.TextChoices):
    """Reviewing departments named in the seed's joint review (联合审查)."""

    HOUSING = "housing", _("Housing and urban-rural development")
    DEVELOPMENT_REFORM = "development_reform", _("Development and reform")
    FINANCE = "finance", _("Finance")
    CIVIL_AFFAIRS = "civil_affairs", _("Civil affairs")
    NATURAL_RESOURCES = "natural_resources", _("Natural resources and planning")
    PUBLIC_SECURITY = "public_security", _("Public security")
    FIRE = "fire", _("Fire and rescue")
    EDUCATION = "education", _("Education")
    HEALTH = "health", _("Health")
    MARKET_REGULATION = "market_regulation", _("Market regulation")
    WATER = "water", _("Water supply")
    POWER = "power", _("Power supply")
    GAS = "gas", _("Gas supply")
    TELECOM = "telecom", _("Telecoms")
    OTHER = "other", _("Other")


class Organisation(models.Model):
    """A department of a region (e.g. 西湖区发改局) or a company registered as a project party."""

    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=16, choices=OrganisationKind.choices)
    department = models.CharField(_("department"), max_length=32, choices=Department.choices, blank=True)
    region = models.ForeignKey(
        "regions.Region", verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [models.UniqueConstraint(fields=["name", "region"], name="organisation_unique_name_in_region")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A role held by a user on a region (covering its subtree) or on an organisation."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    region = models.ForeignKey(
        "regions.Region", verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), null=True, blank=True, on_delete=models.PROTECT
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["user_id", "role"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "region", "organisation"], name="membership_unique_role_place"
            ),
        ]

    def __str__(self) -> str:
        place = self.organisation or self.region
        return f"{self.user} · {self.get_role_display()} · {place}"

    @property
    def region_code(self) -> str:
        if self.region_id:
            return self.region.code
        if self.organisation_id and self.organisation.region_id:
            return self.organisation.region.code
        return ""


class LoginFailure(models.Model):
    """One failed sign-in; counted to throttle guessing across all workers."""

    username = models.CharField(max_length=150, db_index=True)
    client_address = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.username} @ {self.client_address} {self.at:%Y-%m-%d %H:%M}"
