import sys

from django import forms
from django.apps import apps
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import OperationalError, models
from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from gaizao.accounts.scoping import ScopedQuerySet, restrict
from gaizao.accounts.services import sign_in

from .api import error_body
from .audit import history_of
from .audit_display import describe_entries
from .errors import ErrorCode, ServiceError
from .filters import AuditFilter
from .job_kinds import job_result_rows, job_result_url
from .jobs import job_crash_text, jobs_fail_stale
from .models import AuditEntry, Job, JobStatus
from .params import whole_number
from .selectors import home_summary, job_queue_note


class SignInForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, max_length=256,
                               strip=False)


@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = sign_in(request=request, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
            status = exc.status if exc.status == 429 else 200
        else:
            login(request, user)
            return redirect(next_url or "home")
    return render(request, "core/login.html", {"form": form, "next": next_url}, status=status)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("login")


def favicon(request):
    # resolved per request: the static manifest of production exists only after collectstatic
    return HttpResponsePermanentRedirect(static("gaizao/favicon.svg"))


@login_required
def home(request):
    return render(request, "core/home.html", home_summary(user=request.user, scope=request.scope))


@login_required
def audit_list(request):
    if not request.scope.is_province_admin:
        raise Http404
    entries = restrict(AuditEntry.objects.select_related("object_type"), request.user)
    audit_filter = AuditFilter(request.GET, queryset=entries)
    try:
        rows = audit_filter.qs
    except ServiceError as exc:
        audit_filter.form.add_error(None, exc.message)
        rows = entries.none()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_list.html", {"filter": audit_filter, "page": page,
                                                    "entries": describe_entries(page.object_list)})


def _scoped_model(label: str):
    """The region-scoped model named `label` ("app.model"), else 404.

    Only region-scoped models have history pages. A label that names nothing, a swapped model (auth.User: its
    manager raises), a proxy of one, an unmanaged model, or a model outside the region scoping (accounts.User,
    content types, sessions, the admin log, tokens: their changes are on /audit/ for province admins) is 404."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise Http404 from None
    opts = model._meta
    if opts.abstract or opts.swapped or opts.concrete_model._meta.swapped or not opts.managed:
        raise Http404
    queryset_class = getattr(opts.default_manager, "_queryset_class", None)
    if not (isinstance(queryset_class, type) and issubclass(queryset_class, ScopedQuerySet)
            and queryset_class.scope_lookup):
        raise Http404
    return model


def _object_pk(model, object_id: str):
    """The object id as the model's primary key takes it; an id it cannot take names no object."""
    pk_field = model._meta.pk
    if isinstance(pk_field, models.IntegerField):  # AutoField and BigAutoField too: at most 64 bits
        pk = whole_number(object_id)
    else:
        try:
            pk = None if "\x00" in object_id else pk_field.to_python(object_id)
        except ValidationError:
            pk = None
    if pk is None:
        raise Http404
    return pk


@login_required
def object_history(request, object_type: str, object_id: str):
    """Every recorded change of one object the user can see."""
    model = _scoped_model(object_type)
    obj = get_object_or_404(restrict(model._default_manager.all(), request.user), pk=_object_pk(model, object_id))
    page = Paginator(history_of(obj).select_related("object_type"), 50).get_page(request.GET.get("page"))
    return render(request, "core/object_history.html", {"object": obj, "page": page, "object_type": object_type,
                                                        "entries": describe_entries(page.object_list)})


@login_required
def job_list(request):
    jobs_fail_stale()
    jobs = restrict(Job.objects.select_related("region", "created_by"), request.user)
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    return render(request, "core/job_list.html", {"page": page})


@login_required
def job_detail(request, pk: int):
    jobs_fail_stale()
    job = get_object_or_404(restrict(Job.objects.select_related("region", "created_by"), request.user), pk=pk)
    template = "core/_job_progress.html" if request.htmx else "core/job_detail.html"
    return render(request, template, {
        "job": job, "JobStatus": JobStatus, "queue_note": job_queue_note(job), "result_rows": job_result_rows(job),
        "result_url": job_result_url(job), "crash_text": job_crash_text(job)})


def error_404(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(ErrorCode.NOT_FOUND, _("Not found.")), status=404)
    return render(request, "404.html", status=404)


BUSY_RETRY_SECONDS = 10


def busy_response(request, exc):
    """503 'busy, try again' for a database held by another writer past the wait, else None.

    SQLite holds one writer at a time: a large import or a region reload can keep a login or a save
    waiting past the lock timeout. Nothing was written; the person may simply try again."""
    if not (isinstance(exc, OperationalError) and "database is locked" in str(exc)):
        return None
    message = _("The system is busy with a large job. Nothing was saved; please try again in a moment.")
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(ErrorCode.DATABASE_BUSY, message), status=503)
    else:
        response = render(request, "503.html", {"message": message}, status=503)
    response["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


def error_500(request):
    # (the view's own exceptions are answered by DatabaseBusyMiddleware; this covers the rest)
    busy = busy_response(request, sys.exc_info()[1])
    if busy is not None:
        return busy
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(ErrorCode.SERVER_ERROR, _("Something went wrong on our side.")), status=500)
    return render(request, "500.html", status=500)



def error_400(request, exception=None):
    return render(request, "400.html", status=400)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)
