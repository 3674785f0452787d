"""Stored values of the plans models as the audit pages show them (registered with
`core.audit.register_field_display` in `PlansConfig.ready()`): amounts in 万元, content classes, target
milestones and an optimiser run's figures in words. The audit API keeps the stored data."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gaizao.core.display import plain_text, yes_no
from gaizao.estates.models import ContentClass

from .templatetags.plans_tags import pct, solver_status, wan, whole


def wan_text(value) -> str:
    """An amount in 万元: two decimals with thousands separators (6400.5000 → 6,400.50), as the pages show
    it; a stored amount finer than that keeps its decimals (6,400.0001), so a change never reads as
    6,400.00 → 6,400.00."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return plain_text(value)
    if not amount.is_finite():
        return plain_text(value)
    if amount == amount.quantize(Decimal("0.01")):
        return wan(amount)
    return f"{amount:,.{min(-amount.normalize().as_tuple().exponent, 4)}f}"


def classes_text(value) -> str:
    """["basic", "improvement"] → 基础类、完善类."""
    labels = dict(ContentClass.choices)
    if not isinstance(value, list):
        return plain_text(value)
    return plain_text([str(labels.get(code, code)) for code in value])


def milestones_text(value) -> str:
    """[{"year": 1, "share": "30"}, {"year": -1, "share": "100"}] → 第 1 年末 30%、最后一年末 100%."""
    if not isinstance(value, list):
        return plain_text(value)
    out = []
    for row in value:
        if not isinstance(row, dict):
            return plain_text(value)
        year, share = row.get("year"), row.get("share")
        if year == -1:
            out.append(_("by the end of the last year: %(share)s%%") % {"share": share})
        elif isinstance(year, int) and year < -1:
            out.append(_("by the end of year %(n)s from the last: %(share)s%%") % {"n": -year, "share": share})
        else:
            out.append(_("by the end of year %(n)s: %(share)s%%") % {"n": year, "share": share})
    return plain_text(out)


# An optimiser run's figures (the audit entry of plans.optimise), by their names on the run's page.
RUN_FIGURES = {
    "status": gettext_lazy("Optimiser status"),
    "objective": gettext_lazy("Proposal (objective)"),
    "bound": gettext_lazy("Upper bound (LP / MIP)"),
    "gap": gettext_lazy("Gap to the bound"),
    "greedy_objective": gettext_lazy("Greedy schedule (objective)"),
    "feasible": gettext_lazy("Meets every rule"),
}


def run_figure_text(key: str, value) -> str:
    """One figure of a run as its page shows it: the solver status in words, objectives and bounds as
    whole numbers, the gap as a percentage, yes or no."""
    if value is None:
        return "—"
    if key == "status":
        return str(solver_status(value))
    if key == "gap":
        return pct(value)
    if key == "feasible":
        return yes_no(bool(value))
    return whole(value)


def run_result_text(value) -> str:
    """An optimiser run's audited figures ({"status": "optimal", "objective": …}) in words, each by its
    name: 求解状态：最优；建议方案（目标值）：514,541；…"""
    if not isinstance(value, dict):
        return plain_text(value)
    return plain_text({str(RUN_FIGURES.get(k, k)): run_figure_text(k, v) for k, v in value.items()})


def register_displays(register) -> None:
    """Register the displays with `register(model_label, name, fn)` (core.audit.register_field_display)."""
    for model, name in (("plans.planbudget", "budget_wan"), ("plans.planitem", "estimated_investment_wan"),
                        ("plans.progressentry", "investment_done_wan"),
                        ("plans.progresssummary", "annual_investment_wan"),
                        ("plans.progresssummary", "investment_done_wan")):
        register(model, name, wan_text)
    register("plans.planitem", "content_classes", classes_text)
    register("plans.targetrule", "milestones", milestones_text)
    register("plans.optimisationrun", "result", run_result_text)
    # runs audited before their figures were kept under "result" stored them as keys of their own
    for key in RUN_FIGURES:
        register("plans.optimisationrun", key, lambda value, key=key: run_figure_text(key, value))
