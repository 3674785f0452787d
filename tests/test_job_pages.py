"""Job pages in words: a job kind's name (registered by its app), the result as a list of names and values,
a link to where the result is shown, and a failed job that says 失败 once, with its reason."""

import re

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role
from gaizao.core import job_kinds
from gaizao.core.job_kinds import job_kind_label, register_job_kind
from gaizao.core.jobs import execute_job, job_start
from gaizao.core.models import Job, JobStatus

from .conftest import make_user, page_client


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def restore_kinds():
    saved = dict(job_kinds._kinds)
    yield
    job_kinds._kinds.clear()
    job_kinds._kinds.update(saved)


@pytest.fixture
def admin(zhejiang):
    return make_user(Role.PROVINCE_ADMIN, username="jobs-words-admin")


def finished(region, user, kind, status, **fields) -> Job:
    return Job.objects.create(kind=kind, region=region, created_by=user, status=status, **fields)


@pytest.mark.django_db
def test_a_registered_kind_is_named_on_the_list_the_page_and_the_home_page(zhejiang, admin):
    job = finished(zhejiang, admin, "regions.reload", JobStatus.FAILED, progress=55, message="失败",
                   error="区划文件第 3 行有误")
    client = page_client(admin)
    listing = text_of(client.get(reverse("jobs:list")).content.decode())
    assert "区划重新加载" in listing and "regions.reload" not in listing
    detail = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert f"<h1>区划重新加载 <span class=\"muted\">#{job.pk}</span></h1>" in detail
    assert "<title>区划重新加载 #" in detail
    home = text_of(client.get(reverse("home")).content.decode())
    assert f"区划重新加载 #{job.pk} 失败" in home and "regions.reload" not in home


@pytest.mark.django_db
def test_an_unregistered_kind_reads_as_stored(zhejiang, admin):
    job = finished(zhejiang, admin, "test.unnamed", JobStatus.SUCCEEDED, progress=100)
    assert job_kind_label("test.unnamed") == "test.unnamed" and str(job) == f"test.unnamed #{job.pk}"
    assert "test.unnamed" in text_of(page_client(admin).get(reverse("jobs:list")).content.decode())


@pytest.mark.django_db
def test_the_result_is_a_list_of_names_and_values_not_a_python_dict(zhejiang, admin):
    reload_job = finished(zhejiang, admin, "regions.reload", JobStatus.SUCCEEDED, progress=100,
                          result={"created": 0, "updated": 2, "unchanged": 12345, "files": ["/srv/x.csv"],
                                  "defaults_created": 0})
    page = page_client(admin).get(reverse("jobs:detail", args=[reload_job.pk])).content.decode()
    result = page.split('data-testid="job-result"', 1)[1].split("</dl>", 1)[0]
    assert "<dt>未变区划</dt><dd>12,345</dd>" in result and "<dt>更新区划</dt><dd>2</dd>" in result
    assert "/srv/x.csv" not in result  # the kind lists the keys it wants shown
    other = finished(zhejiang, admin, "test.unnamed", JobStatus.SUCCEEDED, progress=100,
                     result={"bound": 514540.8937, "feasible": True, "reasons": [], "run": 6})
    text = text_of(page_client(admin).get(reverse("jobs:detail", args=[other.pk])).content.decode())
    assert "bound 514,540.89" in text and "feasible 是" in text and "reasons —" in text
    assert "{'" not in text and "True" not in text


