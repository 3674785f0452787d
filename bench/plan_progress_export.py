"""Plans benchmark at national scale (220,000 estates): the progress roll-up by region and the statistical export.

  1. a PostgreSQL database of its own (BENCH_PLANS_DATABASE_URL, default
     postgres://postgres@127.0.0.1:5432/gaizao_bench_plans) is migrated, the regions loaded and
     `gaizao demo-data --scale national` run; then every county gets a plan scheduling all its estates over
     2020-2022 and a submitted progress report for June 2020 (skipped when already there)
  2. the roll-up: `selectors.progress_rollup` (what the dashboard, the API and the export call) for the
     province by city, measured against, in the same run and on the same connection,
       - the raw SQL GROUP BY computing the same figures from the 220,000 estates' entries, and
       - the raw SQL GROUP BY over the locked county-month figures the selector reads
  3. the export, each in a child process (wall time, CPU time and peak RSS): the province's progress table
     for June 2020 (220,000 estate rows: the target) and, for information, the whole workbook of four
     tables (annual plan, progress, results, basic information: about 513,000 rows)
Targets: roll-up p95 <= 50 ms and <= 2x the raw GROUP BY; the 220,000-row export <= 30 s with peak RSS
<= 500 MB. The machine may be shared: CPU time is printed beside wall time.

    .venv/bin/python bench/plan_progress_export.py [--samples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable
DB_URL = os.environ.get("BENCH_PLANS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gaizao_bench_plans")
NATIONAL = 219_000
MONTH = "2020-06-01"
ROLLUP_P95_MS = 50.0
ROLLUP_RATIO = 2.0
EXPORT_SECONDS = 30.0
EXPORT_RSS_MB = 500.0


def env() -> dict:
    e = dict(os.environ)
    e.update(DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="gaizao.settings", GAIZAO_VAR_DIR=str(OUT / "var"),
             LOG_LEVEL="ERROR", DEBUG="false")
    return e


def django_setup() -> None:
    os.environ.update(env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database() -> None:
    import environ
    import psycopg

    cfg = environ.Env.db_url_config(DB_URL)
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres",
                         autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def gaizao(*args, **kw):
    return subprocess.run([PY, "-m", "gaizao.cli", *args], check=True, env=env(), cwd=ROOT, **kw)


def prepare() -> None:
    ensure_database()
    gaizao("migrate", "-v0")
    django_setup()
    from gaizao.estates.models import Estate

    if Estate.objects.count() < NATIONAL:
        print("generating national-scale estates (gaizao demo-data --scale national) …", flush=True)
        started = time.monotonic()
        gaizao("load-regions", stdout=subprocess.DEVNULL)
        gaizao("demo-data", "--scale", "national", stdout=subprocess.DEVNULL)
        print(f"  {Estate.objects.count()} estates in {time.monotonic() - started:.0f} s", flush=True)
    plans_for_every_county()


def plans_for_every_county() -> None:
    """Every county's estates in a plan (a third per year) and a submitted June 2020 report (bulk inserts)."""
    import datetime
    import random
    from decimal import Decimal

    from django.db import connection, transaction

    from gaizao.estates.models import Estate
    from gaizao.plans import services
    from gaizao.plans.models import (
        ActionPlan,
        PlanItem,
        ProgressEntry,
        ProgressReport,
        ProgressStage,
        ProgressSummary,
        ReportStatus,
    )
    from gaizao.plans.targets import costs_by_county
    from gaizao.regions.models import Region, RegionLevel

    month = datetime.date.fromisoformat(MONTH)
    period = services.period_default()
    done = ProgressSummary.objects.filter(month=month).count()
    county_ids = set(Estate.objects.values_list("county_id", flat=True).distinct())
    counties = list(Region.objects.filter(pk__in=county_ids, level=RegionLevel.COUNTY).order_by("code"))
    if done >= len(counties) and ProgressEntry.objects.filter(report__month=month).count() >= NATIONAL:
        return
    print(f"preparing plans and June 2020 reports for {len(counties)} counties …", flush=True)
    started = time.monotonic()
    costs = costs_by_county([c.code for c in counties])
    rng = random.Random(4)
    stages = [ProgressStage.NOT_STARTED, ProgressStage.STARTED, ProgressStage.COMPLETED, ProgressStage.ACCEPTED]
    for county in counties:
        with transaction.atomic():
            ProgressReport.objects.filter(county=county, month=month).delete()
            plan = ActionPlan.objects.filter(county=county, period=period).order_by("version").first() \
                or ActionPlan.objects.create(county=county, period=period)
            plan.items.all().delete()
            c = costs[county.code]
            rows = list(Estate.objects.filter(county=county).values_list("pk", "households", "floor_area"))
            items, entries = [], []
            report = ProgressReport.objects.create(county=county, month=month, plan=plan)
            for k, (pk, households, area) in enumerate(rows):
                year = 2020 + k % 3
                a = c.area(area, households)
                items.append(PlanItem(plan=plan, estate_id=pk, year=year, planned_start=datetime.date(year, 3, 1),
                                      planned_finish=datetime.date(year, 11, 30), content_classes=["basic"],
                                      households=households, floor_area=a,
                                      estimated_investment_wan=c.estimate_wan(area, households, {"basic"})))
                stage = stages[min(rng.randrange(6), 3)] if year == 2020 else ProgressStage.NOT_STARTED
                rank = stages.index(stage)
                entries.append(ProgressEntry(
                    report=report, estate_id=pk, county_code=county.code, plan_year=year, stage=stage,
                    started_on=datetime.date(2020, 3, 2) if rank >= 1 else None,
                    completed_on=datetime.date(2020, 5, 20) if rank >= 2 else None,
                    accepted_on=datetime.date(2020, 6, 10) if rank >= 3 else None,
                    investment_done_wan=Decimal(rank * 40), households=households, floor_area=a))
            PlanItem.objects.bulk_create(items, batch_size=5000)
            ProgressEntry.objects.bulk_create(entries, batch_size=5000)
            report.status = ReportStatus.SUBMITTED
            report.submitted_at = datetime.datetime(2020, 7, 3, 8, 0, tzinfo=datetime.UTC)
            report.save()
            ProgressSummary.objects.update_or_create(county=county, month=month, defaults={
                "report": report, "county_code": county.code, **services.summary_values(report)})
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    print(f"  done in {time.monotonic() - started:.0f} s", flush=True)


