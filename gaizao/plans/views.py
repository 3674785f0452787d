"""Pages: plans and their workflow, targets and unit costs, budgets, the optimiser, monthly progress,
dashboards and the statistical export. Each view parses, calls one service or selector, renders."""

from __future__ import annotations

import datetime
import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gaizao.accounts.scoping import Role, restrict
from gaizao.core.errors import NotFoundError, PermissionDeniedError, ServiceError
from gaizao.core.jobs import job_start
from gaizao.core.params import whole_number
from gaizao.estates.models import ContentClass, Estate, RenovationProject
from gaizao.regions.models import Region, RegionLevel

from . import selectors, services, workflow
from .export import TABLES, export_filename, write_statistical_workbook
from .models import (
    ActionPlan,
    PlanItem,
    PlanPeriod,
    PlanStatus,
    ProgressReport,
    ProgressStage,
    TargetMeasure,
    TargetRule,
    UnitCosts,
)
from .targets import costs_for, targets_for
from .templatetags.plans_tags import plain_number, wan

MAX_UPLOAD = 2 * 1024 * 1024


def handles_service_errors(view):
    """Not found -> 404, refused -> 403; other refusals are shown on the page the user came from."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if any("\x00" in v for data in (request.GET, request.POST) for values in data.lists() for v in values[1]):
            return render(request, "400.html", status=400)
        try:
            return view(request, *args, **kwargs)
        except NotFoundError:
            raise Http404 from None
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from None
        except ServiceError as exc:
            if request.method == "POST":
                _said(request, exc, exc.fields.get("rows", []), 10)
                back = request.POST.get("next") or request.headers.get("Referer") or reverse("plans:list")
                if not back.startswith("/") and "://" in back:
                    from django.utils.http import url_has_allowed_host_and_scheme

                    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                        back = reverse("plans:list")
                return redirect(back)
            return render(request, "400.html", {"message": exc.message, "fields": exc.fields},
                          status=400)

    return wrapper


KEPT_INPUT = "plans.kept_input"


def _said(request, exc: ServiceError, lines, most: int) -> None:
    """A refusal's message, then its problems one a line (at most `most`). A message that names the first
    problem itself (a budget file's: 预算文件有错误：第 3 行…, all the command line and the API show) is
    said as the count instead, so no problem is said twice."""
    lines = [str(line) for line in lines]
    message = str(exc.message)
    if lines and any(line in message for line in lines):
        message = _("The file has %(n)s problem(s); nothing was imported:") % {"n": len(lines)}
    messages.error(request, message)
    for line in lines[:most]:
        messages.error(request, line)


def _refused(request, exc: ServiceError, back: str, *, form: str = "", values: dict | None = None,
             lines: list | tuple = ()):
    """A POST the service refused: back to the page it came from, with the message, each problem named
    (`lines`), and what was typed kept for that page's form (`form`, read once by `_kept_input`) with
    the refused fields and each one's problems (`errors`, to show beside its box)."""
    if isinstance(exc, NotFoundError | PermissionDeniedError):
        raise exc
    _said(request, exc, lines, 20)
    if form:
        request.session[KEPT_INPUT] = {"form": form, "values": values or {},
                                       "fields": sorted(str(k) for k in exc.fields),
                                       "errors": {str(k): [str(p) for p in v][:5] for k, v in exc.fields.items()
                                                  if isinstance(v, list | tuple)}}
    return redirect(back)


def _kept_input(request, prefix: str) -> dict | None:
    """What was typed before the refusal that led here ({form, values, fields}) when its form's name starts
    with `prefix`; None otherwise. Read once, by the next page that looks: like the message beside it."""
    kept = request.session.pop(KEPT_INPUT, None) if KEPT_INPUT in request.session else None
    return kept if kept and str(kept.get("form", "")).startswith(prefix) else None


def _period(request) -> PlanPeriod:
    return selectors.period_from_param(request.GET.get("period") or request.POST.get("period"))


def _common(request, region: Region | None = None, period: PlanPeriod | None = None) -> dict:
    return {"periods": selectors.periods(), "period": period, "region": region}


# ---------------------------------------------------------------------------------------------
# plans


@login_required
@handles_service_errors
def plan_list(request):
    period = _period(request)
    plans = selectors.plans_visible(request.user).filter(period_id=period.pk).order_by("county__code", "-version")
    status = request.GET.get("status", "")
    if status:
        if status not in PlanStatus.values:
            raise ServiceError("invalid", _("Unknown status."))
        plans = plans.filter(status=status)
    scope = request.scope
    own_counties = [code for role, code in scope.memberships if role == Role.COUNTY_OFFICIAL and len(code) == 6]
    can_create = []
    for county in Region.objects.filter(code__in=own_counties, level=RegionLevel.COUNTY):
        if period.pk is not None and not ActionPlan.objects.filter(county=county, period=period).exists():
            can_create.append(county)
    region = selectors.region_pages_home(request.user)  # None: the roll-up and tables would not open for them
    page = Paginator(plans, 50).get_page(request.GET.get("page"))
    return render(request, "plans/plan_list.html", {
        **_common(request, region, period), "page": page, "can_create": can_create, "statuses": PlanStatus.choices,
        "status": status, "home": region})


@login_required
@require_POST
@handles_service_errors
def plan_create(request):
    period = _period(request)
    county = Region.objects.filter(code=request.POST.get("county", "")[:12]).first()
    if county is None:
        raise NotFoundError()
    plan = services.plan_create(actor=request.user, county=county, period=period)
    messages.success(request, _("The draft plan was created."))
    return redirect("plans:detail", pk=plan.pk)


@login_required
@handles_service_errors
def plan_detail(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    figures = selectors.plan_checks(plan)
    items = plan.items.select_related("estate", "project").order_by("year", "id")
    year = request.GET.get("year", "")
    if year:
        year_number = whole_number(year, max_digits=4)
        if year_number is None:
            raise ServiceError("invalid", _("Unknown year."))
        items = items.filter(year=year_number)
    page = Paginator(items, 100).get_page(request.GET.get("page"))
    kept = _kept_input(request, f"plan-{plan.pk}-")
    page.object_list = [_item_row(item, kept) for item in page.object_list]
    add_form = kept["values"] if kept and kept["form"] == f"plan-{plan.pk}-add" else {}
    can_edit = services.can_edit_plan(request.user, plan)
    steps = workflow.steps_open_to(request.scope, plan.status, plan.county.code)
    # every read below goes through the user's scope, like the plan itself
    plans = selectors.plans_visible(request.user)
    can_adjust = plan.status in workflow.ADJUST_FROM and workflow.holds(
        request.scope, workflow.ADJUST_ROLE, plan.county.code) and not plans.filter(previous=plan).exists()
    versions = plans.filter(county=plan.county, period=plan.period).order_by("-version")
    candidates, projects, not_offered = [], [], []
    if can_edit:
        # offered: what can be added, the optimiser's candidates for this period not yet in the plan; what
        # cannot (a pool year after the period, a project with an estate out of the pool) is said with why
        pool, left_out = selectors.pool_candidates([plan.county.code], plan.period)
        addable = {c.id for c in pool.get(plan.county.code, [])} - {i.subject_key for i in plan.items.all()}
        candidates = restrict(Estate.objects.filter(county=plan.county, pk__in=[
            int(k[1:]) for k in addable if k.startswith("e")]), request.user).order_by("-priority_score", "code")[:300]
        projects = restrict(RenovationProject.objects.filter(county=plan.county, pk__in=[
            int(k[1:]) for k in addable if k.startswith("p")]), request.user).order_by("code")
        not_offered = left_out.get(plan.county.code, [])
    return render(request, "plans/plan_detail.html", {
        "plan": plan, "figures": figures, "page": page, "can_edit": can_edit, "steps": steps,
        "can_adjust": can_adjust, "events": plan.events.all(), "versions": versions, "candidates": candidates,
        "projects": projects, "not_offered": selectors.left_out_described(not_offered[:20]),
        "not_offered_count": len(not_offered), "year": year, "classes": ContentClass.choices,
        "add_form": add_form,
        "can_optimise": services.can_optimise(request.user, plan.county)})


ITEM_FORM = ("year", "planned_start", "planned_finish")


def _item_row(item: PlanItem, kept: dict | None) -> PlanItem:
    """The item with the values its row form shows (`item.form`): as stored, or as typed when this row's
    save was just refused (`item.form["refused"]`, with the refused fields)."""
    form = {"year": item.year, "planned_start": item.planned_start.isoformat() if item.planned_start else "",
            "planned_finish": item.planned_finish.isoformat() if item.planned_finish else "",
            "is_model": item.is_model, "content_classes": list(item.content_classes or []), "refused": False,
            "fields": []}
    if kept and kept["form"].endswith(f"-item-{item.pk}"):
        form.update({k: v for k, v in kept["values"].items() if k in form}, refused=True, fields=kept["fields"])
    item.form = form
    return item


@login_required
@require_POST
@handles_service_errors
def plan_items(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    try:
        _plan_item_add(request, plan)
    except ServiceError as exc:
        typed = {k: request.POST.get(k, "")[:40] for k in ("estate", "project", "year")}
        typed["is_model"] = request.POST.get("is_model") in ("on", "1", "true")
        return _refused(request, exc, reverse("plans:detail", args=[plan.pk]), form=f"plan-{plan.pk}-add",
                        values=typed)
    messages.success(request, _("Added to the plan."))
    return redirect("plans:detail", pk=plan.pk)


def _plan_item_add(request, plan: ActionPlan) -> None:
    estate = project = None
    if request.POST.get("project"):
        project = restrict(RenovationProject.objects.filter(code=request.POST["project"].strip()[:32],
                                                            county=plan.county), request.user).first()
        if project is None:
            raise ServiceError("plan_item_invalid", _("No merged project with this code in the county."))
    else:
        code = request.POST.get("estate", "").strip()[:32]
        estate = restrict(Estate.objects.filter(code=code, county=plan.county), request.user).first()
        if estate is None:
            raise ServiceError("plan_item_invalid", _("No estate with the code %(code)s in the county.") % {
                "code": code or "-"})
    services.plan_item_add(actor=request.user, plan=plan, estate=estate, project=project,
                           year=request.POST.get("year"), planned_start=request.POST.get("planned_start"),
                           planned_finish=request.POST.get("planned_finish"),
                           is_model=request.POST.get("is_model") in ("on", "1", "true"),
                           note=request.POST.get("note", ""))


@login_required
@require_POST
@handles_service_errors
def plan_item(request, pk: int, item_pk: int):
    plan = selectors.plan_get(request.user, pk)
    item = get_object_or_404(restrict(PlanItem.objects.filter(plan=plan), request.user), pk=item_pk)
    back = request.POST.get("next") if str(request.POST.get("next", "")).startswith("/plans/") \
        else reverse("plans:detail", args=[plan.pk])
    if request.POST.get("action") == "delete":
        services.plan_item_remove(actor=request.user, item=item)
        messages.success(request, _("Removed from the plan."))
        return redirect(back)
    changes = {}
    for name in (*ITEM_FORM, "note"):
        if name in request.POST:
            changes[name] = request.POST[name]
    if "is_model_present" in request.POST:  # the row form: its boxes say the model flag and the classes
        changes["is_model"] = request.POST.get("is_model") in ("on", "1", "true")
        changes["content_classes"] = request.POST.getlist("content_classes")
    try:
        services.plan_item_update(actor=request.user, item=item, changes=changes)
    except ServiceError as exc:
        typed = {k: str(v)[:40] for k, v in changes.items() if k in ITEM_FORM}
        if "is_model_present" in request.POST:
            typed.update(is_model=changes["is_model"], content_classes=changes["content_classes"][:10])
        return _refused(request, exc, back, form=f"plan-{plan.pk}-item-{item.pk}", values=typed)
    messages.success(request, _("Saved."))
    return redirect(back)


@login_required
@require_POST
@handles_service_errors
def plan_step(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    plan = services.plan_transition(actor=request.user, plan=plan, step=request.POST.get("step", ""),
                                    comment=request.POST.get("comment", ""))
    messages.success(request, _("Done: the plan is now %(status)s.") % {"status": plan.get_status_display()})
    return redirect("plans:detail", pk=plan.pk)


@login_required
@require_POST
@handles_service_errors
def plan_adjust(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    new = services.plan_adjust(actor=request.user, plan=plan, reason=request.POST.get("reason", ""))
    messages.success(request, _("Version %(v)s was created as a draft.") % {"v": new.version})
    return redirect("plans:detail", pk=new.pk)


@login_required
@require_POST
@handles_service_errors
def plan_reestimate(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    n = services.plan_reestimate(actor=request.user, plan=plan)
    messages.success(request, _("%(n)s estimate(s) changed.") % {"n": n})
    return redirect("plans:detail", pk=plan.pk)


# ---------------------------------------------------------------------------------------------
# optimiser


def _budget_file(request) -> dict | None:
    upload = request.FILES.get("budget_file")
    if not upload:
        return None
    if upload.size > MAX_UPLOAD:
        raise ServiceError("budget_file_invalid", _("The budget file is too large (2 MB at most)."))
    rows = services.budget_csv_read(services.budget_file_text(upload.read()))
    return services.budgets_checked(request.user, rows)


@login_required
@require_http_methods(["GET", "POST"])
@handles_service_errors
def plan_optimise(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    if request.method == "POST":
        if not services.can_optimise(request.user, plan.county):
            raise PermissionDenied
        budgets = _budget_file(request)
        params = {"budget_file": bool(budgets)}
        result = selectors.run_optimiser(plan.county, plan.period, budgets=budgets, time_limit=30.0)
        services.optimisation_run_save(actor=request.user, region=plan.county, period=plan.period, params=params,
                                       result=result)
        messages.success(request, _("The optimiser has proposed a schedule."))
        return redirect("plans:optimise", pk=plan.pk)
    run = selectors.latest_run(request.user, plan.county, plan.period)
    view = selectors.proposal_view(run, plan) if run else None
    return render(request, "plans/plan_optimise.html", {
        "plan": plan, "run": run, "view": view, "can_edit": services.can_edit_plan(request.user, plan),
        "can_optimise": services.can_optimise(request.user, plan.county),
        "greedy_misses": _violation_words(run.result.get("greedy_violations", []) if run else [], plan.county.code),
        "reason_words": _reason_words(run.result.get("reasons", []) if run else [], plan.county.code)})


VIOLATION_WORDS = {
    "target_missed": (gettext_lazy("target missed"),
                      gettext_lazy("%(done)s of %(total)s %(unit)s by the end of %(year)s; %(share)s%% needed")),
    "model_estates_missing": (gettext_lazy("model estates missing"), gettext_lazy(
        "%(scheduled)s model estate(s) scheduled by %(year)s and %(existing)s built; %(needed)s needed")),
    "over_budget": (gettext_lazy("over budget"),
                    gettext_lazy("%(spent)s 万元 spent against a budget of %(budget)s 万元")),
}
UNIT_WORDS = {"estates": pgettext_lazy("unit after a number", "estates"),
              "households": pgettext_lazy("unit after a number", "households"), "floor_area": "m²"}


def _violation_words(violations: list[dict], county_code: str) -> list[dict]:
    """The rules a schedule breaks in the county, in the reader's language: {year, what, detail}. (A run
    kept before the numbers were stored with each one says what, without the numbers.)"""
    out = []
    for v in violations:
        if v.get("county") != county_code:
            continue
        what, detail = VIOLATION_WORDS.get(v.get("code"), (v.get("code"), None))
        params = {**v.get("params", {}), "year": v.get("year")}
        params["unit"] = UNIT_WORDS.get(params.get("unit"), params.get("unit"))
        params.update({k: wan(params[k]) for k in ("spent", "budget") if k in params})
        try:
            words = str(detail) % params if detail is not None and v.get("params") else ""
        except (KeyError, TypeError):
            words = ""
        out.append({"year": v.get("year"), "what": what, "detail": words})
    return out


def _reason_words(reasons: list[dict], county_code: str | None = None) -> list[str]:
    """Infeasibility reasons in the reader's language (the optimiser keeps English and Chinese)."""
    from django.utils.translation import get_language

    zh = (get_language() or "").startswith("zh")
    out = []
    for r in reasons:
        if county_code and r.get("county") != county_code:
            continue
        out.append(r.get("message_zh") if zh and r.get("message_zh") else r.get("message") or r.get("code"))
    return out


@login_required
@require_POST
@handles_service_errors
def plan_adopt(request, pk: int):
    plan = selectors.plan_get(request.user, pk)
    from .models import OptimisationRun

    run_id = whole_number(request.POST.get("run", ""))
    run = restrict(OptimisationRun.objects.all(), request.user).filter(pk=run_id).first() if run_id else None
    if run is None:
        raise NotFoundError()
    keys = None if request.POST.get("all") else request.POST.getlist("key")
    result = services.plan_adopt(actor=request.user, plan=plan, run=run, keys=keys)
    messages.success(request, _("Adopted: %(added)s added, %(moved)s moved, %(removed)s removed.") % result)
    return redirect("plans:detail", pk=plan.pk)


@login_required
@require_http_methods(["GET", "POST"])
@handles_service_errors
def region_optimise(request):
    """The optimiser on a city's or the province's pool: a background job, results per county."""
    period = _period(request)
    region = selectors.region_from_param(request.user, request.GET.get("region") or request.POST.get("region"))
    if request.method == "POST":
        if not services.can_optimise(request.user, region):
            raise PermissionDenied
        with transaction.atomic():
            job = job_start(actor=request.user, kind="plans.optimise", region=region,
                            params={"region": region.code, "period": period.label,
                                    "time_limit": 60 if region.level != RegionLevel.COUNTY else 30})
        messages.info(request, _("The optimiser is running as a background job."))
        return redirect("jobs:detail", pk=job.pk)
    run = selectors.latest_run(request.user, region, period)
    return render(request, "plans/region_optimise.html", {
        **_common(request, region, period), "run": run,
        "can_optimise": services.can_optimise(request.user, region),
        "reason_words": _reason_words(run.result.get("reasons", []) if run else [])})


# ---------------------------------------------------------------------------------------------
# roll-ups, rules, budgets, model estates


@login_required
@handles_service_errors
def plan_rollup(request):
    period = _period(request)
    region = selectors.region_from_param(request.user, request.GET.get("region"))
    rollup = selectors.plan_rollup(request.user, region, period, measure=request.GET.get("measure") or None)
    return render(request, "plans/plan_rollup.html", {
        **_common(request, region, period), "rollup": rollup, "measures": TargetMeasure.choices,
        "ancestors": [a for a in region.ancestors() if request.scope.covers(a.code)]})


RULES_TARGET_FIELDS = ("measure", "task", "model_estates_min", "model_estate_deadline", "report_due_day")
RULES_COST_FIELDS = ("basic", "improvement", "enhancement", "area_per_household")
RULES_MODEL_FIELDS = ("estate", "completed_on", "note")


@login_required
@require_http_methods(["GET", "POST"])
@handles_service_errors
def rules(request):
    region = selectors.region_from_param(request.user, request.GET.get("region") or request.POST.get("region"))
    here = f"{reverse('plans:rules')}?region={region.code}"
    if request.method == "POST":
        what = request.POST.get("what")
        if what not in ("targets", "costs", "period", "model_estate"):
            return HttpResponseBadRequest()
        typed = {}
        try:
            if what == "targets":
                if request.POST.get("action") == "delete":
                    services.target_rule_delete(actor=request.user, region=region)
                else:
                    typed = {k: request.POST.get(k, "")[:40] for k in RULES_TARGET_FIELDS}
                    # the rows as typed, an empty row left out; the service names a problem by its place here
                    typed["milestones"] = [
                        {"year": y[:12], "share": s[:12]} for y, s in zip(
                            request.POST.getlist("milestone_year")[:20], request.POST.getlist("milestone_share")[:20],
                            strict=False) if str(y).strip() or str(s).strip()]
                    services.target_rule_save(
                        actor=request.user, region=region, measure=typed["measure"], milestones=typed["milestones"],
                        task=typed["task"] or None, model_estates_min=typed["model_estates_min"],
                        model_estate_deadline=typed["model_estate_deadline"] or None,
                        report_due_day=typed["report_due_day"])
            elif what == "costs":
                if request.POST.get("action") == "delete":
                    services.unit_costs_delete(actor=request.user, region=region)
                else:
                    typed = {k: request.POST.get(k, "")[:40] for k in RULES_COST_FIELDS}
                    services.unit_costs_save(actor=request.user, region=region, **typed)
            elif what == "period":
                services.period_create(actor=request.user, start_year=request.POST.get("start_year"),
                                       end_year=request.POST.get("end_year"), name=request.POST.get("name", ""),
                                       is_default=request.POST.get("is_default") in ("on", "1", "true"))
            else:
                typed = {k: request.POST.get(k, "").strip()[:200 if k == "note" else 40] for k in RULES_MODEL_FIELDS}
                estate = restrict(Estate.objects.select_related("county"), request.user).filter(
                    code=typed["estate"][:32]).first()
                services.model_estate_register(actor=request.user, estate=estate, estate_code=typed["estate"],
                                               completed_on=typed["completed_on"], note=typed["note"])
        except ServiceError as exc:
            if not typed:
                raise
            return _refused(request, exc, f"{here}#rules-{what}", form=f"rules-{region.code}-{what}",
                            values=typed, lines=exc.fields.get("milestones", []) if what == "targets" else ())
        messages.success(request, _("Saved."))
        return redirect(here)
    kept = _kept_input(request, f"rules-{region.code}-")
    kept_form = kept["form"].rsplit("-", 1)[1] if kept else ""
    own_target = TargetRule.objects.filter(region=region).first()
    own_costs = UnitCosts.objects.filter(region=region).first()
    rule_region = region if region.level == RegionLevel.COUNTY or region.code == "33" else None
    t = targets_for(region.code) if region.level == RegionLevel.COUNTY else targets_for("33")
    c = costs_for(region.code) if region.level == RegionLevel.COUNTY else costs_for("33")
    scope = request.scope
    from .models import ModelEstate

    # the rules' own region by name (浙江省 or the county), not by code
    source = region if t.source_region == region.code else Region.objects.filter(code=t.source_region).first()

    # each form shows the rules in force, or what was typed when its save was just refused, with each
    # problem beside its box
    target_form = {"measure": t.measure, "task": plain_number(t.task), "model_estates_min": t.model_estates_min,
                   "model_estate_deadline": t.model_estate_deadline.isoformat(), "report_due_day": t.report_due_day,
                   "milestones": [{"year": m.year, "share": format(float(m.share) * 100, "g")} for m in t.milestones]}
    cost_form = {k: getattr(c, k) for k in RULES_COST_FIELDS}
    model_form = {}
    errors = kept.get("errors", {}) if kept else {}
    if kept_form in ("targets", "costs", "model_estate"):
        form = {"targets": target_form, "costs": cost_form, "model_estate": model_form}[kept_form]
        form.update(kept["values"])
    for i, row in enumerate(target_form["milestones"]):
        row["errors"] = errors.get(f"milestone_year_{i}", []) + errors.get(f"milestone_share_{i}", [])
        row["refused"] = {part for part in ("year", "share") if f"milestone_{part}_{i}" in errors}
    return render(request, "plans/rules.html", {
        "region": region, "rule_region": rule_region, "targets": t, "costs": c, "own_target": own_target,
        "targets_source": source.name if source is not None else t.source_region,
        "own_rules": t.source_region == region.code,
        "own_costs": own_costs, "measures": TargetMeasure.choices,
        "target_form": target_form, "cost_form": cost_form, "model_form": model_form,
        "errors": errors if kept_form in ("targets", "costs", "model_estate") else {}, "refused_form": kept_form,
        "can_edit_targets": rule_region is not None and scope.is_province_admin,
        "can_edit_costs": rule_region is not None and (scope.is_province_admin or (
            region.level == RegionLevel.COUNTY and workflow.holds(scope, Role.COUNTY_OFFICIAL, region.code))),
        "can_record_model": region.level == RegionLevel.COUNTY and (scope.is_province_admin or workflow.holds(
            scope, Role.COUNTY_OFFICIAL, region.code)),
        "model_estates": restrict(ModelEstate.objects.filter(county__code__startswith=region.code).select_related(
            "estate", "county"), request.user)[:200],
        "overrides": restrict(TargetRule.objects.exclude(region__code="33").filter(
            region__code__startswith=region.code).select_related("region"), request.user)[:200],
        "cost_overrides": restrict(UnitCosts.objects.exclude(region__code="33").filter(
            region__code__startswith=region.code).select_related("region"), request.user)[:200],
        "per_household": (c.area_per_household * (c.basic + c.improvement + c.enhancement)).quantize(1),
        "periods": selectors.periods_stored(), "can_add_period": scope.is_province_admin})


@login_required
@require_http_methods(["GET", "POST"])
@handles_service_errors
def budgets(request):
    period = _period(request)
    region = selectors.region_from_param(request.user, request.GET.get("region") or request.POST.get("region"))
    here = f"{reverse('plans:budgets')}?region={region.code}&period={period.label}"
    if request.method == "POST":
        if request.FILES.get("budget_file"):
            try:
                upload = request.FILES["budget_file"]
                if upload.size > MAX_UPLOAD:
                    raise ServiceError("budget_file_invalid", _("The budget file is too large (2 MB at most)."))
                result = services.budgets_import(actor=request.user, source=upload.read(), period=period)
            except ServiceError as exc:
                return _refused(request, exc, here, lines=exc.fields.get("rows", []))
            messages.success(request, _("Budget file read: %(created)s new, %(updated)s changed, %(unchanged)s "
                                        "unchanged.") % result)
        else:
            county = restrict(Region.objects.filter(level=RegionLevel.COUNTY), request.user).filter(
                code=request.POST.get("county", "")[:12]).first()
            if county is None:
                raise NotFoundError()
            amounts = {year: request.POST[f"budget_{year}"].strip() for year in period.years
                       if f"budget_{year}" in request.POST}
            try:
                services.budgets_set(actor=request.user, county=county, amounts=amounts)
            except ServiceError as exc:
                return _refused(request, exc, here, form=f"budgets-{county.code}",
                                values={str(y): v[:40] for y, v in amounts.items()},
                                lines=[p for problems in exc.fields.values() for p in problems])
            messages.success(request, _("Saved."))
        return redirect(here)
    kept = _kept_input(request, "budgets-")
    counties = list(selectors.counties_in(request.user, region))
    rows = {(b.county.code, b.year): b.budget_wan for b in selectors.budgets_for(request.user, region, period)}
    table = []
    for c in counties:
        typed = kept["values"] if kept and kept["form"] == f"budgets-{c.code}" else None
        cells = [{"year": y, "value": rows.get((c.code, y)),
                  "typed": None if typed is None else typed.get(str(y)),
                  "refused": bool(typed is not None and f"budget_{y}" in kept["fields"])} for y in period.years]
        table.append({"county": c, "cells": cells, "editable": services.can_manage_budget(request.user, c.code)})
    return render(request, "plans/budgets.html", {**_common(request, region, period), "table": table,
                                                  "years": period.years})


@login_required
@require_GET
@handles_service_errors
def export(request):
    period = _period(request)
    region = selectors.region_from_param(request.user, request.GET.get("region"))
    month = selectors.month_from_param(request.GET.get("month"), period, request.user, region)
    year = whole_number(request.GET.get("year") or "", max_digits=4)
    year = year if year and period.contains(year) else month.year if period.contains(month.year) else period.start_year
    tables = [t for t in (request.GET.get("tables") or "").split(",") if t] or list(TABLES)
    if any(t not in TABLES for t in tables):
        raise ServiceError("invalid", _("Unknown table; choose from %(tables)s.") % {"tables": ", ".join(TABLES)})
    import tempfile

    handle = tempfile.TemporaryFile()
    write_statistical_workbook(handle, user=request.user, region=region, period=period, month=month, year=year,
                               tables=tables)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=export_filename(region, month),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ---------------------------------------------------------------------------------------------
# monthly progress


@login_required
@handles_service_errors
def progress_list(request):
    region = selectors.region_from_param(request.user, request.GET.get("region"))
    reports = restrict(ProgressReport.objects.filter(county__code__startswith=region.code).select_related(
        "county", "submitted_by"), request.user).order_by("-month", "county__code")
    page = Paginator(reports, 50).get_page(request.GET.get("page"))
    own = [code for role, code in request.scope.memberships if role == Role.COUNTY_OFFICIAL and len(code) == 6]
    today = datetime.date.today()
    month = selectors.month_from_param(request.GET.get("month"), services.period_default(), request.user, region) \
        if request.GET.get("month") else today.replace(day=1)
    flags = selectors.reporting_flags(request.user, region, month)
    return render(request, "plans/progress_list.html", {
        "region": region, "page": page, "own_counties": Region.objects.filter(code__in=own), "flags": flags,
        "flag_words": selectors.FLAG_WORDS, "month": month, "this_month": today.strftime("%Y-%m")})


@login_required
@require_POST
@handles_service_errors
def progress_open(request):
    county = Region.objects.filter(code=request.POST.get("county", "")[:12], level=RegionLevel.COUNTY).first()
    if county is None:
        raise NotFoundError()
    report = services.progress_report_open(actor=request.user, county=county, month=request.POST.get("month", ""))
    return redirect("progress:detail", pk=report.pk)


ENTRY_PAGE = 100


@login_required
@require_http_methods(["GET", "POST"])
@handles_service_errors
def progress_detail(request, pk: int):
    report = get_object_or_404(restrict(ProgressReport.objects.select_related("county", "plan"), request.user), pk=pk)
    if request.method == "POST":
        rows = {}
        for key, value in request.POST.items():
            head, _dot, name = key.partition("-")
            estate_id = whole_number(head[1:]) if head.startswith("e") else None
            if estate_id is None or name not in services.ENTRY_FIELDS:
                continue
            rows.setdefault(estate_id, {})[name] = value
        n = services.progress_entries_update(actor=request.user, report=report, rows=rows)
        messages.success(request, _("%(n)s estate(s) updated.") % {"n": n})
        return redirect(f"{reverse('progress:detail', args=[report.pk])}?page={request.POST.get('page', 1)}")
    entries = report.entries.select_related("estate").order_by("plan_year", "estate__code")
    stage = request.GET.get("stage", "")
    if stage:
        if stage not in ProgressStage.values:
            raise ServiceError("invalid", _("Unknown stage."))
        entries = entries.filter(stage=stage)
    page = Paginator(entries, ENTRY_PAGE).get_page(request.GET.get("page"))
    can_edit = not report.is_locked and workflow.holds(request.scope, Role.COUNTY_OFFICIAL, report.county.code)
    summary = services.summary_values(report)
    return render(request, "plans/progress_detail.html", {
        "report": report, "page": page, "can_edit": can_edit, "stages": ProgressStage.choices, "stage": stage,
        "summary": summary})


@login_required
@require_POST
@handles_service_errors
def progress_submit(request, pk: int):
    report = get_object_or_404(restrict(ProgressReport.objects.select_related("county"), request.user), pk=pk)
    services.progress_report_submit(actor=request.user, report=report)
    messages.success(request, _("The report was submitted and is now locked."))
    return redirect("progress:detail", pk=report.pk)


# ---------------------------------------------------------------------------------------------
# dashboards


@login_required
@handles_service_errors
def dashboard(request):
    period = _period(request)
    region = selectors.region_from_param(request.user, request.GET.get("region"))
    month = selectors.month_from_param(request.GET.get("month"), period, request.user, region)
    d = selectors.dashboard(request.user, region, period, month, measure=request.GET.get("measure") or None)
    data = selectors.dashboard_data(d)
    county_rows = None
    if region.level == RegionLevel.COUNTY:
        county_rows = selectors.county_estates(request.user, region, period, month)
    return render(request, "plans/dashboard.html", {
        **_common(request, region, period), "d": d, "data": data, "month": month, "county_rows": county_rows,
        "ancestors": [a for a in region.ancestors() if request.scope.covers(a.code)],
        "measures": TargetMeasure.choices, "flag_words": selectors.FLAG_WORDS,
        "words": {"planned": _("Planned"), "target": _("Target"), "actual": _("Actual (completed)"),
                  "start_rate": _("Start rate (%)"), "completion_rate": _("Completion rate (%)"),
                  "no_data": _("no data")}})


@login_required
@require_GET
@handles_service_errors
def dashboard_map(request):
    """The county layer (GeoJSON, 2017 outlines with today's names and codes) for the choropleth."""
    from gaizao.estates import geo

    region = selectors.region_from_param(request.user, request.GET.get("region"))
    codes = dict(Region.objects.filter(level=RegionLevel.COUNTY, is_active=True).values_list("name", "code"))
    retired = dict(Region.objects.filter(level=RegionLevel.COUNTY, is_active=False).values_list("name", "code"))
    layer = geo.county_layer({**retired, **codes})
    prefix = region.code if region.level != RegionLevel.COUNTY else region.code[:4]
    layer["features"] = [f for f in layer["features"] if (f["properties"]["code"] or "").startswith(prefix)
                         or not f["properties"]["code"] and region.code == "33"]
    response = JsonResponse(layer)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@handles_service_errors
def estate_progress(request, pk: int):
    data = selectors.estate_progress(request.user, pk)
    return render(request, "plans/estate_progress.html", data)

