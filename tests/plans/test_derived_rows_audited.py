"""Rows the services derive as part of a parent change (progress entries, the month's figures, the items
copied into an adjusted plan) are audited: who, when, which verb and cause, before and after."""

import pytest

from gaizao.core.audit import history_of, snapshot
from gaizao.core.models import AuditAction, AuditEntry
from gaizao.plans import services
from gaizao.plans.models import PlanStatus, ProgressSummary

from .conftest import pool_estate


def only_entry(obj) -> AuditEntry:
    entries = list(history_of(obj))
    assert len(entries) == 1, [(e.verb, e.action) for e in entries]
    return entries[0]


@pytest.mark.django_db
def test_opening_a_report_audits_each_entry_it_makes(people, draft_plan):
    county = people["county"]
    march = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-03", cause="三月月报")
    assert march.entries.count() == 3
    for entry in march.entries.all():
        audit = only_entry(entry)
        assert (audit.actor, audit.actor_name, audit.action, audit.verb, audit.cause) == (
            county, county.username, AuditAction.CREATE, "plans.report_entries", "三月月报")
        assert audit.before is None and audit.after == snapshot(entry)
        assert audit.region_code == "330106" and audit.object_repr.startswith(entry.estate.name)
    e2020 = draft_plan.items.get(year=2020).estate_id
    first = march.entries.get(estate_id=e2020)
    services.progress_entries_update(actor=county, report=march, rows={first.pk: {
        "stage": "started", "started_on": "2020-03-05", "investment_done_wan": "12"}})
    services.progress_report_submit(actor=county, report=march)
    # April starts from March's figures: the carried values are what the new entry's audit row says
    april = services.progress_report_open(actor=None, county=draft_plan.county, month="2020-04", cause="carry")
    carried = april.entries.get(estate_id=e2020)
    audit = only_entry(carried)
    assert audit.actor is None and audit.actor_name == "system" and audit.cause == "carry"
    assert audit.after["stage"] == "started" and audit.after["started_on"] == "2020-03-05"
    assert audit.after["investment_done_wan"] == "12.0000" and audit.after["report_id"] == april.pk


@pytest.mark.django_db
def test_entries_made_or_moved_at_submission_are_audited(people, draft_plan):
    county = people["county"]
    report = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-03")
    moved_item = draft_plan.items.get(year=2021)
    services.plan_item_update(actor=county, item=moved_item, changes={"year": "2022"})
    services.plan_item_remove(actor=county, item=draft_plan.items.get(year=2020))
    added = services.plan_item_add(actor=county, plan=draft_plan, estate=pool_estate("330106"), year=2020)
    services.progress_report_submit(actor=county, report=report, cause="按时报送")
    moved = report.entries.get(estate_id=moved_item.estate_id)
    update = history_of(moved).filter(action=AuditAction.UPDATE).get()
    assert (update.actor, update.verb, update.cause) == (county, "plans.report_entries", "按时报送")
    assert (update.before["plan_year"], update.after["plan_year"]) == (2021, 2022)
    left = report.entries.get(plan_year=None)
    update = history_of(left).filter(action=AuditAction.UPDATE).get()
    assert (update.before["plan_year"], update.after["plan_year"]) == (2020, None)
    new = report.entries.get(estate_id=added.estate_id)
    create = only_entry(new)
    assert (create.action, create.actor, create.cause, create.before) == (AuditAction.CREATE, county, "按时报送", None)
    assert create.after["plan_year"] == 2020


@pytest.mark.django_db
def test_submitting_audits_the_months_figures(people, draft_plan):
    county = people["county"]
    report = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-03")
    services.progress_report_submit(actor=county, report=report, cause="按时报送")
    summary = ProgressSummary.objects.get(report=report)
    audit = only_entry(summary)
    assert (audit.actor, audit.action, audit.verb, audit.cause, audit.region_code) == (
        county, AuditAction.CREATE, "plans.report_submit", "按时报送", "330106")
    assert audit.before is None and audit.after == snapshot(summary)
    assert audit.after["plan_estates"] == 3 and audit.after["annual_estates"] == 1


@pytest.mark.django_db
def test_an_adjustment_audits_each_item_it_copies(people, draft_plan):
    county, city, province = people["county"], people["city"], people["province"]
    plan = draft_plan
    for name, who in (("submit", county), ("city_approve", city), ("approve", province)):
        plan = services.plan_transition(actor=who, plan=plan, step=name)
    v2 = services.plan_adjust(actor=county, plan=plan, reason="2021年新增入库小区")
    assert v2.status == PlanStatus.DRAFT and v2.items.count() == 3
    old = {i.estate_id: i for i in plan.items.all()}
    for item in v2.items.all():
        audit = only_entry(item)
        assert (audit.actor, audit.action, audit.verb, audit.cause, audit.region_code) == (
            county, AuditAction.CREATE, "plans.adjust_copy", "2021年新增入库小区", "330106")
        assert audit.before is None and audit.after == snapshot(item) and audit.after["plan_id"] == v2.pk
        source = old[item.estate_id]
        assert audit.after["year"] == source.year
        assert audit.after["estimated_investment_wan"] == str(source.estimated_investment_wan)
    assert only_entry(v2).verb == "plans.adjust"
