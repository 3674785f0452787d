"""Estate services on the real database: audit, rules recompute, pool, merge, bulk upsert, scope."""

from decimal import Decimal

import pytest
from django.utils import timezone

from gaizao.accounts.scoping import Role
from gaizao.core.audit import history_of
from gaizao.core.errors import ServiceError
from gaizao.core.models import AuditAction, AuditEntry
from gaizao.estates import services
from gaizao.estates.models import EligibilityPolicy, Estate, PriorityWeights, RenovationProject
from gaizao.regions.models import Region

from ..conftest import make_user
from .factories import make_estate

XIXI = "330106004053"  # a community of 西湖区
XIXI_2 = "330106004055"
GONGSHU = "330105"

pytestmark = pytest.mark.django_db


@pytest.fixture
def county_official(zhejiang):
    return make_user(Role.COUNTY_OFFICIAL, username="xihu-official")


def test_create_generates_code_evaluates_ranks_and_audits(zhejiang):
    first = make_estate(XIXI, name="一号小区", built_year=1980, housing_type="reformed_public")
    second = make_estate(XIXI, name="二号小区", built_year=1998, housing_type="commodity", deficiencies=[])
    third = make_estate(XIXI, name="新小区", built_year=2005)
    assert first.code == "330106-000001" and second.code == "330106-000002"
    assert first.county.code == "330106"
    assert first.eligibility == "eligible" and third.eligibility == "ineligible"
    assert first.priority_score > second.priority_score
    ranks = dict(Estate.objects.values_list("name", "county_rank"))
    assert ranks == {"一号小区": 1, "二号小区": 2, "新小区": None}
    entry = history_of(first).get()
    assert entry.action == AuditAction.CREATE and entry.region_code == XIXI
    assert entry.after["deficiencies"] and entry.after["eligibility"] == "eligible"


def test_create_refuses_bad_regions_and_values(zhejiang, county_official):
    with pytest.raises(ServiceError) as exc:
        make_estate("330106", name="县级小区")
    assert exc.value.code == "estate_region_invalid"
    with pytest.raises(ServiceError) as exc:
        make_estate(XIXI, built_year=1700)
    assert exc.value.code == "invalid" and "built_year" in exc.value.fields
    with pytest.raises(ServiceError) as exc:
        make_estate(XIXI, buildings=2, buildings_with_elevator=3)
    assert "buildings_with_elevator" in exc.value.fields
    with pytest.raises(ServiceError) as exc:
        make_estate(XIXI, deficiencies=["no-such-item"])
    assert "deficiencies" in exc.value.fields
    with pytest.raises(ServiceError) as exc:  # 拱墅区 is outside the 西湖区 official's area: "not found"
        services.estate_create(actor=county_official, region=Region.objects.get(code="330105001051"), name="x")
    assert exc.value.status == 404
    assert Estate.objects.count() == 0


def test_update_recomputes_and_audits_only_real_changes(zhejiang, county_official):
    estate = make_estate(XIXI, built_year=1985)
    assert not services.estate_update(actor=county_official, estate=estate, changes={"built_year": 1985})
    assert services.estate_update(actor=county_official, estate=estate,
                                  changes={"built_year": 2002, "deficiencies": ["roof"]}, cause="复核")
    estate.refresh_from_db()
    assert estate.eligibility == "ineligible" and estate.county_rank is None
    entry = history_of(estate).filter(action=AuditAction.UPDATE).get()
    assert entry.before["built_year"] == 1985 and entry.after["built_year"] == 2002
    assert entry.before["eligibility"] == "eligible" and entry.after["eligibility"] == "ineligible"
    assert entry.cause == "复核" and entry.actor == county_official
    moved = services.estate_update(actor=None, estate=estate, changes={"region": Region.objects.get(
        code="330105001051")})
    estate.refresh_from_db()
    assert moved and estate.county.code == GONGSHU