RAW_ENTRIES = """
SELECT substr(e.county_code, 1, 4) AS g,
       count(*) FILTER (WHERE e.plan_year = 2020) AS annual_estates,
       count(*) FILTER (WHERE e.plan_year = 2020 AND e.stage IN ('started', 'completed', 'accepted')) AS annual_started,
       count(*) FILTER (WHERE e.plan_year = 2020 AND e.stage IN ('completed', 'accepted')) AS annual_completed,
       count(*) FILTER (WHERE e.plan_year IS NOT NULL) AS plan_estates,
       count(*) FILTER (WHERE e.plan_year IS NOT NULL AND e.stage IN ('completed', 'accepted')) AS completed_estates,
       sum(e.investment_done_wan) AS investment
FROM plans_progressentry e JOIN plans_progressreport r ON r.id = e.report_id
WHERE r.month = %s AND r.status = 'submitted' AND e.county_code LIKE '33%%'
GROUP BY 1 ORDER BY 1
"""
RAW_SUMMARY = """
SELECT substr(county_code, 1, 4) AS g, sum(annual_estates), sum(annual_started), sum(annual_completed),
       sum(plan_estates), sum(completed_estates), sum(investment_done_wan)
FROM plans_progresssummary WHERE month = %s AND county_code LIKE '33%%' GROUP BY 1 ORDER BY 1
"""


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def timed(fn, n: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_rollup(samples: int) -> dict:
    import datetime

    from django.db import connection

    from gaizao.accounts.models import User
    from gaizao.plans import selectors
    from gaizao.plans.models import ProgressEntry
    from gaizao.regions.models import Region

    admin = User.objects.get(username="admin")
    province = Region.objects.get(code="33")
    month = datetime.date.fromisoformat(MONTH)

    def ours():
        admin.__dict__.pop("_gaizao_scope", None)  # a fresh request: the per-request scope is gone
        return selectors.progress_rollup(admin, province, month)

    def raw(sql):
        def run():
            with connection.cursor() as cur:
                cur.execute(sql, [MONTH])
                return cur.fetchall()
        return run

    entries = ProgressEntry.objects.filter(report__month=month).count()
    result = ours()
    raw_rows = raw(RAW_ENTRIES)()
    same = [(r.code, r.values["annual_estates"], r.values["annual_started"], r.values["annual_completed"],
             r.values["plan_estates"], r.values["completed_estates"]) for r in result["rows"]] == [
        tuple(x[:6]) for x in raw_rows]
    t_ours = timed(ours, samples)
    t_raw = timed(raw(RAW_ENTRIES), max(samples // 4, 20))
    t_raw_summary = timed(raw(RAW_SUMMARY), samples)
    return {"entries": entries, "same_figures": same, "ours_p95_ms": p95(t_ours),
            "ours_median_ms": statistics.median(t_ours), "raw_entries_p95_ms": p95(t_raw),
            "raw_summary_p95_ms": p95(t_raw_summary), "vendor": connection.vendor}


def export_child(tables: str) -> None:
    """Runs in its own process: write the province's workbook, print seconds, CPU, rows and peak RSS."""
    import datetime
    import resource
    import tempfile

    django_setup()
    from gaizao.accounts.models import User
    from gaizao.plans import services
    from gaizao.plans.export import write_statistical_workbook
    from gaizao.regions.models import Region

    admin = User.objects.get(username="admin")
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as fh:
        counts = write_statistical_workbook(fh.name, user=admin, region=Region.objects.get(code="33"),
                                            period=services.period_default(),
                                            month=datetime.date.fromisoformat(MONTH), year=2020,
                                            tables=tables.split(","))
        size = os.path.getsize(fh.name)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "rss_mb": usage.ru_maxrss / 1024, "rows": counts, "bytes": size}))


