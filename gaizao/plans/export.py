"""The monthly statistical tables as xlsx: annual plan, progress, results and basic project information.

Rows stream from the database into xlsxwriter in constant-memory mode (a row is written and forgotten),
so a province-wide export of 220,000 estates stays small in memory. Subtotal and totals rows are not
summed here: they are the figures of `selectors.plan_rollup` and `selectors.progress_rollup`, the same
functions the dashboards and the API call, so the spreadsheet and the screen cannot disagree. Estate rows
carry 0/1 columns (in plan, started, completed, accepted) so anyone can check that rows sum to subtotals.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import xlsxwriter
from django.utils.translation import gettext as _

from gaizao.accounts.scoping import restrict
from gaizao.regions.models import Region, RegionLevel

from . import selectors
from .models import PlanItem, PlanPeriod, ProgressEntry, ProgressReport, ProgressStage, ReportStatus

STARTED = {ProgressStage.STARTED, ProgressStage.COMPLETED, ProgressStage.ACCEPTED}
COMPLETED = {ProgressStage.COMPLETED, ProgressStage.ACCEPTED}
CHUNK = 5000
EXCEL_EPOCH = datetime.date(1899, 12, 30).toordinal()


def export_filename(region: Region, month: datetime.date) -> str:
    return f"statistics-{region.code}-{month:%Y-%m}.xlsx"


class _Sheet:
    """A worksheet written row by row, with formats for numbers and subtotal rows."""

    def __init__(self, book, name: str, title: str, headers: list[str], widths: list[int], formats: dict):
        self.ws = book.add_worksheet(name[:31])
        self.f = formats
        self.row = 0
        self.ws.write_string(0, 0, title, formats["title"])
        self.row = 2
        for col, (h, w) in enumerate(zip(headers, widths, strict=True)):
            self.ws.set_column(col, col, w)
            self.ws.write_string(self.row, col, h, formats["head"])
        self.ws.freeze_panes(3, 0)
        self.row += 1

    def write(self, values: list, fmt=None) -> None:
        """One row: text, whole and decimal numbers, dates as Excel dates (numbers are cheaper than text)."""
        ws, r = self.ws, self.row
        number, text = ws.write_number, ws.write_string
        date_fmt = self.f["date"]
        for col, v in enumerate(values):
            t = type(v)
            if v is None or t is str and not v:
                if fmt is not None:
                    ws.write_blank(r, col, None, fmt)
            elif t is str:
                text(r, col, v, fmt)
            elif t is int:
                number(r, col, v, fmt)
            elif t is Decimal:
                number(r, col, float(v), fmt)
            elif t is datetime.date:
                number(r, col, v.toordinal() - EXCEL_EPOCH, date_fmt)
            elif t is bool:
                number(r, col, int(v), fmt)
            elif t is float:
                number(r, col, v, fmt)
            else:
                text(r, col, str(v), fmt)
        self.row += 1


def _formats(book) -> dict:
    return {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "head": book.add_format({"bold": True, "bg_color": "#EEF2F6", "border": 1, "text_wrap": True}),
        "sub": book.add_format({"bold": True, "bg_color": "#F6F1E1"}),
        "total": book.add_format({"bold": True, "bg_color": "#E3EDE3", "top": 2}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
    }


def _names(region: Region) -> dict[str, str]:
    return dict(Region.objects.filter(code__startswith=region.code, level__in=[
        RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY]).values_list("code", "name"))


def _blocks(county_codes, rows_for, write_row, county_end, city_end) -> int:
    """County by county (in code order): its rows, its subtotal; a city's subtotal after its last county."""
    n = 0
    previous_city = None
    for code in sorted(county_codes):
        if previous_city is not None and code[:4] != previous_city:
            city_end(previous_city)
        previous_city = code[:4]
        for row in rows_for(code):
            write_row(row)
            n += 1
        county_end(code)
    if previous_city is not None:
        city_end(previous_city)
    return n