def test_county_override_and_province_default_recompute(zhejiang, county_official):
    old = make_estate(XIXI, name="老小区", built_year=1999)
    make_estate("330105001051", name="拱墅小区", built_year=1999)
    xihu = Region.objects.get(code="330106")
    result = services.rules_save(actor=county_official, region=xihu, policy={"cutoff_year": 1998})
    assert result["eligibility_changed"] == 1
    old.refresh_from_db()
    assert old.eligibility == "ineligible"
    assert old.eligibility_reasons[0] == {"code": "built_after_cutoff", "params": {"year": 1999, "cutoff": 1998}}
    assert old.priority_breakdown["age"] == 0.0
    assert Estate.objects.get(name="拱墅小区").eligibility == "eligible"  # 拱墅区 still follows the province
    assert EligibilityPolicy.objects.get(region=xihu).cutoff_year == 1998
    assert PriorityWeights.objects.get(region=xihu).age == Decimal("30")  # the override copies what was in force
    # the county official cannot change the province default (it is outside their area: not found)
    with pytest.raises(ServiceError) as exc:
        services.rules_save(actor=county_official, region=Region.objects.get(code="33"), policy={"cutoff_year": 2000})
    assert exc.value.status in (403, 404)
    admin = make_user(Role.PROVINCE_ADMIN, username="admin-x")
    services.rules_save(actor=admin, region=Region.objects.get(code="33"), policy={"cutoff_year": 1990},
                        weights={"hazard": Decimal("20")})
    assert Estate.objects.get(name="拱墅小区").eligibility == "ineligible"
    old.refresh_from_db()
    assert old.eligibility == "ineligible"  # 西湖区's override (1998) stands
    services.rules_override_delete(actor=county_official, region=xihu)
    assert not EligibilityPolicy.objects.filter(region=xihu).exists()
    with pytest.raises(ServiceError) as exc:
        services.rules_save(actor=county_official, region=xihu, weights={"age": Decimal("-3")})
    assert exc.value.code == "invalid"
    with pytest.raises(ServiceError):
        services.rules_save(actor=county_official, region=xihu, policy={"priority_housing_types": ["villa"]})
    assert AuditEntry.objects.filter(verb="estates.rules_save").count() == 4
    assert AuditEntry.objects.filter(verb="estates.rules_override_delete").count() == 2


def test_pool_transitions_are_audited_with_before_and_after(zhejiang, county_official):
    year = timezone.localdate().year  # a deferral is to this year or later
    estate = make_estate(XIXI)
    services.estate_admit(actor=county_official, estate=estate, year=2021)
    services.estate_defer(actor=county_official, estate=estate, reason="资金未落实", to_year=year)
    with pytest.raises(ServiceError) as exc:  # the year it left the pool
        services.estate_readmit(actor=county_official, estate=estate, year=2021)
    assert exc.value.code == "estate_pool_year_invalid"
    services.estate_readmit(actor=county_official, estate=estate, year=year + 1)
    services.estate_drop(actor=county_official, estate=estate, reason="居民意愿不足")
    estate.refresh_from_db()
    assert estate.status == "dropped" and estate.county_rank is None and estate.status_reason == "居民意愿不足"
    assert estate.pool_year is None
    with pytest.raises(ServiceError) as exc:
        services.estate_readmit(actor=county_official, estate=estate, year=year + 1)
    assert exc.value.code == "estate_pool_year_invalid"
    services.estate_readmit(actor=county_official, estate=estate, year=year + 2)
    estate.refresh_from_db()
    assert estate.status == "pooled" and estate.pool_year == year + 2 and estate.county_rank == 1
    moves = [(e.verb, e.before["status"], e.after["status"], e.after["pool_year"])
             for e in history_of(estate).filter(action=AuditAction.TRANSITION).order_by("id")]
    assert moves == [("estates.admit", "surveyed", "pooled", 2021), ("estates.defer", "pooled", "deferred", year),
                     ("estates.readmit", "deferred", "pooled", year + 1), ("estates.drop", "pooled", "dropped", None),
                     ("estates.readmit", "dropped", "pooled", year + 2)]
    assert all(e.actor == county_official for e in history_of(estate).filter(action=AuditAction.TRANSITION))


