from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class GaizaoAdminSite(admin.AdminSite):
    """Django's admin, open to province admins only."""

    site_header = _("Gaizao administration")
    site_title = _("Gaizao")

    def has_permission(self, request) -> bool:
        from gaizao.accounts.scoping import scope_for

        user = request.user
        return bool(user.is_active and user.is_staff and scope_for(user).is_province_admin)
