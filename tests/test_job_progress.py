"""A job's progress reaches the people watching it also while the job's own transaction is open
(the write of a large census import), and such a job is not mistaken for one whose worker died."""

from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from gaizao.core import jobs as core_jobs
from gaizao.core.job_progress import ProgressReporter, live_file
from gaizao.core.jobs import execute_job, jobs_fail_stale
from gaizao.core.models import Job, JobStatus
from gaizao.regions.models import Region

WATCHED: list[tuple[int, str]] = []


def _watch(job_id: int, committed_row: tuple) -> tuple[int, str]:
    """The job as someone else sees it while the job's transaction is open: on PostgreSQL through another
    connection; on SQLite as another process in WAL mode does, the row as last committed (the test
    database lives in memory, where a second connection cannot read during a write) loaded as a model."""
    if connection.vendor == "postgresql":
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT progress, message FROM core_job WHERE id = %s", [job_id])
                return tuple(cursor.fetchone())
        finally:
            other.close()
    job = Job.from_db("default", FIELDS, committed_row)
    return job.progress, job.message


FIELDS = [f.attname for f in Job._meta.concrete_fields]


def writing_handler(job, progress):
    """A job that, like the census import, reports progress while its transaction is open."""
    progress(10, "reading")
    committed = Job.objects.filter(pk=job.pk).values_list(*FIELDS).get()
    with transaction.atomic():
        Region.objects.filter(code="33").update(name="浙江省")  # a write: the transaction holds the lock
        progress(70, "writing 7 of 10")
        WATCHED.append(_watch(job.pk, committed))
        progress(90, "writing 9 of 10")
        WATCHED.append(_watch(job.pk, committed))
    return {"ok": True}


@pytest.mark.django_db(transaction=True)
def test_progress_inside_the_jobs_transaction_is_visible_while_it_runs(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setitem(core_jobs.JOB_HANDLERS, "test.writing", f"{__name__}.writing_handler")
    region, _ = Region.objects.get_or_create(code="33", defaults={"name": "浙江省", "level": "province"})
    job = Job.objects.create(kind="test.writing", region=region)
    WATCHED.clear()

    assert execute_job(job) == JobStatus.SUCCEEDED

    assert WATCHED == [(70, "writing 7 of 10"), (90, "writing 9 of 10")]
    job.refresh_from_db()
    assert (job.status, job.progress) == (JobStatus.SUCCEEDED, 100)
    assert not live_file(job.pk).exists()  # nothing left behind once the job is over


@pytest.mark.django_db
def test_a_job_reporting_from_inside_its_transaction_is_not_taken_for_dead(settings, tmp_path, zhejiang):
    settings.VAR_DIR = tmp_path
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 5)
    busy = Job.objects.create(kind="regions.reload", region=zhejiang, status=JobStatus.RUNNING, heartbeat_at=long_ago)
    dead = Job.objects.create(kind="regions.reload", region=zhejiang, status=JobStatus.RUNNING, heartbeat_at=long_ago)
    reporter = ProgressReporter(busy.pk)
    reporter._write_file({"progress": 80, "message": "writing", "heartbeat_at": timezone.now()})
    old = ProgressReporter(dead.pk)
    old._write_file({"progress": 75, "message": "writing", "heartbeat_at": long_ago})

    assert jobs_fail_stale() == 1

    busy.refresh_from_db()
    dead.refresh_from_db()
    assert (busy.status, busy.progress, busy.message) == (JobStatus.RUNNING, 80, "writing")
    assert dead.status == JobStatus.FAILED
    reporter.close()
    busy.refresh_from_db()
    assert busy.progress == 0  # the row's own value once the live file is gone
