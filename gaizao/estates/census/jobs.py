"""Census imports as background jobs: the upload is stored, a job checks (and maybe writes) it.

`census_import_start` refuses at once what is plainly not a census file (too big, not a
spreadsheet by its content), so people hear about it without waiting; everything else is the
job's. A commit after a dry run starts a new job on the same stored file.

Stored uploads are not kept for ever: a committed import deletes its file as soon as it has succeeded,
and `census_uploads_cleanup` (the `gaizao census-cleanup` command, and each new upload in passing)
deletes files older than `CENSUS_UPLOAD_RETENTION_HOURS` unless a queued or running job still needs
them. Every deletion is stamped in the params of the jobs that used the file (`upload_deleted`) and
audited as the system, so nobody has to wonder where a file went.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gaizao.accounts.scoping import Action, scope_for
from gaizao.core.audit import record_change
from gaizao.core.errors import ErrorCode, NotFoundError, ServiceError
from gaizao.core.jobs import job_crash_text, job_start
from gaizao.core.models import AuditAction, Job, JobStatus
from gaizao.regions.models import Region

from .importer import census_import
from .reader import MAX_UPLOAD_BYTES, CensusFileError, limit, sniff_kind

JOB_KIND = "estates.census_import"
STORAGE_DIR = "census-uploads"
UPLOAD_DELETE_VERB = "estates.census_upload_delete"
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)

logger = logging.getLogger(__name__)


def can_import(user) -> bool:
    return scope_for(user).reaches_a_region(Action.CHANGE)


def home_region(user) -> Region:
    """The region an import job belongs to: the province for province admins, else the user's area
    (the common ancestor of several)."""
    scope = scope_for(user)
    prefixes = scope.prefixes(Action.CHANGE)
    if scope.is_province_admin or not prefixes:
        return Region.objects.get(code="33")
    common = prefixes[0]
    for prefix in prefixes[1:]:
        n = 0
        while n < min(len(common), len(prefix)) and common[n] == prefix[n]:
            n += 1
        common = common[:n]
    for length in (12, 9, 6, 4, 2):
        if len(common) >= length:
            region = Region.objects.filter(code=common[:length]).first()
            if region is not None:
                return region
    return Region.objects.get(code="33")


def census_import_start(*, actor, data: bytes, filename: str, dry_run: bool = True,
                        valid_only: bool = False) -> Job:
    """Store an upload and start a job that checks it (and writes it unless `dry_run`)."""
    if not can_import(actor):
        raise NotFoundError()
    max_bytes = limit("MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)
    if len(data) > max_bytes:
        raise CensusFileError(_("The file is larger than %(mb)d MB.") % {"mb": max_bytes // 2 ** 20},
                              fields={"reason": "too_large"})
    if not data:
        raise CensusFileError(_("The file is empty."))
    kind = sniff_kind(data)
    _cleanup_in_passing()
    name = default_storage.save(f"{STORAGE_DIR}/{uuid.uuid4().hex}.{kind}", ContentFile(data))
    return _start(actor=actor, path=name, filename=filename, kind=kind, dry_run=dry_run, valid_only=valid_only)


def census_commit_start(*, actor, job: Job, valid_only: bool = False) -> Job:
    """Import for real the file a dry-run job checked."""
    if job.kind != JOB_KIND or not job.params.get("path"):
        raise NotFoundError()
    job.refresh_from_db(fields=["status"])  # the stored status, not the caller's copy of it
    if not job.is_finished:
        raise ServiceError(ErrorCode.CENSUS_FILE_INVALID,
                           _("This check of the file has not finished yet; import it once it has."))
    if not default_storage.exists(job.params["path"]):
        raise ServiceError(ErrorCode.CENSUS_FILE_INVALID, _("The uploaded file is no longer kept; upload it again."))
    return _start(actor=actor, path=job.params["path"], filename=job.params.get("filename", ""),
                  kind=job.params.get("kind", ""), dry_run=False, valid_only=valid_only)


def _start(*, actor, path, filename, kind, dry_run, valid_only) -> Job:
    params = {"path": path, "filename": (filename or "")[:200], "kind": kind, "dry_run": bool(dry_run),
              "valid_only": bool(valid_only)}
    with transaction.atomic():
        return job_start(actor=actor, kind=JOB_KIND, region=home_region(actor), params=params)


def census_import_job(job: Job, progress) -> dict:
    """The job handler: read the stored upload and import it as the user who started the job."""
    params = job.params
    try:
        with default_storage.open(params["path"], "rb") as handle:
            data = handle.read()
    except (OSError, KeyError):
        raise ServiceError(ErrorCode.CENSUS_FILE_INVALID, _("The uploaded file is no longer kept; upload it again.")
                           ) from None
    # progress reported inside the import's transaction reaches the people watching (core/job_progress.py)
    result = census_import(actor=job.created_by, data=data, filename=params.get("filename", ""),
                           dry_run=params.get("dry_run", True), valid_only=params.get("valid_only", False),
                           progress=progress, cause=f"census import (job {job.pk}) {params.get('filename', '')}")
    if result.get("committed"):
        # the estates are written: the file is not needed again (once the import's transaction is
        # committed; a failure to delete leaves it to the retention cleanup, never fails the job)
        transaction.on_commit(lambda: _delete_after_commit(job, params["path"]), robust=True)
    return result


def _paths_in_use(*, except_job: Job | None = None) -> set[str]:
    """The stored uploads that a queued or running import job still needs."""
    jobs = Job.objects.filter(kind=JOB_KIND, status__in=ACTIVE_STATUSES)
    if except_job is not None:
        jobs = jobs.exclude(pk=except_job.pk)
    return {job.params.get("path") for job in jobs.only("params")}


def _delete_after_commit(job: Job, path: str) -> None:
    if path in _paths_in_use(except_job=job):
        return  # another import of the same file is waiting or running; it (or the cleanup) deletes it
    try:
        upload_delete(path=path, reason="committed", cause=f"census import committed (job {job.pk})")
    except OSError:
        logger.exception("census upload %s: not deleted after job %s", path, job.pk)


def upload_retention() -> timedelta:
    return timedelta(hours=max(0, settings.CENSUS_UPLOAD_RETENTION_HOURS))


def upload_delete(*, path: str, reason: str, cause: str, now=None) -> int:
    """Delete one stored upload; stamp and audit (as the system) each job that used it.

    The stamps and audit rows and the deletion go together: if the file cannot be deleted the
    transaction is rolled back and the error raised. Returns the number of jobs stamped.
    """
    now = now or timezone.now()
    stamp = {"at": now.isoformat(), "reason": reason}
    with transaction.atomic():
        jobs = list(Job.objects.select_related("region").filter(kind=JOB_KIND, params__path=path))
        for job in jobs:
            params = {**job.params, "upload_deleted": stamp}
            Job.objects.filter(pk=job.pk).update(params=params)
            record_change(actor=None, obj=job, action=AuditAction.UPDATE, before={"upload": path},
                          after={"upload": None, "upload_deleted": stamp}, verb=UPLOAD_DELETE_VERB, cause=cause)
        default_storage.delete(path)
    return len(jobs)


def census_uploads_cleanup(*, now=None) -> dict:
    """Delete stored uploads older than the retention whose jobs are neither queued nor running.

    One listdir of the upload folder and the file times; the jobs are looked at only when some
    file is old. Files of no job (a start that failed half way) are deleted the same way.
    Returns {"deleted": [paths], "kept_in_use": n, "kept_recent": n}.
    """
    now = now or timezone.now()
    cutoff = now - upload_retention()
    outcome = {"deleted": [], "kept_in_use": 0, "kept_recent": 0}
    try:
        _folders, names = default_storage.listdir(STORAGE_DIR)
    except FileNotFoundError:
        return outcome  # nothing uploaded yet
    old = []
    for name in sorted(names):
        path = f"{STORAGE_DIR}/{name}"
        try:
            modified = default_storage.get_modified_time(path)
        except FileNotFoundError:
            continue  # deleted meanwhile (a committed import, another cleanup)
        if modified < cutoff:
            old.append(path)
        else:
            outcome["kept_recent"] += 1
    if not old:
        return outcome
    in_use = _paths_in_use()
    hours = settings.CENSUS_UPLOAD_RETENTION_HOURS
    for path in old:
        if path in in_use:
            outcome["kept_in_use"] += 1
            continue
        upload_delete(path=path, reason="retention", now=now,
                      cause=f"census upload retention ({hours} h): older than {cutoff.isoformat(timespec='seconds')}")
        outcome["deleted"].append(path)
    return outcome


def _cleanup_in_passing() -> None:
    """Each new upload tidies up old ones; a storage problem here never stops the upload."""
    try:
        census_uploads_cleanup()
    except (OSError, NotImplementedError):
        logger.exception("census upload cleanup failed")


def job_report(job: Job) -> dict | None:
    """The import report of a finished job, whether it succeeded or was refused for bad rows."""
    result = job.result
    if not isinstance(result, dict):
        return None
    if "fields" in result and isinstance(result["fields"], dict) and "errors" in result["fields"]:
        return result["fields"]
    return result if "errors" in result else None


def job_outcome(job: Job, report: dict | None = None) -> dict:
    """What a census job came to, as its page and the list of recent imports say it: `state` and one
    line of `text`, plus the `reason` of a failure. States: "active" (queued or running: the page shows the
    step and the progress bar), "failed" (refused or stopped, with its reason; `crash` when an unexpected
    error stopped it, whose traceback only province admins see), "problems" (a check that
    found problems; nothing was imported), "ready" (a check that found none) and "imported"."""
    dry_run = job.params.get("dry_run", True)
    if not job.is_finished:
        mode = (_("Dry run") if dry_run else _("Import of the valid rows") if job.params.get("valid_only")
                else _("Import"))
        return {"state": "active", "text": f"{mode} · {job.get_status_display()}", "reason": ""}
    if report is None:
        report = job_report(job)
    if job.status == JobStatus.FAILED:
        crash = job_crash_text(job)  # as the job page says it; the traceback is for administrators
        return {"state": "failed", "text": _("Check failed") if dry_run else _("Import failed"),
                "reason": crash or job.error or "", "crash": crash is not None}
    report = report or {}
    problems = report.get("error_count", 0)
    if dry_run and problems:
        return {"state": "problems", "reason": "", "text": ngettext(
            "Check finished: %(n)d problem found (nothing was imported)",
            "Check finished: %(n)d problems found (nothing was imported)", problems) % {"n": problems}}
    if dry_run:
        estates = sum(report.get(k, 0) for k in ("created", "updated", "unchanged"))
        if not estates:
            return {"state": "ready", "reason": "", "text": _("Check finished: no problems found")}
        return {"state": "ready", "reason": "", "text": ngettext(
            "Check finished: %(n)d estate can be imported", "Check finished: %(n)d estates can be imported",
            estates) % {"n": estates}}
    return {"state": "imported", "reason": "", "text": _("Import finished")}
