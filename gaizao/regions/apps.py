from django.apps import AppConfig
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "gaizao.regions"
    label = "regions"
    verbose_name = _("Regions")

    def ready(self):
        from gaizao.core.audit import register_verbs
        from gaizao.core.job_kinds import register_job_kind

        register_verbs({"regions.load": _("Regions loaded")})
        register_job_kind("regions.reload", label=_("Region reload"), result_url=lambda job: reverse("regions:list"),
                          result_labels={"created": _("Regions created"), "updated": _("Regions updated"),
                                         "unchanged": _("Regions unchanged"),
                                         "defaults_created": _("Default rules created")})
