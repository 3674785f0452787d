"""Filter labels read in the language of each request, whatever was asked before (the API schema, in English,
left the filter forms' auto-labelled fields reading "Level", "Action", "Status" for everyone until a restart)."""

import re

import pytest
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.core.filtering import FilterSet
from gaizao.core.filters import AuditFilter
from gaizao.estates.filters import EstateFilter
from gaizao.plans.filters import PlanFilter, ProgressReportFilter
from gaizao.plans.models import ActionPlan, ProgressReport
from gaizao.regions.filters import RegionFilter

from .conftest import make_user, page_client

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
# the filter forms of the pages, and a label each page must show in each language (the ones without a label of
# their own, worked out from the model's field)
PAGES = {
    "/regions/": {"zh-hans": "层级", "en": "Level"},
    "/audit/": {"zh-hans": "操作", "en": "Action"},
    "/estates/": {"zh-hans": "房屋类型", "en": "Housing type"},
}


def filter_labels(html: str) -> list[str]:
    form = re.search(r'<form method="get" class="filters"[^>]*>(.*?)</form>', html, re.S).group(1)
    return [label.strip() for label in re.findall(r"<(?:label|legend)>([^<]*)<", form)]


def plan_filter_labels() -> list[str]:
    labels = [str(f.label) for f in PlanFilter(queryset=ActionPlan.objects.none()).form]
    return labels + [str(f.label) for f in ProgressReportFilter(queryset=ProgressReport.objects.none()).form]


def assert_labels_in(client, language: str) -> None:
    client.cookies["django_language"] = language
    for url, words in PAGES.items():
        labels = filter_labels(client.get(url).content.decode())
        assert words[language] in labels, (url, labels)
        if language == "en":
            assert not [label for label in labels if CJK.search(label)], (url, labels)
        else:
            assert all(CJK.search(label) for label in labels), (url, labels)
    with translation.override(language):
        labels = plan_filter_labels()
        assert labels.count({"zh-hans": "状态", "en": "Status"}[language]) == 2, labels
        assert all(bool(CJK.search(label)) == (language == "zh-hans") for label in labels), labels


def test_filter_labels_follow_the_request_language_after_the_english_api_schema(zhejiang):
    client = page_client(make_user(Role.PROVINCE_ADMIN, username="labels-admin"))
    assert_labels_in(client, "zh-hans")
    assert client.get("/api/schema/").status_code == 200  # builds the filters' fields in English
    assert_labels_in(client, "zh-hans")
    assert_labels_in(client, "en")
    assert client.get("/api/schema/").status_code == 200
    assert_labels_in(client, "zh-hans")


def test_every_filterset_uses_the_core_base():
    for filterset in (RegionFilter, EstateFilter, AuditFilter, PlanFilter, ProgressReportFilter):
        assert issubclass(filterset, FilterSet), filterset
