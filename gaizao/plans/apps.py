from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "gaizao.plans"
    label = "plans"
    verbose_name = _("Plans, targets and progress")

    def ready(self):
        from gaizao.core.attention import register
        from gaizao.core.audit import register_field_display, register_verbs
        from gaizao.core.job_kinds import register_job_kind

        from . import workflow
        from .attention import plans_awaiting_step
        from .audit_words import register_displays

        register(plans_awaiting_step)
        register_verbs({f"plans.{step.name}": step.label for step in workflow.STEPS})
        register_verbs({
            "plans.plan_create": _("Plan drafted"),
            "plans.adjust": _("Plan adjusted (new version)"),
            "plans.adjust_copy": _("Item copied into the adjusted plan"),
            "plans.supersede": _("Plan superseded by its adjustment"),
            "plans.item_add": _("Added to the plan"),
            "plans.item_remove": _("Removed from the plan"),
            "plans.item_update": _("Plan item changed"),
            "plans.item_scheme_budget": _("Scheme budget recorded"),
            "plans.model_estate": _("Model estate marked"),
            "plans.reestimate": _("Costs re-estimated"),
            "plans.adopt": _("Optimiser proposal adopted"),
            "plans.apply_schedule": _("Schedule applied"),
            "plans.optimise": _("Schedule optimised"),
            "plans.budget_set": _("Budget set"),
            "plans.budget_delete": _("Budget removed"),
            "plans.budgets_import": _("Budget file imported"),
            "plans.costs_save": _("Unit costs saved"),
            "plans.costs_delete": _("County unit costs removed (the province's apply)"),
            "plans.targets_save": _("Targets saved"),
            "plans.targets_delete": _("County targets removed (the province's apply)"),
            "plans.period_create": _("Plan period added"),
            "plans.period_default": _("Default plan period set up"),
            "plans.defaults_setup": _("Default rules set up"),
            "plans.report_open": _("Monthly report opened"),
            "plans.report_entries": _("Monthly report figures entered"),
            "plans.report_submit": _("Monthly report submitted"),
            "plans.progress_update": _("Progress recorded"),
        })
        register_displays(register_field_display)
        register_job_kind("plans.optimise", label=_("Schedule optimisation"), result_url=optimise_result_url,
                          result_labels={"candidates": _("Candidates"), "objective": _("Proposal (objective)"),
                                         "greedy_objective": _("Greedy schedule (objective)"),
                                         "feasible": _("Meets every rule")})


def optimise_result_url(job) -> str:
    """A run on a region's pool is shown on the optimiser page of that region and period."""
    from urllib.parse import urlencode

    from django.urls import reverse

    params = job.params or {}
    query = {"region": params.get("region") or job.region.code}
    if params.get("period"):
        query["period"] = params["period"]
    return f"{reverse('plans:region-optimise')}?{urlencode(query)}"