def _plans(user, region: Region, period: PlanPeriod) -> dict[str, int]:
    counties = list(selectors.counties_in(user, region))
    return {p.county.code: p.pk for p in selectors.plans_in_force([c.pk for c in counties], period).values()}


def write_annual_plan(book, formats, *, user, region, period, year, rollup, names) -> int:
    headers = [_("City"), _("County"), _("Estate or project code"), _("Name"), _("Year"), _("Planned start"),
               _("Planned finish"), _("Content classes"), _("Model estate"), _("Estates"), _("Households"),
               _("Floor area (m²)"), _("Estimated investment (万元)")]
    sheet = _Sheet(book, _("Annual plan"), _("Annual plan %(year)s · %(region)s · plan %(period)s") % {
        "year": year, "region": region.name, "period": period.label}, headers,
        [10, 12, 18, 28, 6, 11, 11, 22, 6, 8, 10, 12, 14], formats)
    plans = _plans(user, region, period)
    counties = {f.code: f for f in rollup.counties}
    cities = {f.code: f for f in rollup.children} if region.level == RegionLevel.PROVINCE else {}
    class_words = {"basic": str(_("Basic")), "improvement": str(_("Improvement")), "enhancement": str(_("Enhancement"))}

    def fig_row(label, f, fmt):
        v = f.by_year.get(year) or {"estates": 0, "households": 0, "floor_area": 0, "investment_wan": 0}
        sheet.write([label, "", "", "", year, "", "", "", "", v["estates"], v["households"], v["floor_area"],
                     v["investment_wan"]], fmt)

    def county_end(code):
        fig_row(_("Subtotal %(name)s") % {"name": names.get(code, code)}, counties[code], formats["sub"])

    def city_end(code):
        if code in cities:
            fig_row(_("Subtotal %(name)s") % {"name": names.get(code, code)}, cities[code], formats["sub"])

    def rows_for(code):
        return (restrict(PlanItem.objects.filter(plan_id=plans[code], year=year), user).order_by("id")
                .values_list("plan__county__code", "estate__code", "estate__name", "project__code", "project__name",
                             "year", "planned_start", "planned_finish", "content_classes", "is_model",
                             "estates_count", "households", "floor_area", "estimated_investment_wan")
                .iterator(chunk_size=CHUNK))

    def write_row(r):
        sheet.write([names.get(r[0][:4], r[0][:4]), names.get(r[0], r[0]), r[1] or r[3], r[2] or r[4], r[5], r[6],
                     r[7], "、".join(str(class_words.get(c, c)) for c in r[8] or []), 1 if r[9] else 0, r[10], r[11],
                     r[12], r[13]])

    n = _blocks(plans, rows_for, write_row, county_end, city_end)
    fig_row(_("Total %(name)s") % {"name": region.name}, rollup.total, formats["total"])
    return n


