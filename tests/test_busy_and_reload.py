"""A second region reload joins the first instead of queueing the same work; a database held by another
writer past the wait answers 503 'busy, try again', never a bare 500."""

import json
import sqlite3

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from django.urls import reverse

from gaizao.accounts.scoping import Role
from gaizao.core.models import Job, JobStatus
from gaizao.core.views import error_500

from .conftest import api_client_for, make_user, page_client


@pytest.mark.django_db
def test_a_second_reload_gives_the_job_already_waiting(zhejiang, django_capture_on_commit_callbacks):
    admin, other = make_user(Role.PROVINCE_ADMIN, "reload-a"), make_user(Role.PROVINCE_ADMIN, "reload-b")
    with django_capture_on_commit_callbacks(execute=False):
        first = api_client_for(admin).post(reverse("api:region-reload"))
        second = api_client_for(other).post(reverse("api:region-reload"))
        page = page_client(admin).post(reverse("regions:reload"))
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert page["Location"] == reverse("jobs:detail", args=[first.json()["id"]])
    assert Job.objects.filter(kind="regions.reload").count() == 1

    Job.objects.filter(pk=first.json()["id"]).update(status=JobStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=False):
        again = api_client_for(admin).post(reverse("api:region-reload"))
    assert again.json()["id"] != first.json()["id"] and Job.objects.filter(kind="regions.reload").count() == 2


def locked_error(tmp_path) -> OperationalError:
    """The error SQLite really gives a writer while another connection holds the write lock."""
    path = str(tmp_path / "locked.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        waiter.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return OperationalError(*exc.args)
    finally:
        holder.close()
        waiter.close()
    raise AssertionError("the second writer was not refused")


def answer_while_handling(exc: Exception, path: str):
    request = RequestFactory().post(path)
    try:
        raise exc
    except Exception:  # the handler reads the exception being handled, as Django calls it
        return error_500(request)


@pytest.mark.django_db
def test_a_locked_database_answers_busy_on_pages_and_api(tmp_path):
    error = locked_error(tmp_path)
    page = answer_while_handling(error, "/login/")
    assert page.status_code == 503 and page["Retry-After"] == "10"
    assert "Nothing was saved" in page.content.decode() or "未保存" in page.content.decode()
    api = answer_while_handling(error, "/api/v1/regions/reload/")
    assert api.status_code == 503 and json.loads(api.content)["code"] == "database_busy"


@pytest.mark.django_db
def test_other_errors_stay_500():
    assert answer_while_handling(OperationalError("no such table: x"), "/login/").status_code == 500
    assert answer_while_handling(ValueError("database is locked"), "/api/v1/x/").status_code == 500


@pytest.mark.django_db
def test_the_middleware_answers_busy_for_a_view_stopped_by_the_lock(tmp_path, settings):
    """With DEBUG on (make demo) Django shows its own error page instead of handler500; the middleware
    answers before that."""
    from gaizao.core.middleware import DatabaseBusyMiddleware

    settings.DEBUG = True
    middleware = DatabaseBusyMiddleware(lambda request: None)
    answer = middleware.process_exception(RequestFactory().post("/login/"), locked_error(tmp_path))
    assert answer.status_code == 503 and answer["Retry-After"] == "10"
    assert middleware.process_exception(RequestFactory().post("/login/"), ValueError("x")) is None
