"""Pages: the estate list, detail with pool actions, merged projects, the map and the rules."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.core.validators import MinValueValidator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gaizao.accounts.scoping import Action, restrict
from gaizao.core.errors import NotFoundError, ServiceError
from gaizao.regions.models import Region, RegionLevel
from gaizao.regions.selectors import region_choices_for

from . import selectors, services
from .filters import SORT_LABELS, page_form
from .models import EligibilityPolicy, Estate, EstateStatus, HousingType, PriorityWeights, RenovationProject

PAGE_SIZE = 50


# the pages' names of the fields the pool and merge services report (their forms' labels)
FIELD_LABELS = {"year": gettext_lazy("Pool year"), "to_year": gettext_lazy("Defer to year"),
                "reason": gettext_lazy("Reason"), "name": gettext_lazy("Project name")}
# fields whose values are stored codes (ineligible, pooled) that the message already says in words
CODE_FIELDS = {"rows", "status", "eligibility"}
LABELLED_MODELS = (Estate, RenovationProject, EligibilityPolicy, PriorityWeights)


def field_label(key: str) -> str | None:
    """A field key in the user's language: the form's label or the model field's verbose name."""
    if key in FIELD_LABELS:
        return str(FIELD_LABELS[key])
    for model in LABELLED_MODELS:
        try:
            return capfirst(model._meta.get_field(key).verbose_name)
        except FieldDoesNotExist:
            continue
    return None


def _error_text(exc: ServiceError, *, skip=()) -> str:
    """The message of a service error with the details it adds, in words: a field by its label, a list of
    estates as a list (330106-000008、330106-000009), an estate's own problem after its code; no raw keys, and
    nothing the message already says. `skip`: fields shown elsewhere (next to their form field)."""
    list_separator = pgettext("separator between list items", ", ")
    details = []
    for key, values in (exc.fields or {}).items():
        if key in CODE_FIELDS or key in skip:
            continue
        values = [str(v) for v in (values if isinstance(values, list | tuple) else [values])]
        values = [v for v in values if v and v not in exc.message]
        if not values:
            continue
        if key == "estates":  # estate codes
            details.append(list_separator.join(values))
            continue
        label = field_label(key) if key.isidentifier() else key  # not a field: an estate's code
        for value in values:
            details.append(_("%(key)s: %(value)s") % {"key": label, "value": value} if label else value)
    if not details:
        return exc.message
    pairs = pgettext("separator between key-value pairs", "; ").join(details[:10])
    return _("%(message)s (%(details)s)") % {"message": exc.message, "details": pairs}


# ---------------------------------------------------------------------------------------------
# list and detail


@login_required
@require_GET
def estate_list(request):
    params = selectors.list_params(request.GET)  # an unknown sort falls back to the default order
    estate_filter, rows = selectors.estate_list(user=request.user, params=params)
    _page_filter_form(request, estate_filter)
    counts, listed = selectors.list_status_counts(user=request.user, params=params, rows=rows)
    paginator = Paginator(rows, PAGE_SIZE)
    paginator.__dict__["count"] = listed
    page = paginator.get_page(request.GET.get("page"))
    query = params.copy()
    query.pop("page", None)
    sort = params.get("sort", "")
    status_links = []
    for value, label in EstateStatus.choices:
        q = query.copy()
        q.setlist("status", [value])
        status_links.append({"value": value, "label": label, "count": counts.get(value, 0), "query": q.urlencode(),
                             "active": request.GET.getlist("status") == [value]})
    sort_links = []
    for value, label in SORT_LABELS:
        q = query.copy()
        q["sort"] = value
        sort_links.append({"label": label, "query": q.urlencode(), "active": (sort or "code") == value})
    return render(request, "estates/estate_list.html", {
        "filter": estate_filter, "page": page, "counts": counts, "status_links": status_links,
        "sort_links": sort_links, "can_change": bool(request.scope.prefixes(Action.CHANGE)) or
        request.scope.is_superuser, "this_year": timezone.localdate().year,
        "all_query": _without(query, "status"),
        "export_query": _without(query, "format"), "sort": sort, "has_region": request.scope.reaches_a_region(),
    })


def _page_filter_form(request, estate_filter) -> None:
    """The list's and the map's filter form: regions as a drop-down of those in scope, checkbox groups."""
    page_form(estate_filter, region_choices=region_choices_for(user=request.user,
                                                               selected=request.GET.get("region", "")))


def _without(query, key):
    q = query.copy()
    q.pop(key, None)
    return q.urlencode()


@login_required
@require_GET
def estate_detail(request, pk: int):
    try:
        context = selectors.estate_detail(user=request.user, pk=pk)
    except Estate.DoesNotExist:
        raise Http404 from None
    context["this_year"] = timezone.localdate().year
    return render(request, "estates/estate_detail.html", context)


# ---------------------------------------------------------------------------------------------
# pool actions (htmx: the pool panel is swapped in place)


