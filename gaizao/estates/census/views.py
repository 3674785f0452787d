"""Census pages: template download, upload with a dry-run preview, the error list, commit, export."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from gaizao.accounts.scoping import Action, restrict, scope_for
from gaizao.core.errors import ServiceError
from gaizao.core.models import Job, JobStatus
from gaizao.core.selectors import job_queue_note
from gaizao.regions.models import Region, RegionLevel

from .errorbook import error_workbook
from .exporter import export_bytes
from .jobs import JOB_KIND, can_import, census_commit_start, census_import_start, job_outcome, job_report
from .reader import MAX_UPLOAD_BYTES, limit
from .selectors import export_queryset
from .template import template_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# what a commit would write: estates, buildings and households created or changed
WRITE_COUNTS = ("created", "updated", "buildings_created", "buildings_updated", "households_created",
                "households_updated")


def _attachment(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(filename)}"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


def _require_importer(request) -> None:
    if not can_import(request.user):
        raise Http404


def scope_counties(user) -> list[Region]:
    """Counties the user may import into (for the template's list)."""
    scope = scope_for(user)
    counties = Region.objects.filter(level=RegionLevel.COUNTY, is_active=True).order_by("code")
    if scope.is_province_admin:
        return list(counties)
    prefixes = scope.prefixes(Action.CHANGE)
    return [c for c in counties if any(c.code.startswith(p) or p.startswith(c.code) for p in prefixes)]


@login_required
def template_download(request):
    _require_importer(request)
    return _attachment(template_bytes(counties=scope_counties(request.user)), "老旧小区调查摸底表-模板.xlsx", XLSX)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Census file (xlsx, xls, ods or csv)"))
    mode = forms.ChoiceField(label=gettext_lazy("What to do"), initial="dry_run", widget=forms.RadioSelect, choices=[
        ("dry_run", gettext_lazy("Check only (dry run): show what would be created and changed")),
        ("import", gettext_lazy("Import: all rows or nothing")),
        ("valid_only", gettext_lazy("Import only the valid rows and skip the invalid ones")),
    ])


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    _require_importer(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload_file = form.cleaned_data["file"]
            max_bytes = limit("MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)
            if upload_file.size > max_bytes:
                form.add_error("file", _("The file is larger than %(mb)d MB.") % {"mb": max_bytes // 2 ** 20})
            else:
                mode = form.cleaned_data["mode"]
                try:
                    job = census_import_start(actor=request.user, data=upload_file.read(),
                                              filename=upload_file.name or "", dry_run=mode == "dry_run",
                                              valid_only=mode == "valid_only")
                except ServiceError as exc:
                    form.add_error("file", exc.message)
                else:
                    return redirect("census:import", pk=job.pk)
        status = 400
    jobs = list(restrict(Job.objects.filter(kind=JOB_KIND, created_by=request.user), request.user)[:10])
    for job in jobs:
        job.outcome = job_outcome(job)
    return render(request, "census/upload.html", {"form": form, "jobs": jobs,
                                                  "max_mb": limit("MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES) // 2 ** 20},
                  status=status)


def _import_job(request, pk: int, action: str = Action.VIEW) -> Job:
    jobs = restrict(Job.objects.select_related("region", "created_by").filter(kind=JOB_KIND), request.user, action)
    return get_object_or_404(jobs, pk=pk)


@login_required
def import_detail(request, pk: int):
    job = _import_job(request, pk)
    report = job_report(job) if job.is_finished else None
    context = {
        "job": job, "report": report, "JobStatus": JobStatus, "outcome": job_outcome(job, report),
        "can_commit": bool(report and report.get("dry_run") and job.status == JobStatus.SUCCEEDED
                           and can_import(request.user) and any(report.get(k) for k in WRITE_COUNTS)),
        "errors": (report or {}).get("errors", [])[:500], "queue_note": job_queue_note(job),
    }
    template = "census/_import_status.html" if request.htmx else "census/import_detail.html"
    return render(request, template, context)


@login_required
@require_POST
def commit(request, pk: int):
    job = _import_job(request, pk, Action.CHANGE)  # importing writes: viewing a job's region is not enough
    if not can_import(request.user):
        raise Http404
    try:
        new_job = census_commit_start(actor=request.user, job=job, valid_only=request.POST.get("valid_only") == "1")
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404 from None
        report = job_report(job)
        return render(request, "census/import_detail.html", {"job": job, "report": report,
                                                             "outcome": job_outcome(job, report),
                                                             "commit_error": exc.message, "errors": []}, status=400)
    return redirect("census:import", pk=new_job.pk)


@login_required
def errors_download(request, pk: int):
    job = _import_job(request, pk)
    report = job_report(job)
    if report is None:
        raise Http404
    data = None
    path = job.params.get("path")
    if path and default_storage.exists(path):
        with default_storage.open(path, "rb") as handle:
            data = handle.read()
    return _attachment(error_workbook(report, data), f"导入问题-{job.pk}.xlsx", XLSX)


@login_required
def export(request):
    fmt = request.GET.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        fmt = "xlsx"
    try:
        estates = export_queryset(request.GET, request.user)
    except ServiceError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        return _attachment(export_bytes(estates, "csv"), f"小区-{stamp}.csv", "text/csv; charset=utf-8")
    return _attachment(export_bytes(estates, "xlsx"), f"小区-{stamp}.xlsx", XLSX)


