"""Region scoping: the one place that decides which rows a user may see or change.

Every list, detail, export, dashboard and API view reaches data through
`restrict(queryset, user, action)` (or the `.restrict()` queryset method that
calls it). A membership on a region covers its whole subtree; because region
codes are hierarchical, a subtree is a code prefix and the filter is a single
indexed `LIKE 'prefix%'` in the database, never a Python loop over rows.

Data entered under a retired region (e.g. 330103 下城区, merged into 拱墅区)
stays visible to the officials of its successors: the retired code is added to
the successor's prefixes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Action:
    VIEW = "view"
    CHANGE = "change"


class Role(models.TextChoices):
    PROVINCE_ADMIN = "province_admin", _("Province admin")
    CITY_OFFICIAL = "city_official", _("City official")
    COUNTY_OFFICIAL = "county_official", _("County official")
    STREET_OFFICIAL = "street_official", _("Street official")
    COMMUNITY_WORKER = "community_worker", _("Community worker")
    DEPARTMENT_REVIEWER = "department_reviewer", _("Department reviewer")
    PROJECT_PARTY = "project_party", _("Project party")
    RESIDENT = "resident", _("Resident")


# Which region-wide actions each role's membership grants over its subtree.
# Project parties and residents see single objects they are registered on,
# which later apps grant explicitly; they get no region-wide view.
ROLE_REGION_ACTIONS: dict[str, frozenset[str]] = {
    Role.PROVINCE_ADMIN: frozenset({Action.VIEW, Action.CHANGE}),
    Role.CITY_OFFICIAL: frozenset({Action.VIEW, Action.CHANGE}),
    Role.COUNTY_OFFICIAL: frozenset({Action.VIEW, Action.CHANGE}),
    Role.STREET_OFFICIAL: frozenset({Action.VIEW, Action.CHANGE}),
    Role.COMMUNITY_WORKER: frozenset({Action.VIEW, Action.CHANGE}),
    Role.DEPARTMENT_REVIEWER: frozenset({Action.VIEW}),
    Role.PROJECT_PARTY: frozenset(),
    Role.RESIDENT: frozenset(),
}


def _minimal_prefixes(codes: set[str]) -> tuple[str, ...]:
    """Drop codes already covered by a shorter prefix in the set."""
    kept: list[str] = []
    for code in sorted(codes, key=lambda c: (len(c), c)):
        if not any(code.startswith(k) for k in kept):
            kept.append(code)
    return tuple(sorted(kept))


@dataclass(frozen=True)
class Scope:
    """What one user may reach, resolved once per request."""

    user_id: int | None
    is_superuser: bool = False
    roles: frozenset[str] = frozenset()
    prefixes_by_action: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (role, region code) pairs, for the home page and role checks
    memberships: tuple[tuple[str, str], ...] = ()

    def prefixes(self, action: str = Action.VIEW) -> tuple[str, ...]:
        return self.prefixes_by_action.get(action, ())

    def has_role(self, *roles: str) -> bool:
        return self.is_superuser and Role.PROVINCE_ADMIN in roles or bool(self.roles.intersection(roles))

    @property
    def is_province_admin(self) -> bool:
        return self.is_superuser or Role.PROVINCE_ADMIN in self.roles

    def reaches_a_region(self, action: str = Action.VIEW) -> bool:
        """Whether some region is within reach for `action` (residents and project parties: none)."""
        return self.is_superuser or bool(self.prefixes(action))

    def covers(self, region_code: str | None, action: str = Action.VIEW) -> bool:
        if self.is_superuser:
            return True
        if not region_code:
            return False
        return any(region_code.startswith(p) for p in self.prefixes(action))

    def q(self, lookup: str, action: str = Action.VIEW) -> Q:
        """A filter on `lookup` (a path to a region code) for the rows this scope may reach."""
        if self.is_superuser:
            return Q()
        prefixes = self.prefixes(action)
        if not prefixes:
            return Q(pk__in=[])
        return reduce(or_, (Q(**{f"{lookup}__startswith": p}) for p in prefixes))


ANONYMOUS_SCOPE = Scope(user_id=None)

# Resolved scopes per process, keyed by the user's scope version, so a request costs no scope
# queries. A membership change bumps the version; the time limit covers region-tree reloads.
SCOPE_CACHE_SECONDS = 300
SCOPE_CACHE_SIZE = 5000
_scope_cache: dict[tuple, tuple[float, Scope]] = {}
_scope_cache_lock = threading.Lock()


def _scope_cache_key(user) -> tuple:
    joined = user.date_joined.timestamp() if getattr(user, "date_joined", None) else 0
    return (user.pk, getattr(user, "scope_version", 0), joined, user.is_superuser, user.is_active)


def clear_scope_cache() -> None:
    with _scope_cache_lock:
        _scope_cache.clear()


def scope_for(user) -> Scope:
    """Resolve a user's memberships to code prefixes per action (two small queries)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS_SCOPE
    cached = getattr(user, "_gaizao_scope", None)
    if cached is not None:
        return cached
    key = _scope_cache_key(user)
    hit = _scope_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        user._gaizao_scope = hit[1]
        return hit[1]

    from gaizao.accounts.models import Membership
    from gaizao.regions.models import Region

    rows = list(
        Membership.objects.filter(user=user, is_active=True).values_list(
            "role", "region__code", "organisation__region__code"
        )
    )
    roles = frozenset(role for role, _, _ in rows)
    memberships = tuple((role, region or org_region or "") for role, region, org_region in rows)
    codes_by_action: dict[str, set[str]] = {}
    for role, code in memberships:
        if not code:
            continue
        for action in ROLE_REGION_ACTIONS.get(role, ()):
            codes_by_action.setdefault(action, set()).add(code)

    all_codes = set().union(*codes_by_action.values()) if codes_by_action else set()
    if all_codes:
        # Retired regions whose successor lies inside the user's subtree stay visible.
        covered = reduce(or_, (Q(successors__code__startswith=c) for c in all_codes))
        retired = list(
            Region.objects.filter(is_active=False).filter(covered).values_list("code", "successors__code").distinct()
        )
        for retired_code, successor_code in retired:
            for codes in codes_by_action.values():
                if any(successor_code.startswith(c) for c in codes):
                    codes.add(retired_code)

    scope = Scope(
        user_id=user.pk,
        is_superuser=user.is_superuser,
        roles=roles,
        prefixes_by_action={a: _minimal_prefixes(c) for a, c in codes_by_action.items()},
        memberships=memberships,
    )
    user._gaizao_scope = scope
    with _scope_cache_lock:
        if len(_scope_cache) >= SCOPE_CACHE_SIZE:
            _scope_cache.clear()
        _scope_cache[key] = (time.monotonic() + SCOPE_CACHE_SECONDS, scope)
    return scope


def restrict(queryset: models.QuerySet, user, action: str = Action.VIEW) -> models.QuerySet:
    """The single gate: rows of `queryset` the user may reach for `action`."""
    scope = user if isinstance(user, Scope) else scope_for(user)
    lookup = getattr(queryset, "scope_lookup", None)
    if lookup is None:
        raise TypeError(f"{queryset.model.__name__} has no scope_lookup: it cannot be scoped by region")
    extra = getattr(queryset, "scope_extra_q", None)
    condition = scope.q(lookup, action)
    if extra is not None and not scope.is_superuser:
        condition |= extra(scope, action)
    return queryset.filter(condition)


class ScopedQuerySet(models.QuerySet):
    """Base for querysets of region-scoped models; subclasses name the path to the region code."""

    scope_lookup: str | None = None

    def restrict(self, user, action: str = Action.VIEW):
        return restrict(self, user, action)


def forget_cached_scope(user) -> None:
    if hasattr(user, "_gaizao_scope"):
        del user._gaizao_scope