def write_progress(book, formats, *, user, region, month, progress_by_county, progress_by_child, names) -> int:
    headers = [_("City"), _("County"), _("Estate code"), _("Estate"), _("Plan year"), _("Stage"), _("Started on"),
               _("Completed on"), _("Accepted on"), _("In the plan"), _("Started"), _("Completed"), _("Accepted"),
               _("In this year's plan"), _("Households"), _("Investment completed (万元)")]
    sheet = _Sheet(book, _("Progress"), _("Progress to the end of %(month)s · %(region)s") % {
        "month": month.strftime("%Y-%m"), "region": region.name}, headers,
        [10, 12, 18, 28, 8, 10, 11, 11, 11, 8, 8, 8, 8, 8, 10, 14], formats)
    stage_words = {k: str(v) for k, v in ProgressStage.choices}
    by_county = {r.code: r for r in progress_by_county["rows"]}
    by_city = {r.code: r for r in progress_by_child["rows"]} if region.level == RegionLevel.PROVINCE else {}

    def fig_row(label, row, fmt):
        v = row.values
        sheet.write([label, "", "", "", "", "", "", "", "", v["plan_estates"], v["started_estates"],
                     v["completed_estates"], v["accepted_estates"], v["annual_estates"], "", v["investment_done_wan"]],
                    fmt)

    def county_end(code):
        if code in by_county:
            fig_row(_("Subtotal %(name)s") % {"name": names.get(code, code)}, by_county[code], formats["sub"])

    def city_end(code):
        if code in by_city:
            fig_row(_("Subtotal %(name)s") % {"name": names.get(code, code)}, by_city[code], formats["sub"])

    year = month.year
    entries = restrict(ProgressEntry.objects.all(), user)
    reports = dict(restrict(ProgressReport.objects.filter(month=month, status=ReportStatus.SUBMITTED,
                                                          county__code__startswith=region.code), user)
                   .values_list("county__code", "pk"))

    def rows_for(code):
        if code not in reports:
            return iter(())
        return (entries.filter(report_id=reports[code]).order_by("estate__code")
                .values_list("county_code", "estate__code", "estate__name", "plan_year", "stage", "started_on",
                             "completed_on", "accepted_on", "households", "investment_done_wan")
                .iterator(chunk_size=CHUNK))

    def write_row(r):
        in_plan = r[3] is not None
        sheet.write([names.get(r[0][:4], r[0][:4]), names.get(r[0], r[0]), r[1], r[2], r[3],
                     stage_words.get(r[4], r[4]), r[5], r[6], r[7], int(in_plan),
                     int(in_plan and r[4] in STARTED), int(in_plan and r[4] in COMPLETED),
                     int(in_plan and r[4] == ProgressStage.ACCEPTED), int(r[3] == year), r[8], r[9]])

    n = _blocks(by_county, rows_for, write_row, county_end, city_end)
    fig_row(_("Total %(name)s") % {"name": region.name}, progress_by_child["total"], formats["total"])
    return n


def write_results(book, formats, *, region, month, progress_by_county, progress_by_child, names) -> int:
    headers = [_("Region"), _("Code"), _("Reports (received / expected)"), _("Estates in the annual plan"),
               _("Started"), _("Completed"), _("Accepted"), _("Start rate (%)"), _("Completion rate (%)"),
               _("Estates in the plan"), _("Started (whole plan)"), _("Completed (whole plan)"),
               _("Households in completed estates"), _("Floor area of completed estates (m²)"),
               _("Planned investment this year (万元)"), _("Investment completed (万元)")]
    sheet = _Sheet(book, _("Results"), _("Results to the end of %(month)s · %(region)s") % {
        "month": month.strftime("%Y-%m"), "region": region.name}, headers,
        [14, 8, 10, 10, 8, 8, 8, 8, 8, 10, 10, 10, 12, 14, 14, 14], formats)

    def fig_row(row, fmt=None, label=None):
        v = row.values
        sheet.write([label or row.name, row.code, f"{row.reported} / {row.expected}", v["annual_estates"],
                     v["annual_started"], v["annual_completed"], v["annual_accepted"], row.start_rate,
                     row.completion_rate, v["plan_estates"], v["started_estates"], v["completed_estates"],
                     v["completed_households"], v["completed_floor_area"], v["annual_investment_wan"],
                     v["investment_done_wan"]], fmt)

    by_city = {r.code: r for r in progress_by_child["rows"]} if region.level == RegionLevel.PROVINCE else {}
    rows = progress_by_county["rows"]
    current_city = None
    for row in rows:
        if by_city and row.code[:4] != current_city:
            if current_city in by_city:
                fig_row(by_city[current_city], formats["sub"], _("Subtotal %(name)s") % {
                    "name": names.get(current_city, current_city)})
            current_city = row.code[:4]
        fig_row(row)
    if by_city and current_city in by_city:
        fig_row(by_city[current_city], formats["sub"], _("Subtotal %(name)s") % {
            "name": names.get(current_city, current_city)})
    fig_row(progress_by_child["total"], formats["total"], _("Total %(name)s") % {"name": region.name})
    return len(rows)