def _pool_response(request, estate: Estate, error: str = "", action: str = ""):
    """The pool panel (htmx) or the estate's page after a pool action. After an error the panel keeps what was
    typed into the form of `action` (its reason, its year), so that nothing has to be typed again."""
    if request.htmx or error:
        context = selectors.estate_detail(user=request.user, pk=estate.pk)
        context.update(this_year=timezone.localdate().year, pool_error=error,
                       pool_done="" if error else _("Saved."))
        if error:
            context["typed"] = {"action": action, **{key: request.POST.get(key, "")
                                                     for key in ("year", "to_year", "reason")}}
        return render(request, "estates/_pool_panel.html" if request.htmx else "estates/estate_detail.html",
                      context)
    messages.success(request, _("Saved."))
    return redirect("estates:detail", pk=estate.pk)


def _changeable(request, pk: int) -> Estate:
    try:
        return selectors.estate_changeable(user=request.user, pk=pk)
    except NotFoundError:
        raise Http404 from None


def _pool_transition(request, pk: int, action: str, transition) -> HttpResponse:
    """One pool transition (a service called with the actor and the estate) and the panel or page after it."""
    estate = _changeable(request, pk)
    try:
        transition(actor=request.user, estate=estate)
    except ServiceError as exc:
        return _pool_response(request, estate, _error_text(exc), action)
    return _pool_response(request, estate)


@login_required
@require_POST
def estate_admit(request, pk: int):
    return _pool_transition(request, pk, "admit",
                            lambda **who: services.estate_admit(**who, year=request.POST.get("year")))


@login_required
@require_POST
def estate_defer(request, pk: int):
    return _pool_transition(request, pk, "defer", lambda **who: services.estate_defer(
        **who, reason=request.POST.get("reason", ""), to_year=request.POST.get("to_year") or None))


@login_required
@require_POST
def estate_drop(request, pk: int):
    return _pool_transition(request, pk, "drop", lambda **who: services.estate_drop(
        **who, reason=request.POST.get("reason", "")))


@login_required
@require_POST
def estate_readmit(request, pk: int):
    return _pool_transition(request, pk, "readmit",
                            lambda **who: services.estate_readmit(**who, year=request.POST.get("year")))


def _chosen(request) -> list[int] | None:
    """The estates ticked for a bulk action, all of them the user's to change; None (and a message) when
    some are not: the action is all or nothing."""
    chosen = request.POST.getlist("estates")
    try:
        return selectors.estate_ids_changeable(user=request.user, ids=chosen) if chosen else []
    except NotFoundError:
        messages.error(request, _("Some of the chosen estates are not yours to change; nothing was done."))
        return None


def _back_to_list(request):
    back = request.POST.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("estates:list")


@login_required
@require_POST
def estates_admit_bulk(request):
    ids = _chosen(request)
    if ids is None:
        return _back_to_list(request)
    if not ids:
        messages.error(request, _("Choose at least one estate."))
        return _back_to_list(request)
    try:
        n = services.estates_admit(actor=request.user, estates=ids, year=request.POST.get("year"))
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("%(n)s estates admitted to the pool.") % {"n": n})
    return _back_to_list(request)


@login_required
@require_POST
def estates_merge(request):
    ids = _chosen(request)
    if ids is None:
        return _back_to_list(request)
    try:
        project = services.estates_merge(actor=request.user, estates=ids, name=request.POST.get("name", ""))
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return _back_to_list(request)
    messages.success(request, _("Project %(code)s created.") % {"code": project.code})
    return redirect("estates:project", pk=project.pk)


@login_required
@require_GET
def project_detail(request, pk: int):
    try:
        context = selectors.project_detail(user=request.user, pk=pk)
    except RenovationProject.DoesNotExist:
        raise Http404 from None
    return render(request, "estates/project_detail.html", context)


@login_required
@require_POST
def project_dissolve(request, pk: int):
    project = get_object_or_404(restrict(RenovationProject.objects.all(), request.user, Action.CHANGE), pk=pk)
    try:
        services.project_dissolve(actor=request.user, project=project, reason=request.POST.get("reason", ""))
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("The project was dissolved; its estates stand alone again."))
    return redirect("estates:project", pk=project.pk)


# ---------------------------------------------------------------------------------------------
# map


@login_required
@require_GET
def estate_map(request):
    params = selectors.list_params(request.GET)
    estate_filter, _rows = selectors.estate_list(user=request.user, params=params)
    _page_filter_form(request, estate_filter)
    return render(request, "estates/estate_map.html", {"filter": estate_filter, "query": params.urlencode(),
                                                       "export_query": _without(params, "format"),
                                                       "has_region": request.scope.reaches_a_region()})


@login_required
@require_GET
def estate_map_data(request):
    try:
        data = selectors.map_data(user=request.user, params=request.GET)
    except ServiceError as exc:
        return JsonResponse({"mode": "error", "message": exc.message, "fields": exc.fields}, status=400)
    if data.get("mode") == "error":  # what is wrong, in the words the list page shows next to the fields
        return JsonResponse({"mode": "error", "message": data["message"], "fields": data["errors"]}, status=400)
    data["detail_url"] = reverse("estates:detail", args=[0]).replace("/0/", "/{id}/")
    return JsonResponse(data)


