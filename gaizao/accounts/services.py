"""Writes to users, organisations and memberships, each audited; sign-in throttling."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gaizao.core.audit import audited_create, audited_update, record_change
from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.core.models import AuditAction
from gaizao.regions.models import Region, RegionLevel

from .models import LoginFailure, Membership, Organisation, OrganisationKind, User
from .scoping import Role, forget_cached_scope

# The region level each region-held role sits on.
ROLE_REGION_LEVEL = {
    Role.PROVINCE_ADMIN: RegionLevel.PROVINCE,
    Role.CITY_OFFICIAL: RegionLevel.CITY,
    Role.COUNTY_OFFICIAL: RegionLevel.COUNTY,
    Role.STREET_OFFICIAL: RegionLevel.STREET,
    Role.COMMUNITY_WORKER: RegionLevel.COMMUNITY,
}
ROLE_ORGANISATION_KINDS = {
    Role.DEPARTMENT_REVIEWER: {OrganisationKind.DEPARTMENT, OrganisationKind.UTILITY},
    Role.PROJECT_PARTY: {OrganisationKind.COMPANY},
}


@transaction.atomic
def user_create(*, actor, username: str, password: str | None, display_name: str = "", email: str = "") -> User:
    if User.objects.filter(username=username).exists():
        raise ServiceError(ErrorCode.INVALID, _("The username is taken."), fields={"username": [_("taken")]})
    user = User(username=username, display_name=display_name, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    return audited_create(actor=actor, obj=user, verb="accounts.user_create")


@transaction.atomic
def user_set_password(*, actor, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    record_change(actor=actor, obj=user, action=AuditAction.UPDATE, before=None, after={"password": "(changed)"},
                  verb="accounts.user_set_password")


@transaction.atomic
def organisation_create(*, actor, name: str, kind: str, region: Region | None, department: str = "") -> Organisation:
    org = Organisation(name=name, kind=kind, region=region, department=department)
    return audited_create(actor=actor, obj=org, verb="accounts.organisation_create")


def check_role_place(role: str, region: Region | None, organisation: Organisation | None) -> None:
    if role in ROLE_REGION_LEVEL:
        if region is None or organisation is not None:
            raise ServiceError(ErrorCode.ROLE_PLACE_MISMATCH, _("This role is held on a region."),
                               fields={"region": [_("required")]})
        if region.level != ROLE_REGION_LEVEL[role]:
            raise ServiceError(
                ErrorCode.REGION_LEVEL_MISMATCH,
                _("A %(role)s is appointed on a region of level %(level)s, not %(given)s.")
                % {"role": Role(role).label, "level": RegionLevel(ROLE_REGION_LEVEL[role]).label,
                   "given": region.get_level_display()},
                fields={"region": [region.code]},
            )
    elif role in ROLE_ORGANISATION_KINDS:
        if organisation is None or organisation.kind not in ROLE_ORGANISATION_KINDS[role]:
            raise ServiceError(ErrorCode.ROLE_PLACE_MISMATCH, _("This role is held on an organisation of the right kind."),
                               fields={"organisation": [_("required")]})
    elif role == Role.RESIDENT:
        if region is not None and region.level != RegionLevel.COMMUNITY:
            raise ServiceError(ErrorCode.REGION_LEVEL_MISMATCH, _("A resident belongs to a community."),
                               fields={"region": [region.code]})
    else:
        raise ServiceError(ErrorCode.INVALID, _("Unknown role."), fields={"role": [role]})


@transaction.atomic
def membership_grant(
    *, actor, user: User, role: str, region: Region | None = None, organisation: Organisation | None = None
) -> Membership:
    """Give `user` a role on a region or organisation; granting one already held is a no-op."""
    check_role_place(role, region, organisation)
    membership = Membership.objects.filter(user=user, role=role, region=region, organisation=organisation).first()
    if membership is not None:
        if not membership.is_active:
            audited_update(actor=actor, obj=membership, changes={"is_active": True}, verb="accounts.membership_grant")
    else:
        membership = audited_create(
            actor=actor, obj=Membership(user=user, role=role, region=region, organisation=organisation),
            verb="accounts.membership_grant",
        )
    # Django's admin site is for province admins only.
    if role == Role.PROVINCE_ADMIN and not user.is_staff:
        audited_update(actor=actor, obj=user, changes={"is_staff": True}, verb="accounts.membership_grant")
    forget_cached_scope(user)
    return membership


@transaction.atomic
def membership_revoke(*, actor, membership: Membership) -> None:
    audited_update(actor=actor, obj=membership, changes={"is_active": False}, verb="accounts.membership_revoke")
    user = membership.user
    still_admin = Membership.objects.filter(user=user, role=Role.PROVINCE_ADMIN, is_active=True).exists()
    if user.is_staff and not still_admin and not user.is_superuser:
        audited_update(actor=actor, obj=user, changes={"is_staff": False}, verb="accounts.membership_revoke")
    forget_cached_scope(user)


def _too_many_failures(username: str, client_address: str) -> bool:
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    limit = settings.LOGIN_FAILURE_LIMIT
    return (recent.filter(username=username).count() >= limit
            or recent.filter(client_address=client_address).count() >= limit * 4)


def sign_in(*, request, username: str, password: str) -> User:
    """Check credentials with throttling; raises ServiceError with a clear, stable code."""
    username = (username or "").strip()
    client_address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    if _too_many_failures(username, client_address):
        raise ServiceError(
            ErrorCode.THROTTLED,
            _("Too many failed sign-ins. Wait %(minutes)d minutes and try again.")
            % {"minutes": settings.LOGIN_FAILURE_WINDOW_SECONDS // 60},
            status=429,
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        LoginFailure.objects.create(username=username[:150], client_address=client_address[:64])
        raise ServiceError(ErrorCode.AUTHENTICATION_FAILED, _("Wrong username or password."), status=400)
    LoginFailure.objects.filter(username=username).delete()
    record_change(actor=user, obj=user, action=AuditAction.LOGIN, before=None, after=None, verb="accounts.sign_in")
    return user

