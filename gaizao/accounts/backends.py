from gaizao.accounts.scoping import scope_for


class ProvinceAdminBackend:
    """Province admins hold every model permission in Django's admin; nobody else holds any there.

    Read-only admins (audit entries, jobs) refuse changes themselves, whatever the permission.
    """

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        return bool(user_obj.is_active and user_obj.is_staff and scope_for(user_obj).is_province_admin)

    def has_module_perms(self, user_obj, app_label):
        return self.has_perm(user_obj, app_label)