def test_a_deferral_is_never_to_a_year_already_past(zhejiang, county_official):
    """In December 2026, 暂缓至 2020 was saved as 暂缓 至 2020 年. Admitting and readmitting may record a past pool
    year (history entered late), deferring may not: it postpones, and to a past year it postpones nothing."""
    year = timezone.localdate().year
    estate = make_estate(XIXI)
    services.estate_admit(actor=county_official, estate=estate, year=2020)  # a past pool year: accepted
    assert services.defer_earliest_year(estate) == year
    for past in (2021, year - 1):  # after the last pool year (2020), but already past
        with pytest.raises(ServiceError) as exc:
            services.estate_defer(actor=county_official, estate=estate, reason="资金未落实", to_year=past)
        assert exc.value.code == "estate_pool_year_invalid" and list(exc.value.fields) == ["to_year"]
        assert str(year) in exc.value.message
    surveyed = make_estate(XIXI, name="未入库")
    with pytest.raises(ServiceError):  # never in the pool: the same
        services.estate_defer(actor=county_official, estate=surveyed, reason="资金未落实", to_year=2020)
    estate.refresh_from_db()
    assert (estate.status, estate.pool_year) == ("pooled", 2020)
    services.estate_defer(actor=county_official, estate=estate, reason="资金未落实", to_year=year)
    estate.refresh_from_db()
    assert (estate.status, estate.pool_year) == ("deferred", year)
    services.estate_drop(actor=county_official, estate=estate, reason="居民意愿不足")
    services.estate_readmit(actor=county_official, estate=estate, year=year + 1)
    assert services.defer_earliest_year(estate) == year + 2  # after the last year in the pool


def test_an_estate_deferred_to_a_year_is_readmitted_in_that_year(zhejiang, county_official):
    """Defer to 2027, then readmit in 2027 (the year the deferral names) was refused as too early."""
    estate = make_estate(XIXI)
    services.estate_admit(actor=county_official, estate=estate, year=2026)
    with pytest.raises(ServiceError) as exc:
        services.estate_defer(actor=county_official, estate=estate, reason="资金未落实", to_year=2026)
    assert exc.value.code == "estate_pool_year_invalid"
    services.estate_defer(actor=county_official, estate=estate, reason="资金未落实", to_year=2028)
    estate.refresh_from_db()
    assert services.readmit_earliest_year(estate) == 2028
    with pytest.raises(ServiceError) as exc:  # before the year it is deferred to
        services.estate_readmit(actor=county_official, estate=estate, year=2027)
    assert exc.value.code == "estate_pool_year_invalid" and list(exc.value.fields) == ["year"]
    estate.pool_year = 2027  # deferred to 2027 instead (as the QA run did)
    estate.save(update_fields=["pool_year"])
    assert services.readmit_earliest_year(estate) == 2027
    services.estate_readmit(actor=county_official, estate=estate, year=2027)
    estate.refresh_from_db()
    assert (estate.status, estate.pool_year) == ("pooled", 2027)


def test_a_dropped_or_open_deferred_estate_keeps_no_year_that_is_not_its_own(zhejiang, county_official):
    estate = make_estate(XIXI)
    services.estate_admit(actor=county_official, estate=estate, year=2026)
    services.estate_defer(actor=county_official, estate=estate, reason="资金未落实", to_year=2027)
    services.estate_drop(actor=county_official, estate=estate, reason="居民意愿不足")
    estate.refresh_from_db()
    assert (estate.status, estate.pool_year) == ("dropped", None)
    assert services.readmit_earliest_year(estate) == 2027  # after 2026, the last year in the pool
    services.estate_readmit(actor=county_official, estate=estate, year=2027)
    services.estate_defer(actor=county_official, estate=estate, reason="再议")  # no year given
    estate.refresh_from_db()
    assert (estate.status, estate.pool_year) == ("deferred", None)
    assert services.readmit_earliest_year(estate) == 2028
    other = make_estate(XIXI, name="未入库")
    services.estate_defer(actor=county_official, estate=other, reason="再议")
    other.refresh_from_db()
    assert services.readmit_earliest_year(other) is None


def test_pool_refusals(zhejiang, county_official):
    new = make_estate(XIXI, name="新", built_year=2010)
    with pytest.raises(ServiceError) as exc:
        services.estate_admit(actor=county_official, estate=new, year=2021)
    assert exc.value.code == "estate_not_eligible"
    ok = make_estate(XIXI, name="旧")
    for bad_year in (1990, "abc", None, 2999):
        with pytest.raises(ServiceError) as exc:
            services.estate_admit(actor=county_official, estate=ok, year=bad_year)
        assert exc.value.code == "estate_pool_year_invalid"
    with pytest.raises(ServiceError) as exc:
        services.estate_drop(actor=county_official, estate=ok, reason="  ")
    assert exc.value.code == "invalid"
    with pytest.raises(ServiceError) as exc:  # all or nothing: one ineligible estate admits none
        services.estates_admit(actor=county_official, estates=[ok, new], year=2021)
    assert list(exc.value.fields) == [new.code]
    ok.refresh_from_db()
    assert ok.status == "surveyed"
    assert services.estates_admit(actor=county_official, estates=[ok], year=2021) == 1
    outsider = make_estate("330105001051", name="拱墅")
    with pytest.raises(ServiceError) as exc:
        services.estate_admit(actor=county_official, estate=outsider, year=2021)
    assert exc.value.status == 404


