from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EstatesConfig(AppConfig):
    name = "gaizao.estates"
    label = "estates"
    verbose_name = _("Estates and project pool")

    def ready(self):
        from django.urls import reverse

        from gaizao.core.attention import register
        from gaizao.core.audit import register_field_display, register_verbs
        from gaizao.core.job_kinds import register_job_kind

        from .attention import estates_awaiting_pool
        from .census.jobs import job_outcome
        from .rules import breakdown_rows, reasons_text

        register(estates_awaiting_pool)
        register_verbs({
            "estates.admit": _("Admitted to the pool"),
            "estates.defer": _("Deferred to a later year"),
            "estates.drop": _("Dropped from the pool"),
            "estates.readmit": _("Readmitted to the pool"),
            "estates.estate_create": _("Estate added"),
            "estates.estate_update": _("Estate changed"),
            "estates.upsert": _("Estate saved from a batch"),
            "estates.merge": _("Estates merged into a project"),
            "estates.project_dissolve": _("Project dissolved"),
            "estates.buildings_add": _("Buildings added"),
            "estates.recompute": _("Eligibility and score recomputed"),
            "estates.rules_save": _("Rules saved"),
            "estates.rules_override_delete": _("County rules removed (the province's apply)"),
            "estates.rules_defaults_setup": _("Default rules set up"),
            "estates.census_import": _("Census import"),
            "estates.census_upload_delete": _("Census upload deleted"),
        })
        register_field_display("estates.estate", "eligibility_reasons", lambda reasons: "；".join(reasons_text(reasons)))
        register_field_display("estates.estate", "priority_breakdown", lambda breakdown: "；".join(
            f"{name} {value}" for name, value in breakdown_rows(breakdown)) if isinstance(breakdown, dict) else "")
        register_job_kind("estates.census_import", label=_("Census import"),
                          result_url=lambda job: reverse("census:import", args=[job.pk]),
                          result_labels={"rows": _("Rows read"), "created": _("New estates"),
                                         "updated": _("Changed estates"), "unchanged": _("Unchanged estates"),
                                         "error_count": _("Problems found")},
                          outcome=lambda job: job_outcome(job)["text"])
        register_job_kind("estates.recompute", label=_("Estate re-evaluation"),
                          result_url=lambda job: reverse("estates:list"),
                          result_labels={"evaluated": _("Estates evaluated"), "changed": _("Estates changed"),
                                         "eligibility_changed": _("Eligibility changed")})
