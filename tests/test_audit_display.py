"""The history pages and the audit list show changes in words (field names, choice labels, related objects,
lists and mappings, verbs, object types); the audit API keeps the raw data."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from gaizao.accounts.scoping import Role
from gaizao.core import audit
from gaizao.core.audit import record_change, register_field_display, register_verbs, verb_label
from gaizao.core.display import number_text, plain_text
from gaizao.core.models import AuditAction
from gaizao.estates.services import estate_admit, estate_drop, estate_readmit

from .conftest import make_user, page_client
from .estates.factories import make_estate


def table_text(html: str) -> str:
    """The audit table's text, tags removed and spaces collapsed."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture
def readmitted(zhejiang):
    official = make_user(Role.COUNTY_OFFICIAL, username="audit-words")
    estate = make_estate("330106004053", name="文字小区", housing_type="commodity")
    estate_admit(actor=official, estate=estate, year=2024)
    estate_drop(actor=official, estate=estate, reason="居民不同意")
    estate_readmit(actor=official, estate=estate, year=2025)
    return official, estate


@pytest.fixture
def restore_registries():
    verbs, displays = dict(audit._verb_labels), dict(audit._field_displays)
    yield
    audit._verb_labels.clear()
    audit._verb_labels.update(verbs)
    audit._field_displays.clear()
    audit._field_displays.update(displays)


@pytest.mark.django_db
def test_history_page_names_fields_and_values_in_words(readmitted):
    official, estate = readmitted
    page = page_client(official).get(reverse("audit:history", args=["estates.estate", estate.pk]))
    text = table_text(page.content.decode())
    # field by verbose name, choice values by label (QA: "status: dropped → pooled")
    assert "状态： 已退出 → 已入库" in text and "状态： 已入库 → 已退出" in text
    assert "房屋类型： 商品房" in text
    assert "入库年份： — → 2024" in text and "入库年份： — → 2025" in text  # a year is not written 2,025
    # the object by its type's name, not "estates.estate #…"
    assert f"小区 #{estate.pk}" in text and "estates.estate #" not in text
    for raw in ("status:", "dropped", "pooled", "commodity", "housing_type： —", "eligibility_reasons", "{'", "['",
                "True", "None"):
        assert raw not in text, raw
    # lists and mappings as text: the eligibility reasons and the priority breakdown of the new estate
    assert "判定理由" in text and "优先级得分明细" in text
    # related objects by name: the estate's region and its deficiencies
    assert "行政区划： 石灰桥社区" in text and "县（市、区）： 西湖区" in text
    # a new object's values stand alone, without "— →" before each
    assert "房屋类型： 商品房" in text and "— → 商品房" not in text
    assert "状态原因： — → 居民不同意" in text