def write_basic_information(book, formats, *, user, region, period, rollup, names) -> int:
    headers = [_("City"), _("County"), _("Street / community"), _("Estate or project code"), _("Name"),
               _("Address"), _("Built"), _("Buildings"), _("Housing type"), _("Plan year"), _("Estates"),
               _("Households"), _("Floor area (m²)")]
    sheet = _Sheet(book, _("Basic information"), _("Basic project information · %(region)s · plan %(period)s") % {
        "region": region.name, "period": period.label}, headers,
        [10, 12, 18, 18, 28, 28, 6, 8, 12, 8, 8, 10, 12], formats)
    plans = _plans(user, region, period)
    counties = {f.code: f for f in rollup.counties}
    cities = {f.code: f for f in rollup.children} if region.level == RegionLevel.PROVINCE else {}
    from gaizao.estates.models import HousingType

    housing = {k: str(v) for k, v in HousingType.choices}

    def fig_row(label, f, fmt):
        t = f.total
        sheet.write([label, "", "", "", "", "", "", "", "", "", t["estates"], t["households"], t["floor_area"]], fmt)

    def county_end(code):
        fig_row(_("Subtotal %(name)s") % {"name": names.get(code, code)}, counties[code], formats["sub"])

    def city_end(code):
        if code in cities:
            fig_row(_("Subtotal %(name)s") % {"name": names.get(code, code)}, cities[code], formats["sub"])

    def rows_for(code):
        return (restrict(PlanItem.objects.filter(plan_id=plans[code]), user).order_by("year", "id")
                .values_list("plan__county__code", "estate__region__name", "project__region__name", "estate__code",
                             "estate__name", "project__code", "project__name", "estate__address",
                             "estate__built_year", "estate__buildings", "estate__housing_type", "year",
                             "estates_count", "households", "floor_area").iterator(chunk_size=CHUNK))

    def write_row(r):
        sheet.write([names.get(r[0][:4], r[0][:4]), names.get(r[0], r[0]), r[1] or r[2], r[3] or r[5],
                     r[4] or r[6], r[7], r[8], r[9], housing.get(r[10], "") if r[10] else "", r[11], r[12],
                     r[13], r[14]])

    n = _blocks(plans, rows_for, write_row, county_end, city_end)
    fig_row(_("Total %(name)s") % {"name": region.name}, rollup.total, formats["total"])
    return n


TABLES = ("annual_plan", "progress", "results", "basic_information")


def write_statistical_workbook(target, *, user, region: Region, period: PlanPeriod, month: datetime.date,
                               year: int | None = None, tables=TABLES) -> dict:
    """Write the workbook to a path or a binary file object; returns the row counts per table."""
    year = year or (month.year if period.contains(month.year) else period.start_year)
    rollup = selectors.plan_rollup(user, region, period)
    by_county = selectors.progress_rollup(user, region, month, by="county")
    by_child = selectors.progress_rollup(user, region, month)
    names = _names(region)
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "in_memory": False})
    formats = _formats(book)
    counts = {}
    try:
        if "results" in tables:
            counts["results"] = write_results(book, formats, region=region, month=month, progress_by_county=by_county,
                                              progress_by_child=by_child, names=names)
        if "annual_plan" in tables:
            counts["annual_plan"] = write_annual_plan(book, formats, user=user, region=region, period=period,
                                                      year=year, rollup=rollup, names=names)
        if "progress" in tables:
            counts["progress"] = write_progress(book, formats, user=user, region=region, month=month,
                                                progress_by_county=by_county, progress_by_child=by_child, names=names)
        if "basic_information" in tables:
            counts["basic_information"] = write_basic_information(book, formats, user=user, region=region,
                                                                  period=period, rollup=rollup, names=names)
    finally:
        book.close()
    return counts
