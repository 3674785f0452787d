from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "gaizao.plans"
    label = "plans"
    verbose_name = _("Plans, targets and progress")

    def ready(self):
        from gaizao.core.attention import register

        from .attention import plans_awaiting_step

        register(plans_awaiting_step)