@pytest.mark.django_db
def test_history_page_in_english_too(readmitted):
    official, estate = readmitted
    client = page_client(official)
    client.cookies["django_language"] = "en"
    text = table_text(client.get(reverse("audit:history", args=["estates.estate", estate.pk]),
                                 HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "Status: Dropped → In the pool" in text and "Housing type: Commodity housing" in text


@pytest.mark.django_db
def test_verbs_are_named_where_registered_and_shown_raw_otherwise(readmitted, restore_registries):
    official, estate = readmitted
    register_verbs({"estates.readmit": "重新入库（测试）"})
    audit._verb_labels.pop("estates.drop", None)  # as if the estates app had not named it
    text = table_text(page_client(official).get(reverse("audit:history", args=["estates.estate", estate.pk]))
                      .content.decode())
    assert "重新入库（测试）" in text and "estates.readmit" not in text
    assert "estates.drop" in text  # no label registered: the stored verb, as the readable fallback
    assert verb_label("nobody.registered_this") == "nobody.registered_this"


@pytest.mark.django_db
def test_an_app_can_show_a_stored_value_its_own_way(readmitted, restore_registries):
    official, estate = readmitted
    register_field_display("estates.estate", "eligibility_reasons",
                           lambda reasons: "、".join(f"理由{r['code']}" for r in reasons))
    text = table_text(page_client(official).get(reverse("audit:history", args=["estates.estate", estate.pk]))
                      .content.decode())
    assert "理由built_by_cutoff" in text


@pytest.mark.django_db
def test_audit_list_shows_words_and_the_api_keeps_the_raw_data(readmitted, api_client):
    _official, estate = readmitted
    admin = make_user(Role.PROVINCE_ADMIN, username="audit-words-admin")
    record_change(actor=None, obj=estate, action=AuditAction.UPDATE, before={"note": {"a": 1, "b": [1, 2]}},
                  after={"note": {"a": 2, "b": [1, 2, 3]}}, verb="test.note")
    text = table_text(page_client(admin).get(reverse("audit:list"), {"object_type": "estates.estate",
                                                                     "object_id": estate.pk}).content.decode())
    assert "已退出 → 已入库" in text and "系统" in text  # actor "system" in words
    assert "a：1；b：1、2 → a：2；b：1、2、3" in text  # a key that is no field: its value still as text
    api_client.force_authenticate(admin)
    body = api_client.get("/api/v1/audit/", {"object_type": "estates.estate", "object_id": estate.pk}).json()
    readmit = next(e for e in body["results"] if e["verb"] == "estates.readmit")
    assert readmit["before"]["status"] == "dropped" and readmit["after"]["status"] == "pooled"
    assert readmit["object_type"] == "estates.estate"
    assert next(e for e in body["results"] if e["verb"] == "test.note")["after"] == {"note": {"a": 2, "b": [1, 2, 3]}}


def test_plain_text_of_stored_values():
    with translation.override("en"):
        assert plain_text({"bound": 514540.8937, "feasible": True, "gap": 0.0041}) == (
            "bound: 514,540.89; feasible: Yes; gap: 0.0041")
        assert plain_text([{"code": "x", "params": {"year": 1999}}]) == "(code: x; params: (year: 1999))"
        assert plain_text(list(range(50))) == "50 items"
        assert plain_text(None) == plain_text("") == plain_text([]) == "—"
    assert number_text(1234567) == "1,234,567" and number_text(2025) == "2025"


@pytest.mark.django_db
def test_audit_list_filters_have_labels_of_their_own(zhejiang):
    """django-filter's default labels add English lookup words: 区划代码 starts with, 时间 is less than."""
    page = page_client(make_user(Role.PROVINCE_ADMIN, username="audit-filter-labels")).get(
        reverse("audit:list"), {"since": "2026-12-01T00:00"}).content.decode()
    form = page.split('<form method="get" class="filters">', 1)[1].split("</form>", 1)[0]
    assert "区划代码开头为" in form and "时间起" in form and "时间止" in form
    for english in ("starts with", "greater than", "less than", "is "):
        assert english not in form, english
    assert 'type="datetime-local" name="since" value="2026-12-01T00:00"' in form
    assert '<option value="" selected>全部</option>' in form and "---------" not in form


def test_every_audit_verb_in_the_code_is_named_for_people():
    """A verb written by a service (verb="app.something") has a label, so the audit pages never show it raw."""
    import pathlib

    from django.utils import translation

    from gaizao.plans import workflow

    package = pathlib.Path(__file__).resolve().parent.parent / "gaizao"
    verbs = set()
    for path in package.rglob("*.py"):
        verbs |= set(re.findall(r'(?:verb=|_VERB = )"([a-z_]+\.[a-z_]+)"', path.read_text(encoding="utf-8")))
        if 'verb=f"plans.{step}"' in path.read_text(encoding="utf-8"):
            verbs |= {f"plans.{step.name}" for step in workflow.STEPS}
    assert len(verbs) > 40
    with translation.override("zh-hans"):
        unnamed = sorted(v for v in verbs if verb_label(v) == v)
    assert unnamed == []


def test_plain_text_shows_stored_date_times_in_local_time():
    """A date and time inside a stored mapping or list read 2026-12-03T19:58:22.831260+00:00 (UTC, ISO)."""
    with translation.override("en"):
        stamp = {"at": "2026-12-03T19:58:22.831260+00:00", "reason": "committed"}
        assert plain_text(stamp) == "at: 2026-12-04 03:58; reason: committed"  # Asia/Shanghai
        assert plain_text(["2026-12-03T19:58:22Z", "2026-12-03 08:05"]) == "2026-12-04 03:58, 2026-12-03 08:05"
        assert plain_text({"x": {"since": "2026-06-30T16:00:00+00:00"}}) == "x: (since: 2026-07-01 00:00)"
        # what only looks like one stays as stored: dates, codes, numbers as text, impossible times
        for kept in ("2026-12-03", "20261203", "330106004053", "2026-13-03T10:00:00", "2026-12-03T10:00 at noon"):
            assert plain_text({"v": kept}) == f"v: {kept}", kept


@pytest.mark.django_db
def test_a_deleted_census_upload_reads_in_local_time_by_the_system(zhejiang):
    """删除摸底上传文件 showed upload_deleted： at：2026-12-03T19:58:22…+00:00；reason：committed, and its actor
    stored as "system" must read 系统 wherever core shows it."""
    import datetime

    from gaizao.core.models import AuditEntry
    from gaizao.estates.census.jobs import census_import_start, upload_delete

    from .census.sheets import good_row, xlsx_bytes

    official = make_user(Role.COUNTY_OFFICIAL, username="audit-upload")
    job = census_import_start(actor=official, data=xlsx_bytes([good_row(1)]), filename="西湖区.xlsx")
    at = datetime.datetime(2026, 12, 3, 19, 58, 22, 831260, tzinfo=datetime.UTC)
    assert upload_delete(path=job.params["path"], reason="committed", cause="census import committed", now=at) == 1
    admin = make_user(Role.PROVINCE_ADMIN, username="audit-upload-admin")
    for url, query in ((reverse("audit:list"), {"object_type": "core.job", "object_id": job.pk}),
                       (reverse("audit:history", args=["core.job", job.pk]), {})):
        text = table_text(page_client(admin).get(url, query).content.decode())
        assert "at：2026-12-04 03:58；reason：committed" in text, text
        assert "T19:58" not in text and "+00:00" not in text
        assert "系统" in text and "system" not in text
    entry = AuditEntry.objects.get(verb="estates.census_upload_delete")
    assert entry.actor_name == "system"  # stored as it was; the API keeps it
    from django.utils import timezone

    # the admin's name for the entry: its own time, local, and the actor in words
    assert str(entry).startswith(f"{timezone.localtime(entry.at):%Y-%m-%d %H:%M} 系统 ")
