from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EstatesConfig(AppConfig):
    name = "gaizao.estates"
    label = "estates"
    verbose_name = _("Estates and project pool")

    def ready(self):
        from gaizao.core.attention import register

        from .attention import estates_awaiting_pool

        register(estates_awaiting_pool)
