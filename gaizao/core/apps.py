from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gaizao.core"
    label = "core"
    verbose_name = _("Core")
    default = True

    def ready(self):
        from . import attention, selectors
        from .audit import register_verbs

        attention.register(selectors.jobs_needing_attention)
        register_verbs({"admin.save": _("Saved in the administration"),
                        "admin.delete": _("Deleted in the administration")})


class GaizaoAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "gaizao.core.admin_site.GaizaoAdminSite"