@login_required
@require_GET
def estate_map_counties(request):
    response = JsonResponse(selectors.county_layer())
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ---------------------------------------------------------------------------------------------
# rules


class PolicyForm(forms.ModelForm):
    priority_housing_types = forms.MultipleChoiceField(
        label=gettext_lazy("Priority housing types"), choices=HousingType.choices, required=False,
        widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = EligibilityPolicy
        fields = ["cutoff_year", "exclude_shantytown", "priority_housing_types", "hazard_route", "min_willingness"]


class WeightsForm(forms.ModelForm):
    class Meta:
        model = PriorityWeights
        fields = ["age", "age_full_years", "basic_item", "improvement_item", "enhancement_item", "deficiency_cap",
                  "willingness", "priority_housing", "hazard"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the service's rule, checked with the other fields so that every error shows at once, next to its field
        for field in self.fields.values():
            field.validators.append(MinValueValidator(0, message=_("Weights cannot be negative.")))
            field.widget.attrs.setdefault("min", 0)


def _errors_to_fields(exc: ServiceError, forms_: tuple[forms.Form, ...]) -> None:
    """A service's field errors next to those fields of `forms_`; the rest (and the message) above the first."""
    placed = set()
    for key, values in (exc.fields or {}).items():
        form = next((f for f in forms_ if key in f.fields), None)
        if form is not None:
            for value in values if isinstance(values, list | tuple) else [values]:
                form.add_error(key, str(value))
            placed.add(key)
    forms_[0].add_error(None, _error_text(exc, skip=placed))


@login_required
@require_GET
def rules_overview(request):
    if not request.scope.reaches_a_region():  # the rules are for officials
        raise Http404
    return render(request, "estates/rules_overview.html", selectors.rules_overview(user=request.user))


def _rules_region(request, code: str) -> Region:
    """The province (readable by everyone with a region) or a county in the user's scope."""
    if not (request.scope.is_superuser or request.scope.prefixes(Action.VIEW)):
        raise Http404
    if code == services.PROVINCE_CODE:
        return get_object_or_404(Region, code=code)
    return get_object_or_404(restrict(Region.objects.filter(level=RegionLevel.COUNTY), request.user), code=code)


@login_required
@require_http_methods(["GET", "POST"])
def rules_edit(request, code: str):
    region = _rules_region(request, code)
    can_edit = services.rules_can_edit(request.user, region)
    policy, weights = selectors.rules_rows(region)
    if request.method == "POST":
        if not can_edit:
            raise Http404
        policy_form = PolicyForm(request.POST, instance=policy, prefix="policy")
        weights_form = WeightsForm(request.POST, instance=weights, prefix="weights")
        valid = [form.is_valid() for form in (policy_form, weights_form)]  # both checked: every error at once
        if all(valid):
            try:
                result = services.rules_save(
                    actor=request.user, region=region,
                    policy={f: policy_form.cleaned_data[f] for f in PolicyForm.Meta.fields},
                    weights={f: weights_form.cleaned_data[f] for f in WeightsForm.Meta.fields})
            except ServiceError as exc:
                _errors_to_fields(exc, (policy_form, weights_form))
            else:
                if "job" in result:
                    messages.info(request, _("The rules were saved; %(n)s estates are re-evaluated in the "
                                             "background.") % {"n": result["estates"]})
                    return redirect("jobs:detail", pk=result["job"])
                messages.success(request, _("The rules were saved: %(evaluated)s estates re-evaluated, %(changed)s "
                                            "changed.") % result)
                return redirect("estates:rules-edit", code=region.code)
    else:
        policy_form = PolicyForm(instance=policy, prefix="policy")
        weights_form = WeightsForm(instance=weights, prefix="weights")
    if not can_edit:
        for form in (policy_form, weights_form):
            for field in form.fields.values():
                field.disabled = True
    return render(request, "estates/rules_edit.html", {
        "region": region, "policy_form": policy_form, "weights_form": weights_form, "can_edit": can_edit,
        "is_override": region.code != services.PROVINCE_CODE and policy.pk is not None,
        "is_province": region.code == services.PROVINCE_CODE,
    })


@login_required
@require_POST
def rules_reset(request, code: str):
    region = _rules_region(request, code)
    if not services.rules_can_edit(request.user, region) or region.code == services.PROVINCE_CODE:
        raise Http404
    try:
        result = services.rules_override_delete(actor=request.user, region=region)
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return redirect("estates:rules-edit", code=region.code)
    if "job" in result:
        return redirect("jobs:detail", pk=result["job"])
    messages.success(request, _("%(name)s follows the province default again.") % {"name": region.name})
    return redirect("estates:rules-edit", code=region.code)
