"""Background jobs: a `Job` row people can watch, run by the django-tasks worker.

A job kind names a handler `fn(job, progress)` returning a JSON-ready result.
Apps register their kinds in `JOB_HANDLERS` by dotted path, so this module
imports no app code at import time, and name them for people (label, result
page) with `core.job_kinds.register_job_kind` in their `AppConfig.ready()`.
"""

from __future__ import annotations

import traceback
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django_tasks import task

from .errors import ErrorCode, ServiceError
from .job_progress import ProgressReporter
from .models import Job, JobStatus
from .request_context import current_request_id, request_id_bound

# begins the traceback that a job stopped by an unexpected error keeps in its `error` (for administrators)
CRASH_MARK = "Traceback (most recent call last)"


def job_crash_text(job: Job) -> str | None:
    """What people read of a job stopped by an unexpected error (its traceback is for administrators), or
    None when the job did not crash (it ran, or was refused with a reason of its own)."""
    if job.status != JobStatus.FAILED or CRASH_MARK not in (job.error or ""):
        return None
    return _("The job stopped on an error on our side. Nothing of it was saved; please tell your administrator.")

JOB_HANDLERS: dict[str, str] = {
    "regions.reload": "gaizao.regions.jobs.regions_reload_job",
    "plans.optimise": "gaizao.plans.jobs.plans_optimise_job",
    "estates.recompute": "gaizao.estates.jobs.estates_recompute_job",
    "estates.census_import": "gaizao.estates.census.jobs.census_import_job",
}


def job_start(*, actor, kind: str, region, params: dict | None = None) -> Job:
    """Create a job and enqueue it for the worker (after the surrounding transaction commits)."""
    if kind not in JOB_HANDLERS:
        raise ServiceError(ErrorCode.JOB_KIND_UNKNOWN, _("Unknown job kind: %(kind)s") % {"kind": kind})
    job = Job.objects.create(kind=kind, region=region, params=params or {}, created_by=actor,
                             request_id=current_request_id(), message=_("Waiting for the worker"))

    def enqueue():
        result = run_job.enqueue(job.pk)
        Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))

    transaction.on_commit(enqueue)
    return job


def jobs_fail_stale(*, now=None) -> int:
    """Mark running jobs that stopped reporting (their worker was killed) as failed.

    Their own writes were in one transaction, so nothing of them is left behind; this only tells
    the people watching. Called by the worker before each job and by the job pages and API.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    # read first: pages poll this while an import holds SQLite's write lock, and an UPDATE would wait for it
    # (a job reporting progress from inside its transaction is alive: Job.from_db took its live heartbeat)
    stale = [job.pk for job in Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
             if job.heartbeat_at < cutoff]
    if not stale:
        return 0
    return Job.objects.filter(pk__in=stale, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
        status=JobStatus.FAILED, finished_at=now, message=_("Failed"),
        error=_("The job stopped without finishing (its worker was stopped). Nothing of it was saved; "
                "start it again."),
    )


@task()
def run_job(job_id: int) -> str:
    jobs_fail_stale()
    job = Job.objects.select_related("created_by", "region").get(pk=job_id)
    if job.status != JobStatus.QUEUED:
        return job.status
    return execute_job(job)


def execute_job(job: Job) -> str:
    """Run a job's handler; its writes are the handler's own transaction, so a failure leaves nothing."""
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=timezone.now(),
                                         heartbeat_at=timezone.now())
    handler = import_string(JOB_HANDLERS[job.kind])
    reporter = ProgressReporter(job.pk)

    def progress(pct: int, message: str) -> None:
        values = reporter(pct, message)
        job.progress, job.message = values["progress"], values["message"]

    with request_id_bound(job.request_id or f"job-{job.pk}"):
        try:
            result = handler(job, progress)
        except ServiceError as exc:
            _finish(job, JobStatus.FAILED, error=exc.message, result={"code": exc.code, "fields": exc.fields})
            return JobStatus.FAILED
        except Exception as exc:  # the job failed; keep the reason for the people watching it
            _finish(job, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
            return JobStatus.FAILED
        finally:
            reporter.close()
    _finish(job, JobStatus.SUCCEEDED, result=result)
    return JobStatus.SUCCEEDED


def _finish(job: Job, status: str, *, result=None, error: str = "") -> None:
    Job.objects.filter(pk=job.pk).update(
        status=status, finished_at=timezone.now(), result=result, error=error,
        progress=100 if status == JobStatus.SUCCEEDED else job.progress,
        message=_("Finished") if status == JobStatus.SUCCEEDED else _("Failed"),
    )