def test_merge_keeps_each_record_and_checks_adjacency(zhejiang, county_official):
    a = make_estate(XIXI, name="甲")
    b = make_estate(XIXI, name="乙")
    far = make_estate(XIXI_2, name="远", longitude="120.000000", latitude="30.000000")
    near = make_estate(XIXI_2, name="近", longitude="120.131000", latitude="30.271000")
    with pytest.raises(ServiceError) as exc:
        services.estates_merge(actor=county_official, estates=[a, far], name="片区")
    assert exc.value.code == "estates_not_adjacent" and exc.value.fields["estates"] == [far.code]
    with pytest.raises(ServiceError) as exc:
        services.estates_merge(actor=county_official, estates=[a], name="片区")
    project = services.estates_merge(actor=county_official, estates=[a, b, near], name="西溪片区")
    assert project.code == "P330106-0001" and project.region.code == "330106004"
    assert set(project.estates.values_list("name", flat=True)) == {"甲", "乙", "近"}
    assert Estate.objects.count() == 4  # each keeps its own record
    assert history_of(a).filter(verb="estates.merge").get().after == {"project_id": project.pk}
    with pytest.raises(ServiceError):  # already in a project
        services.estates_merge(actor=county_official, estates=[a, far], name="又一个")
    other_county = make_estate("330105001051", name="拱墅")
    with pytest.raises(ServiceError):
        services.estates_merge(actor=None, estates=[far, other_county], name="跨县")
    services.project_dissolve(actor=county_official, project=project, reason="重新规划")
    assert not RenovationProject.objects.get(pk=project.pk).is_active
    assert not Estate.objects.filter(project__isnull=False).exists()


def _rows():
    return [
        {"row": 2, "name": "文三新村", "region": XIXI, "built_year": 1986, "buildings": 12, "households": 320,
         "floor_area": "25600.5", "housing_type": "reformed_public", "willingness": 85,
         "deficiencies": "roof、water_supply、parking", "longitude": 120.13, "latitude": 30.27},
        {"row": 3, "code": "XH-CUSTOM-1", "name": "学院路小区", "region": XIXI_2, "built_year": 1995,
         "housing_type": "public", "in_shantytown_plan": True},
        {"row": 4, "name": "新建小区", "region": "330106004", "built_year": 2008, "housing_type": "commodity"},
    ]


def test_upsert_creates_then_is_idempotent_then_updates(zhejiang, county_official):
    summary = services.estates_upsert(actor=county_official, rows=_rows(), cause="import #1", dry_run=True)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (3, 0, 0)
    assert Estate.objects.count() == 0  # a dry run writes nothing
    summary = services.estates_upsert(actor=county_official, rows=_rows(), cause="import #1", dry_run=False)
    assert summary["created"] == 3
    assert [o["outcome"] for o in summary["outcomes"]] == ["created"] * 3
    estates = {e.name: e for e in Estate.objects.all()}
    assert estates["学院路小区"].code == "XH-CUSTOM-1" and estates["学院路小区"].eligibility == "excluded"
    assert estates["文三新村"].deficiencies.count() == 3 and estates["文三新村"].floor_area == Decimal("25600.50")
    assert estates["新建小区"].region.code == "330106004"
    created = AuditEntry.objects.filter(verb="estates.upsert", action=AuditAction.CREATE)
    assert created.count() == 3 and set(created.values_list("cause", flat=True)) == {"import #1"}
    again = services.estates_upsert(actor=county_official, rows=_rows(), cause="import #2", dry_run=False)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert AuditEntry.objects.filter(cause="import #2").count() == 0
    rows = _rows()
    rows[0]["built_year"] = 2001
    rows[0]["deficiencies"] = ["roof"]
    changed = services.estates_upsert(actor=county_official, rows=rows, cause="import #3", dry_run=False)
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    assert changed["outcomes"][0]["changed"] == ["built_year", "deficiencies"]
    estate = Estate.objects.get(name="文三新村")
    assert estate.eligibility == "ineligible" and estate.deficiencies.count() == 1
    entry = history_of(estate).filter(cause="import #3").get()
    assert entry.before["built_year"] == 1986 and entry.after["built_year"] == 2001
    assert entry.after["eligibility"] == "ineligible" and len(entry.before["deficiencies"]) == 3


