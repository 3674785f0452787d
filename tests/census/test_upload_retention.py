"""Stored census uploads are deleted once imported for real, or when older than the retention and no
queued or running job needs them; each deletion is stamped on the jobs and audited. Real files in the
per-test media folder, real jobs run by the job runner."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.core.jobs import execute_job
from gaizao.core.models import AuditEntry, Job, JobStatus
from gaizao.estates.census.jobs import (
    JOB_KIND,
    STORAGE_DIR,
    UPLOAD_DELETE_VERB,
    census_commit_start,
    census_import_start,
    census_uploads_cleanup,
)
from gaizao.estates.models import Estate

from ..conftest import make_user
from .sheets import good_row, xlsx_bytes

pytestmark = pytest.mark.django_db

NO_LONGER_KEPT = "The uploaded file is no longer kept; upload it again."


@pytest.fixture
def admin(zhejiang):
    return make_user(Role.PROVINCE_ADMIN, username="admin-uploads")


@pytest.fixture
def start(admin, django_capture_on_commit_callbacks):
    """Store an upload and create its job (not yet run)."""
    def _start(*rows, dry_run=True, actor=None):
        with django_capture_on_commit_callbacks(execute=False):
            return census_import_start(actor=actor or admin, data=xlsx_bytes(list(rows) or [good_row(1)]),
                                       filename="county.xlsx", dry_run=dry_run)
    return _start


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a job as the worker does: its on-commit work (deleting a committed file) happens too."""
    def _run(job):
        with django_capture_on_commit_callbacks(execute=True):
            status = execute_job(job)
        job.refresh_from_db()
        return status
    return _run


def stored(job) -> Path:
    return Path(default_storage.path(job.params["path"]))


