"""Role checks shared by pages and API views; region reach itself is `scoping.restrict`."""

import rules
from rest_framework.permissions import BasePermission

from .scoping import scope_for


@rules.predicate
def is_province_admin(user) -> bool:
    return scope_for(user).is_province_admin


@rules.predicate
def has_region_role(user) -> bool:
    return bool(scope_for(user).prefixes("view")) or scope_for(user).is_superuser


rules.add_perm("core.view_audit_list", is_province_admin)
rules.add_perm("regions.reload_regions", is_province_admin)


class IsProvinceAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and is_province_admin(request.user))
