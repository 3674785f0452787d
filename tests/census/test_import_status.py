"""What a census job's page and the upload page's list say it came to: one clear 失败 with its reason and
no progress bar stopped half way; a check that found problems says so and that nothing was imported; a
check without problems says how many estates can be imported."""

import io
import re

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role
from gaizao.core.jobs import execute_job
from gaizao.core.models import Job, JobStatus
from gaizao.estates.census.jobs import JOB_KIND

from ..conftest import make_user
from .sheets import good_row, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def official(client):
    user = make_user(Role.COUNTY_OFFICIAL, username="xihu-status")
    client.force_login(user)
    return user


def upload_and_run(client, capture, data: bytes, *, mode: str, name: str = "西湖区.xlsx") -> Job:
    upload = io.BytesIO(data)
    upload.name = name
    with capture(execute=False):
        assert client.post(reverse("census:upload"), {"file": upload, "mode": mode}).status_code == 302
    job = Job.objects.filter(kind=JOB_KIND).latest("pk")
    execute_job(job)
    job.refresh_from_db()
    return job


def status_part(page: str) -> str:
    """The job's status card (before the report)."""
    return page.split('data-testid="import-report"', 1)[0].split('data-testid="import-status"', 1)[1]


def outcome_of(page: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(r'data-testid="import-outcome"[^>]*>(.*?)</p>', page, re.S).group(1))


def page_of(client, job: Job) -> str:
    return client.get(reverse("census:import", args=[job.pk])).content.decode()


BAD = [good_row(1), good_row(2, **{"建成年份": "19x5"}), good_row(3, **{"户数": "很多", "楼栋数": "几栋"})]


def test_a_failed_import_says_failed_once_with_its_reason_and_no_progress_bar(client, official,
                                                                              django_capture_on_commit_callbacks):
    job = upload_and_run(client, django_capture_on_commit_callbacks, xlsx_bytes(BAD), mode="import")
    assert job.status == JobStatus.FAILED and 0 < job.progress < 100  # stopped where the check found problems
    page = page_of(client, job)
    status = status_part(page)
    assert outcome_of(page) == "导入失败"
    assert status.count("失败") == 1 and "· 失败" not in status
    assert "3 个问题" in status and "未导入任何数据" in status  # the reason
    assert page.count("未导入任何数据") == 1  # said once, not again above the report
    assert "<progress" not in status and f"{job.progress}%" not in status


def test_a_file_refused_while_reading_fails_without_a_progress_bar(client, official, django_capture_on_commit_callbacks):
    data = xlsx_bytes([["只是", "一些", "文字"]], headers=["甲", "乙", "丙"])
    job = upload_and_run(client, django_capture_on_commit_callbacks, data, mode="dry_run")
    assert job.status == JobStatus.FAILED
    page = page_of(client, job)
    assert outcome_of(page) == "检查失败"
    assert "<progress" not in status_part(page) and 'data-testid="import-failed"' in page


def test_a_dry_run_with_problems_says_how_many_and_that_nothing_was_imported(client, official,
                                                                             django_capture_on_commit_callbacks):
    job = upload_and_run(client, django_capture_on_commit_callbacks, xlsx_bytes(BAD), mode="dry_run")
    assert job.status == JobStatus.SUCCEEDED  # the check ran; the file has problems
    page = page_of(client, job)
    assert outcome_of(page) == "检查完成：发现 3 个问题（未导入任何数据）"
    assert "成功" not in status_part(page) and "<progress" not in status_part(page)
    listing = client.get(reverse("census:upload")).content.decode()
    assert "检查完成：发现 3 个问题（未导入任何数据）" in listing and "成功" not in listing


def test_a_dry_run_without_problems_says_how_many_estates_can_be_imported(client, official,
                                                                          django_capture_on_commit_callbacks):
    job = upload_and_run(client, django_capture_on_commit_callbacks, xlsx_bytes([good_row(1), good_row(2)]),
                         mode="dry_run")
    page = page_of(client, job)
    assert outcome_of(page) == "检查完成：可以导入 2 个小区"
    assert 'data-testid="commit"' in page
    commit = upload_and_run(client, django_capture_on_commit_callbacks, xlsx_bytes([good_row(1)]), mode="import")
    assert outcome_of(page_of(client, commit)) == "导入完成"


def test_a_job_that_crashed_says_so_plainly_and_only_an_admin_sees_the_traceback(client, official,
                                                                                  django_capture_on_commit_callbacks):
    job = upload_and_run(client, django_capture_on_commit_callbacks, xlsx_bytes([good_row(1)]), mode="dry_run")
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, result=None, progress=40,
                                         error='OSError: disk full\nTraceback (most recent call last):\n  File "x"')
    page = page_of(client, job)
    assert outcome_of(page) == "检查失败" and "任务因系统内部错误而中止，未保存任何内容；请告知管理员。" in page
    assert "OSError" not in page and "Traceback" not in page
    client.force_login(make_user(Role.PROVINCE_ADMIN, username="census-status-admin"))
    page = page_of(client, job)
    assert "技术细节" in page and "OSError: disk full" in page


def test_a_running_job_shows_its_step_and_progress(client, official, django_capture_on_commit_callbacks):
    upload = io.BytesIO(xlsx_bytes([good_row(1)]))
    upload.name = "x.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("census:upload"), {"file": upload, "mode": "dry_run"})
    job = Job.objects.filter(kind=JOB_KIND).latest("pk")
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, progress=45, message="已检查 1 行")
    status = status_part(page_of(client, job))
    assert "试运行 · 运行中" in status and "已检查 1 行" in status and 'value="45"' in status