def age(job, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(stored(job), (then, then))


def deletions(job):
    return AuditEntry.objects.filter(verb=UPLOAD_DELETE_VERB, object_id=str(job.pk))


def test_the_retention_setting_defaults_to_72_hours():
    from django.conf import settings

    assert "CENSUS_UPLOAD_RETENTION_HOURS" not in os.environ
    assert settings.CENSUS_UPLOAD_RETENTION_HOURS == 72


def test_committed_import_deletes_its_file_and_says_so(start, run, admin):
    dry = start(good_row(1), good_row(2))
    assert stored(dry).is_file() and stored(dry).parent.name == STORAGE_DIR
    assert run(dry) == JobStatus.SUCCEEDED and stored(dry).is_file()  # a dry run keeps it for the commit
    commit = census_commit_start(actor=admin, job=dry)
    assert run(commit) == JobStatus.SUCCEEDED and Estate.objects.count() == 2
    assert not stored(commit).exists()
    for job in (dry, commit):
        job.refresh_from_db()
        assert job.params["upload_deleted"]["reason"] == "committed"
        entry = deletions(job).get()
        assert entry.actor is None and entry.actor_name == "system" and entry.region_code == "33"
        assert entry.before == {"upload": job.params["path"]} and entry.after["upload"] is None
        assert entry.cause == f"census import committed (job {commit.pk})"
    # an import committed straight away (no dry run) deletes its file too
    direct = start(good_row(3), dry_run=False)
    assert run(direct) == JobStatus.SUCCEEDED and not stored(direct).exists()
    assert direct.params["upload_deleted"]["reason"] == "committed"


def test_failed_committed_import_keeps_its_file_for_a_valid_only_retry(start, run, admin):
    job = start(good_row(1), good_row(2, **{"户数": "很多"}), dry_run=False)
    assert run(job) == JobStatus.FAILED and stored(job).is_file() and "upload_deleted" not in job.params
    retry = census_commit_start(actor=admin, job=job, valid_only=True)
    assert run(retry) == JobStatus.SUCCEEDED and Estate.objects.count() == 1 and not stored(retry).exists()


def test_dry_run_file_is_kept_until_old(start, run, settings):
    job = start()
    assert run(job) == JobStatus.SUCCEEDED
    age(job, 71)
    outcome = census_uploads_cleanup()
    assert outcome == {"deleted": [], "kept_in_use": 0, "kept_recent": 1} and stored(job).is_file()
    age(job, 73)
    assert census_uploads_cleanup()["deleted"] == [job.params["path"]] and not stored(job).exists()
    job.refresh_from_db()
    assert job.params["upload_deleted"]["reason"] == "retention"
    assert "census upload retention (72 h)" in deletions(job).get().cause
    # the retention is a setting
    settings.CENSUS_UPLOAD_RETENTION_HOURS = 2
    short = start()
    run(short)
    age(short, 1)
    assert census_uploads_cleanup()["deleted"] == []
    age(short, 3)
    assert census_uploads_cleanup()["deleted"] == [short.params["path"]]


def test_old_file_is_removed_by_the_command(start, run):
    old, recent = start(good_row(1)), start(good_row(2))
    run(old), run(recent)
    age(old, 100)
    stray = Path(default_storage.path(f"{STORAGE_DIR}/stray.xlsx"))  # a file of no job
    stray.write_bytes(b"x")
    os.utime(stray, (time.time() - 100 * 3600,) * 2)
    out = io.StringIO()
    call_command("census_cleanup", stdout=out)
    assert not stored(old).exists() and stored(recent).is_file() and not stray.exists()
    assert f"deleted {old.params['path']}" in out.getvalue()
    assert "deleted 2 uploads older than 72 h; kept 0 of queued or running jobs and 1 recent" in out.getvalue()
    assert deletions(old).count() == 1 and not deletions(recent).exists()
    # nothing left to do: a second run deletes nothing, and an empty or missing folder is fine
    call_command("census_cleanup", stdout=(again := io.StringIO()))
    assert "deleted 0 uploads" in again.getvalue()


def test_the_command_is_spelled_with_a_hyphen():
    result = subprocess.run([sys.executable, "-m", "gaizao.cli", "help", "census-cleanup"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "CENSUS_UPLOAD_RETENTION_HOURS" in result.stdout


def test_no_folder_yet_is_nothing_to_do():
    assert census_uploads_cleanup() == {"deleted": [], "kept_in_use": 0, "kept_recent": 0}


def test_file_of_a_running_or_queued_job_is_never_removed(start, run, admin):
    running, queued = start(good_row(1)), start(good_row(2), dry_run=False)
    Job.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING)
    age(running, 500), age(queued, 500)
    assert census_uploads_cleanup() == {"deleted": [], "kept_in_use": 2, "kept_recent": 0}
    assert stored(running).is_file() and stored(queued).is_file()
    call_command("census_cleanup", stdout=io.StringIO())
    assert stored(running).is_file() and stored(queued).is_file()
    assert not AuditEntry.objects.filter(verb=UPLOAD_DELETE_VERB).exists()
    # a commit of the same file waiting behind a committed one keeps the file until it has run too
    Job.objects.filter(pk=running.pk).update(status=JobStatus.SUCCEEDED)
    first, second = census_commit_start(actor=admin, job=running), census_commit_start(actor=admin, job=running)
    assert run(first) == JobStatus.SUCCEEDED and stored(second).is_file()
    assert run(second) == JobStatus.SUCCEEDED and not stored(second).exists()
    assert Estate.objects.filter(name="测试小区1").count() == 1  # the second commit changed nothing


def test_a_new_upload_cleans_up_in_passing(start, run):
    old = start()
    run(old)
    age(old, 80)
    fresh = start(good_row(5))
    assert not stored(old).exists() and stored(fresh).is_file()
    old.refresh_from_db()
    assert old.params["upload_deleted"]["reason"] == "retention"


@translation.override("en")  # the message is checked in its English source wording
def test_rerun_after_cleanup_is_a_clear_error_not_a_500(start, run, admin, client, settings):
    job = start(good_row(1))
    run(job)
    age(job, 73)
    census_uploads_cleanup()
    with pytest.raises(ServiceError) as exc:
        census_commit_start(actor=admin, job=job)
    assert (exc.value.code, exc.value.message) == ("census_file_invalid", NO_LONGER_KEPT)
    client.force_login(admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(reverse("census:commit", args=[job.pk]), {"valid_only": "1"})
    assert response.status_code == 400 and NO_LONGER_KEPT in response.content.decode()
    assert Job.objects.filter(kind=JOB_KIND).count() == 1 and Estate.objects.count() == 0
    # the job page and its error list still work without the file
    assert client.get(reverse("census:import", args=[job.pk])).status_code == 200
    # a job whose file went away while it waited fails with the same message
    waiting = start(good_row(2), dry_run=False)
    stored(waiting).unlink()
    assert run(waiting) == JobStatus.FAILED and waiting.error == NO_LONGER_KEPT