@pytest.mark.django_db
def test_the_job_page_links_to_where_the_result_is_shown(zhejiang, admin, restore_kinds):
    register_job_kind("test.optimise", label="测试优化",
                      result_url=lambda job: f"/plans/optimise/?region={job.params['region']}",
                      result_labels={"objective": "目标值"})
    done = finished(zhejiang, admin, "test.optimise", JobStatus.SUCCEEDED, progress=100, params={"region": "3301"},
                    result={"objective": 12.5, "run": 3})
    client = page_client(admin)
    page = client.get(reverse("jobs:detail", args=[done.pk])).content.decode()
    assert 'href="/plans/optimise/?region=3301" data-testid="job-result-link">查看结果</a>' in page
    assert "<dt>目标值</dt><dd>12.5</dd>" in page
    # the live part the page polls carries the link too, once the job is done
    partial = client.get(reverse("jobs:detail", args=[done.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="job-result-link"' in partial
    failed = finished(zhejiang, admin, "test.optimise", JobStatus.FAILED, progress=40, params={"region": "3301"},
                      error="预算不足")
    assert "前往测试优化" in client.get(reverse("jobs:detail", args=[failed.pk])).content.decode()
    # a link its kind cannot make (an old job without the parameter) is left out, not a 500
    old = finished(zhejiang, admin, "test.optimise", JobStatus.SUCCEEDED, progress=100, result={})
    response = client.get(reverse("jobs:detail", args=[old.pk]))
    assert response.status_code == 200 and 'data-testid="job-result-link"' not in response.content.decode()
    # every job page leads back to the job list
    assert f'href="{reverse("jobs:list")}"' in response.content.decode()


def handler_fails_half_way(job, progress):
    progress(55, "导入第 55 行")
    raise ValueError("boom")


@pytest.mark.django_db
def test_a_failed_job_says_failed_once_with_its_reason_and_no_half_full_bar(zhejiang, admin, monkeypatch, tmp_path,
                                                                          django_capture_on_commit_callbacks):
    from gaizao.core import jobs as core_jobs

    bad = tmp_path / "bad.csv"  # a region file with an error: the job fails with a clean reason
    bad.write_text("code,name,level,parent_code\n37,山东省,province,\n3701,济南市,city,38\n", encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=False):
        job = job_start(actor=admin, kind="regions.reload", region=zhejiang, params={"paths": [str(bad)]})
    assert execute_job(job) == JobStatus.FAILED
    page = page_client(admin).get(reverse("jobs:detail", args=[job.pk])).content.decode()
    progress = page.split('id="job-progress"', 1)[1].split("</section>", 1)[0]
    assert text_of(progress).count("失败") == 1 and "<progress" not in progress
    job.refresh_from_db()
    assert job.error and job.error.splitlines()[0] in text_of(progress)

    monkeypatch.setitem(core_jobs.JOB_HANDLERS, "test.crash", f"{__name__}.handler_fails_half_way")
    with django_capture_on_commit_callbacks(execute=False):
        crash = job_start(actor=admin, kind="test.crash", region=zhejiang)
    assert execute_job(crash) == JobStatus.FAILED
    crash.refresh_from_db()
    assert crash.progress == 55  # the API keeps where it stopped
    admin_page = text_of(page_client(admin).get(reverse("jobs:detail", args=[crash.pk])).content.decode())
    assert admin_page.count("失败") == 1 and "系统内部错误" in admin_page and "技术细节" in admin_page
    county = make_user(Role.COUNTY_OFFICIAL, username="jobs-words-county")
    Job.objects.filter(pk=crash.pk).update(created_by=county)
    county_page = page_client(county).get(reverse("jobs:detail", args=[crash.pk])).content.decode()
    assert "系统内部错误" in county_page and "Traceback" not in county_page and "ValueError" not in county_page
    listing = page_client(county).get(reverse("jobs:list")).content.decode()
    row = listing.split(f'href="{reverse("jobs:detail", args=[crash.pk])}"', 1)[1].split("</tr>", 1)[0]
    assert "55%" not in row and "失败" in row


# --- census imports on the generic job pages ----------------------------------

def census_job(client, capture, rows, *, mode: str) -> Job:
    """A census upload run through the real task handler, as the upload page starts it (the census tests' helper,
    reached as a module attribute so that their tests are not collected here)."""
    from .census import test_import_status
    from .census.sheets import xlsx_bytes

    return test_import_status.upload_and_run(client, capture, xlsx_bytes(rows), mode=mode)


def job_row(listing: str, job: Job) -> str:
    return listing.split(f'href="{reverse("jobs:detail", args=[job.pk])}"', 1)[1].split("</tr>", 1)[0]


@pytest.mark.django_db
def test_a_census_check_with_problems_reads_as_such_on_the_job_list_and_page(zhejiang,
                                                                            django_capture_on_commit_callbacks):
    """/jobs/ listed a census dry run that found problems as 成功, and its page listed the stored result with
    raw keys (filename, dry_run, valid_only, error_count …) and the errors as one long line."""
    from .census.sheets import good_row

    county = make_user(Role.COUNTY_OFFICIAL, username="jobs-census-county")
    client = page_client(county)
    bad = [good_row(1), good_row(2, **{"建成年份": "19x5"}), good_row(3, **{"户数": "很多", "楼栋数": "几栋"})]
    check = census_job(client, django_capture_on_commit_callbacks, bad, mode="dry_run")
    assert check.status == JobStatus.SUCCEEDED and check.result["error_count"] == 3
    said = "检查完成：发现 3 个问题（未导入任何数据）"
    row = text_of(job_row(client.get(reverse("jobs:list")).content.decode(), check))
    assert said in row and "成功" not in row
    page = client.get(reverse("jobs:detail", args=[check.pk])).content.decode()
    progress = page.split('id="job-progress"', 1)[1].split("</section>", 1)[0]
    assert f'<strong data-testid="job-status">{said}</strong>' in progress and "成功" not in text_of(progress)
    result = page.split('data-testid="job-result"', 1)[1].split("</dl>", 1)[0]
    assert re.findall(r"<dt>([^<]*)</dt>", result) == ["读取行数", "新增小区", "变更小区", "未变小区", "发现问题"]
    assert "<dt>发现问题</dt><dd>3</dd>" in result and "<dt>读取行数</dt><dd>3</dd>" in result
    for raw in ("filename", "dry_run", "valid_only", "error_count", "errors", "sheet", "reason"):
        assert raw not in text_of(result), raw
    assert f'href="{reverse("census:import", args=[check.pk])}"' in page  # the census page shows the rest

    fine = census_job(client, django_capture_on_commit_callbacks, [good_row(1), good_row(2)], mode="dry_run")
    assert "检查完成：可以导入 2 个小区" in text_of(job_row(client.get(reverse("jobs:list")).content.decode(), fine))
    # a refused import: the list, the page and the home page's to-do say what failed
    refused = census_job(client, django_capture_on_commit_callbacks, bad, mode="import")
    assert refused.status == JobStatus.FAILED
    assert "导入失败" in text_of(job_row(client.get(reverse("jobs:list")).content.decode(), refused))
    page = client.get(reverse("jobs:detail", args=[refused.pk])).content.decode()
    assert '<strong data-testid="job-status">导入失败</strong>' in page
    home = text_of(client.get(reverse("home")).content.decode())
    assert f"摸底数据导入 #{refused.pk}：导入失败" in home


@pytest.mark.django_db
def test_a_kind_outcome_is_used_when_given_else_the_status_label(zhejiang, admin, restore_kinds):
    register_job_kind("test.outcome", label="测试任务",
                      outcome=lambda job: f"完成 {job.result['n']} 项" if job.result else None)
    client = page_client(admin)
    done = finished(zhejiang, admin, "test.outcome", JobStatus.SUCCEEDED, progress=100, result={"n": 7})
    bare = finished(zhejiang, admin, "test.outcome", JobStatus.SUCCEEDED, progress=100, result=None)
    broken = finished(zhejiang, admin, "test.outcome", JobStatus.SUCCEEDED, progress=100, result={"m": 1})
    running = finished(zhejiang, admin, "test.outcome", JobStatus.RUNNING, progress=40, result={"n": 2})
    listing = client.get(reverse("jobs:list")).content.decode()
    assert "完成 7 项" in job_row(listing, done)
    assert "成功" in text_of(job_row(listing, bare)) and "成功" in text_of(job_row(listing, broken))
    assert '<strong data-testid="job-status">完成 7 项</strong>' in client.get(
        reverse("jobs:detail", args=[done.pk])).content.decode()
    home = text_of(client.get(reverse("home")).content.decode())
    assert f"测试任务 #{running.pk}：完成 2 项，已完成 40%" in home
