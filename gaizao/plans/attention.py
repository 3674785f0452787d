"""The plans' items for the home page's "Needs your attention" (`gaizao.core.attention`)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import Scope, restrict
from gaizao.core.attention import ITEMS_PER_PROVIDER, AttentionItem

from . import workflow
from .models import ActionPlan, PlanStatus

# States a plan waits in for someone's step (a draft waits for its county to submit it).
WAITING = (PlanStatus.DRAFT, PlanStatus.RETURNED, PlanStatus.SUBMITTED, PlanStatus.CITY_APPROVED)


def plans_awaiting_step(*, user, scope: Scope) -> list[AttentionItem]:
    """Plan versions on which the user may take a workflow step now (`workflow.steps_open_to`), oldest
    waiting first."""
    items = []
    # plans.selectors.plans_visible without importing it: plans.selectors, services and targets load the
    # optimiser (numpy, HiGHS), and every process loads this module at start
    plans = restrict(ActionPlan.objects.select_related("county", "period"), user).filter(
        status__in=WAITING).order_by("updated_at", "pk")
    for plan in plans[:200]:
        steps = workflow.steps_open_to(scope, plan.status, plan.county.code)
        if not steps:
            continue
        items.append(AttentionItem(
            kind="plan_awaiting_step", icon="◆", url=reverse("plans:detail", args=[plan.pk]),
            text=_("%(plan)s (%(status)s): %(steps)s") % {
                "plan": plan, "status": plan.get_status_display(), "steps": " / ".join(str(s.label) for s in steps)}))
        if len(items) >= ITEMS_PER_PROVIDER:
            break
    return items