def test_upsert_is_all_or_nothing(zhejiang, county_official):
    rows = _rows()
    rows.append({"row": 5, "name": "坏行", "region": XIXI, "built_year": "一九八五", "willingness": 150})
    rows.append({"row": 6, "name": "文三新村", "region": XIXI})  # same community + name as row 2
    rows.append({"row": 7, "name": "外县", "region": "330105001051"})
    rows.append({"row": 8, "name": "无区", "region": "999"})
    with pytest.raises(ServiceError) as exc:
        services.estates_upsert(actor=county_official, rows=rows, cause="bad", dry_run=False)
    assert exc.value.code == "estate_rows_invalid"
    problems = {(e["row"], e["field"]) for e in exc.value.fields["rows"]}
    assert {(5, "built_year"), (5, "willingness"), (6, "name"), (7, "region"), (8, "region")} <= problems
    assert Estate.objects.count() == 0 and not AuditEntry.objects.filter(cause="bad").exists()


def test_upsert_refuses_ambiguous_names_and_foreign_codes(zhejiang, county_official):
    make_estate(XIXI, name="同名")
    make_estate(XIXI, name="同名")
    foreign = make_estate("330105001051", name="拱墅")
    with pytest.raises(ServiceError) as exc:
        services.estates_upsert(actor=county_official, rows=[{"name": "同名", "region": XIXI}], cause="x")
    assert exc.value.fields["rows"][0]["field"] == "name" and exc.value.fields["rows"][0]["message"]
    with pytest.raises(ServiceError) as exc:
        services.estates_upsert(actor=county_official, rows=[{"code": foreign.code, "name": "x", "region": XIXI}],
                                cause="x")
    assert exc.value.fields["rows"][0]["field"] == "code"


def test_a_large_rules_change_runs_as_a_job(zhejiang, county_official, monkeypatch):
    from django.db import transaction

    from gaizao.core.jobs import execute_job
    from gaizao.core.models import Job

    estate = make_estate(XIXI, built_year=1999)
    monkeypatch.setattr(services, "INLINE_RECOMPUTE_LIMIT", 0)
    with transaction.atomic():
        result = services.rules_save(actor=county_official, region=Region.objects.get(code="330106"),
                                     policy={"cutoff_year": 1995})
    job = Job.objects.get(pk=result["job"])
    assert job.kind == "estates.recompute" and job.region.code == "330106"
    estate.refresh_from_db()
    assert estate.eligibility == "eligible"  # not yet: the job does it
    assert execute_job(job) == "succeeded"
    estate.refresh_from_db()
    assert estate.eligibility == "ineligible" and estate.county_rank is None
    assert Job.objects.get(pk=job.pk).result["eligibility_changed"] == 1


def test_a_street_official_of_two_streets_cannot_merge_across_them(zhejiang):
    from gaizao.accounts.services import membership_grant

    official = make_user(Role.STREET_OFFICIAL, username="two-streets", region_code="330106004")
    membership_grant(actor=None, user=official, role=Role.STREET_OFFICIAL, region=Region.objects.get(code="330106005"))
    here = make_estate(XIXI, name="西溪", longitude="120.130000", latitude="30.270000")
    there = make_estate("330106005", name="翠苑", longitude="120.130500", latitude="30.270300")
    audit_rows = AuditEntry.objects.count()
    with pytest.raises(ServiceError) as exc:
        services.estates_merge(actor=official, estates=[here, there], name="跨街道片区")
    assert exc.value.code == "permission_denied" and "西湖区" in str(exc.value)
    assert not RenovationProject.objects.exists() and AuditEntry.objects.count() == audit_rows
    second = make_estate(XIXI_2, name="西溪二", longitude="120.130100", latitude="30.270100")
    project = services.estates_merge(actor=official, estates=[here, second], name="西溪片区")
    assert project.region.code == "330106004"


def test_an_eligible_estate_without_a_score_ranks_last_on_both_databases(zhejiang):
    scored = make_estate(XIXI, name="有分", built_year=1980)
    unscored = make_estate(XIXI, name="无分", built_year=1985)
    Estate.objects.filter(pk=unscored.pk).update(priority_score=None)  # (data written by hand or older code)
    services.counties_rerank([scored.county_id])
    assert dict(Estate.objects.values_list("name", "county_rank")) == {"有分": 1, "无分": 2}
