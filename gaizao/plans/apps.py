from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "gaizao.plans"
    label = "plans"
    verbose_name = _("Plans, targets and progress")

    def ready(self):
        from gaizao.core.attention import register
        from gaizao.core.job_kinds import register_job_kind

        from .attention import plans_awaiting_step

        register(plans_awaiting_step)
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
