"""A job queued past the patience limit says why it waits: behind other jobs, or no worker running."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from gaizao.accounts.scoping import Role
from gaizao.core.models import Job, JobStatus
from gaizao.core.selectors import job_queue_note

from .conftest import make_user, page_client


def queued(region, minutes_ago: float, **fields) -> Job:
    job = Job.objects.create(kind="regions.reload", region=region, **fields)
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago))
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_no_note_while_patience_lasts_or_once_the_job_runs(zhejiang):
    assert job_queue_note(queued(zhejiang, 0.2)) is None
    assert job_queue_note(queued(zhejiang, 5, status=JobStatus.RUNNING, heartbeat_at=timezone.now())) is None


@pytest.mark.django_db
def test_a_long_wait_with_no_worker_running_says_so_on_the_job_page(zhejiang):
    admin = make_user(Role.PROVINCE_ADMIN, "queue-admin")
    job = queued(zhejiang, 5, created_by=admin)
    assert job_queue_note(job) == {"worker_missing": True}
    # a running job whose worker stopped reporting long ago is no sign of a worker
    queued(zhejiang, 60, status=JobStatus.RUNNING, heartbeat_at=timezone.now() - datetime.timedelta(hours=2))
    assert job_queue_note(job) == {"worker_missing": True}
    page = page_client(admin).get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert 'data-testid="queue-note"' in page and "db_worker" in page


@pytest.mark.django_db
def test_a_long_wait_behind_a_busy_worker_counts_the_jobs_ahead(zhejiang):
    queued(zhejiang, 10, status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    queued(zhejiang, 8)
    job = queued(zhejiang, 5)
    queued(zhejiang, 2)  # behind it, not ahead
    assert job_queue_note(job) == {"worker_missing": False, "ahead": 2}
