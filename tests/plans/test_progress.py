"""Monthly progress: opening, validating, locking, the month's figures, rates and late or missing reports."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from gaizao.core.errors import ServiceError
from gaizao.plans import selectors, services
from gaizao.plans.models import ProgressStage, ProgressSummary, ReportStatus
from gaizao.regions.models import Region


def refused(fn, code):
    with pytest.raises(ServiceError) as err:
        fn()
    assert err.value.code == code, (err.value.code, err.value.message)
    return err.value


def entry_ids(report):
    return {e.estate_id: e.pk for e in report.entries.all()}


@pytest.mark.django_db
def test_a_month_from_opening_to_lock(people, draft_plan):
    county = people["county"]
    report = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-05")
    assert report.month == datetime.date(2020, 5, 1) and report.entries.count() == 3
    assert services.progress_report_open(actor=county, county=draft_plan.county, month="2020-05-17").pk == report.pk
    ids = entry_ids(report)
    e2020 = draft_plan.items.get(year=2020).estate_id
    e2021 = draft_plan.items.get(year=2021).estate_id
    # a stage needs its date, dates lie within the month, in order
    refused(lambda: services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "started"}}), "progress_entry_invalid")
    refused(lambda: services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "started", "started_on": "2020-06-01"}}), "progress_entry_invalid")
    refused(lambda: services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "completed", "started_on": "2020-05-10", "completed_on": "2020-05-01"}}),
        "progress_entry_invalid")
    refused(lambda: services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "started", "started_on": "2020-05-02", "investment_done_wan": "-1"}}),
        "progress_entry_invalid")
    refused(lambda: services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "started", "started_on": "2020-05-02", "investment_done_wan": "abc"}}),
        "progress_entry_invalid")
    n = services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "completed", "started_on": "2020-03-02", "completed_on": "2020-05-20",
                     "investment_done_wan": "120.5"},
        ids[e2021]: {"stage": "started", "started_on": "2020-05-03", "investment_done_wan": "10"}})
    assert n == 2
    # others may not write the county's report
    refused(lambda: services.progress_entries_update(actor=people["city"], report=report, rows={}),
            "permission_denied")
    refused(lambda: services.progress_report_submit(actor=people["sibling_county"], report=report), "not_found")
    services.progress_report_submit(actor=county, report=report)
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED and report.submitted_by == county
    refused(lambda: services.progress_entries_update(actor=county, report=report, rows={
        ids[e2020]: {"stage": "accepted", "accepted_on": "2020-05-30"}}), "progress_report_locked")
    s = ProgressSummary.objects.get(report=report)
    assert (s.annual_estates, s.annual_started, s.annual_completed, s.plan_estates, s.started_estates,
            s.completed_estates) == (1, 1, 1, 3, 2, 1)
    assert s.investment_done_wan == Decimal("130.5")
    assert s.completed_households == 300 and s.completed_floor_area == Decimal("24000")


@pytest.mark.django_db
def test_next_month_carries_forward_and_never_goes_back(people, draft_plan):
    county = people["county"]
    may = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-05")
    e = draft_plan.items.get(year=2020).estate_id
    services.progress_entries_update(actor=county, report=may, rows={entry_ids(may)[e]: {
        "stage": "started", "started_on": "2020-05-02", "investment_done_wan": "50"}})
    june = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-06")
    # an earlier draft must be submitted first
    refused(lambda: services.progress_report_submit(actor=county, report=june), "progress_report_invalid")
    services.progress_report_submit(actor=county, report=may)
    june.delete()
    june = services.progress_report_open(actor=county, county=draft_plan.county, month="2020-06")
    carried = june.entries.get(estate_id=e)
    assert carried.stage == ProgressStage.STARTED and carried.investment_done_wan == 50
    refused(lambda: services.progress_entries_update(actor=county, report=june, rows={
        carried.pk: {"stage": "not_started"}}), "progress_entry_invalid")
    refused(lambda: services.progress_entries_update(actor=county, report=june, rows={
        carried.pk: {"investment_done_wan": "40"}}), "progress_entry_invalid")


@pytest.mark.django_db
def test_reports_need_a_plan_and_a_past_month(people, xihu):
    refused(lambda: services.progress_report_open(actor=people["county"], county=xihu, month="2020-05"),
            "progress_report_invalid")
    nxt = (timezone.localdate().replace(day=1) + datetime.timedelta(days=40)).strftime("%Y-%m")
    refused(lambda: services.progress_report_open(actor=people["county"], county=xihu, month=nxt),
            "progress_report_invalid")
    refused(lambda: services.progress_report_open(actor=people["county"], county=xihu, month="May"),
            "progress_report_invalid")
    refused(lambda: services.progress_report_open(actor=people["city"], county=xihu, month="2020-05"),
            "permission_denied")


@pytest.mark.django_db
def test_rates_by_month_and_flags(people, draft_plan, period):
    county, xihu = people["county"], draft_plan.county
    e = draft_plan.items.get(year=2020).estate_id
    for month, stage in (("2020-01", {}), ("2020-02", {"stage": "started", "started_on": "2020-02-10"})):
        report = services.progress_report_open(actor=county, county=xihu, month=month)
        if stage:
            services.progress_entries_update(actor=county, report=report, rows={entry_ids(report)[e]: stage})
        services.progress_report_submit(actor=county, report=report)
    # the February report was submitted long after its due date (5 March 2020)
    hangzhou = Region.objects.get(code="3301")
    series = {r["month"]: r for r in selectors.progress_series(people["city"], hangzhou, period)}
    assert series["2020-01"]["start_rate"] == 0 and series["2020-02"]["start_rate"] == 100
    assert series["2020-03"]["reported"] == 0 and series["2020-03"]["start_rate"] is None
    flags = {f["flag"] for f in selectors.reporting_flags(people["city"], hangzhou, datetime.date(2020, 2, 1))}
    assert flags == {"late"}
    march = selectors.reporting_flags(people["province"], Region.objects.get(code="33"), datetime.date(2020, 3, 1))
    assert [(f["code"], f["flag"]) for f in march] == [("330106", "missing")]
    on_time = selectors.reporting_flags(people["city"], hangzhou, datetime.date(2020, 3, 1),
                                        today=datetime.date(2020, 4, 3))
    assert on_time == []  # not yet due
    # a city official of another city sees no flags of Hangzhou's counties
    assert selectors.reporting_flags(people["other_city"], Region.objects.get(code="33"),
                                     datetime.date(2020, 3, 1)) == []
