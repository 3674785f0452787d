"""The estates app names its audit verbs, its stored derived values and its job kinds for people, so the
history, audit and job pages read in words (纳入项目库, reasons in sentences, 摸底数据导入 with a link to
the import) instead of estates.admit, raw dicts and estates.census_import."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from gaizao.accounts.scoping import Role
from gaizao.core.models import Job, JobStatus
from gaizao.estates.services import estate_admit, estate_defer, estates_recompute

from ..conftest import make_user, page_client
from .factories import make_estate


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.django_db
def test_the_history_of_an_estate_reads_in_words(zhejiang):
    official = make_user(Role.COUNTY_OFFICIAL, username="estate-words")
    estate = make_estate("330106004053", name="词语小区", built_year=1990, in_historic_district=True)
    estates_recompute(county_ids=[estate.county_id], cause="rules changed")
    estate_admit(actor=official, estate=estate, year=2024)
    estate_defer(actor=official, estate=estate, reason="居民意见未统一", to_year=timezone.localdate().year)
    text = text_of(page_client(official).get(reverse("audit:history", args=["estates.estate", estate.pk]))
                   .content.decode())
    for words in ("纳入项目库", "暂缓至以后年度", "位于历史文化街区"):
        assert words in text, words
    for raw in ("estates.admit", "estates.defer", "estates.recompute", "'code'", "historic_district"):
        assert raw not in text, raw


@pytest.mark.django_db
def test_census_and_recompute_jobs_are_named_and_link_to_their_results(zhejiang):
    admin = make_user(Role.PROVINCE_ADMIN, username="estate-jobs-admin")
    census = Job.objects.create(kind="estates.census_import", region=zhejiang, created_by=admin,
                                status=JobStatus.SUCCEEDED, progress=100, result={"rows": 3})
    recompute = Job.objects.create(kind="estates.recompute", region=zhejiang, created_by=admin,
                                   status=JobStatus.SUCCEEDED, progress=100,
                                   result={"evaluated": 12, "changed": 3, "eligibility_changed": 1})
    client = page_client(admin)
    listing = text_of(client.get(reverse("jobs:list")).content.decode())
    assert "摸底数据导入" in listing and "小区条件与得分重算" in listing and "estates." not in listing
    census_page = client.get(reverse("jobs:detail", args=[census.pk])).content.decode()
    assert reverse("census:import", args=[census.pk]) in census_page
    recompute_page = text_of(client.get(reverse("jobs:detail", args=[recompute.pk])).content.decode())
    assert "结果有变的小区 3" in recompute_page and "条件判定有变的小区 1" in recompute_page