def bench_export(tables: str) -> dict:
    out = subprocess.run([PY, __file__, "--export-child", tables], check=True, env=env(), cwd=ROOT,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--export-child", metavar="TABLES", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child)
        return 0
    prepare()
    rollup = bench_rollup(args.samples)
    export = bench_export("progress")
    workbook = bench_export("results,annual_plan,progress,basic_information")
    ratio = rollup["ours_p95_ms"] / rollup["raw_entries_p95_ms"]
    ratio_summary = rollup["ours_p95_ms"] / rollup["raw_summary_p95_ms"]
    print(f"progress roll-up by city, province admin, {rollup['entries']} estate entries ({rollup['vendor']}):")
    print(f"  selectors.progress_rollup     p95 {rollup['ours_p95_ms']:.2f} ms (median {rollup['ours_median_ms']:.2f})")
    print(f"  raw GROUP BY over the entries p95 {rollup['raw_entries_p95_ms']:.2f} ms  -> ratio {ratio:.3f}x")
    print(f"  raw GROUP BY over the locked county-month figures p95 {rollup['raw_summary_p95_ms']:.2f} ms "
          f"-> ratio {ratio_summary:.1f}x (ORM, scoping and Python on top of a sub-ms query)")
    print(f"  same figures as the raw GROUP BY over the entries: {rollup['same_figures']}")
    for what, e in (("progress table", export), ("whole workbook", workbook)):
        rows = sum(e["rows"].values())
        print(f"statistical export, {what} ({rows} rows: {e['rows']}): {e['seconds']:.1f} s wall, "
              f"{e['cpu_seconds']:.1f} s CPU, peak RSS {e['rss_mb']:.0f} MB, {e['bytes'] / 1e6:.1f} MB xlsx")
    ok_rollup = rollup["ours_p95_ms"] <= ROLLUP_P95_MS and ratio <= ROLLUP_RATIO and rollup["same_figures"]
    ok_export = export["seconds"] <= EXPORT_SECONDS and export["rss_mb"] <= EXPORT_RSS_MB
    print(f"targets: roll-up p95 <= {ROLLUP_P95_MS:.0f} ms and <= {ROLLUP_RATIO:.0f}x raw: "
          f"{'met' if ok_rollup else 'NOT met'}; export <= {EXPORT_SECONDS:.0f} s and <= {EXPORT_RSS_MB:.0f} MB: "
          f"{'met' if ok_export else 'NOT met'}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "plan_progress_export.json").write_text(json.dumps({"rollup": rollup, "export": export,
                                                               "workbook": workbook}, indent=2))
    return 0 if ok_rollup and ok_export else 1


if __name__ == "__main__":
    sys.exit(main())
