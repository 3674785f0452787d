"""`gaizao plan-optimize --region CODE --period 2020-2022 [--budget-file F.csv] [--json]`

Proposes the schedule with the greatest priority-weighted benefit for a county's (or a city's, or the
province's) pool under the yearly budgets, the targets and the model-estate rule, beside the greedy
schedule and the LP bound. Budgets come from the database (`PlanBudget`) unless a file is given.
"""

import io
import json as jsonlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gaizao.core.errors import ServiceError
from gaizao.plans import optimiser, selectors, services
from gaizao.plans.models import PlanPeriod
from gaizao.regions.models import Region, RegionLevel


class Command(BaseCommand):
    help = "Propose an optimised renovation schedule for a region's pool (HiGHS), with greedy and the LP bound."

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True, help="region code: a county, a city or 33")
        parser.add_argument("--period", default="2020-2022", help="plan period, e.g. 2020-2022")
        parser.add_argument("--budget-file", help="CSV with columns county,year,budget_wan (万元)")
        parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
        parser.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
        parser.add_argument("--gap", type=float, default=None,
                            help="relative MIP gap (default 0.0001 up to 20,000 candidates, else 0.005)")
        parser.add_argument("--save", action="store_true", help="keep the run so the pages show it")

    def handle(self, *args, region, period, budget_file, json: bool, time_limit, gap, save, **options):
        target = Region.objects.filter(code=str(region).strip()).first()
        if target is None:
            raise CommandError(f"no region has the code {region}")
        if target.level not in (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY):
            raise CommandError(f"{region} is a {target.level}: choose the province, a city or a county")
        try:
            start, end = optimiser.parse_period(period)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        plan_period = PlanPeriod.objects.filter(start_year=start, end_year=end).first() or PlanPeriod(
            start_year=start, end_year=end, name=f"{start}-{end}")
        budgets = _read_budget_file(budget_file, (start, end)) if budget_file else None
        if time_limit <= 0 or gap is not None and not 0 <= gap < 1:
            raise CommandError("--time-limit must be > 0 and --gap between 0 and 1")
        result = selectors.run_optimiser(target, plan_period, budgets=budgets, time_limit=time_limit,
                                         mip_rel_gap=gap)
        if save:
            if plan_period.pk is None:
                raise CommandError(f"the period {period} does not exist in the database; create it to --save")
            from gaizao.plans.services import optimisation_run_save

            run = optimisation_run_save(actor=None, region=target, period=plan_period,
                                        params={"cli": True, "budget_file": bool(budget_file)}, result=result)
            self.stderr.write(f"saved as optimiser run #{run.pk}")
        if json:
            out = {k: v for k, v in result.items() if k not in ("candidate_ids",)}
            self.stdout.write(_json_dumps(out))
            return
        self._print(target, period, result)

    def _print(self, region, period, r):
        w = self.stdout.write
        w(f"{region.name} ({region.code}) {period}: {r.get('candidates', 0)} candidates, status {r.get('status')}")
        w(f"objective         {r.get('objective'):.2f}")
        w(f"bound             {_fmt(r.get('bound'))}")
        w(f"gap               {_pct(r.get('gap'))}")
        w(f"greedy_objective  {r.get('greedy_objective'):.2f}  (proposal better by {_pct(r.get('improvement_over_greedy'))})")
        w(f"feasible          {str(r.get('feasible')).lower()}")
        if not r.get("budgets_given"):
            w("budgets           none set: money was not limited")
        elif r.get("unbudgeted"):
            w(f"budgets           none set for {len(r['unbudgeted'])} county(ies), not limited by money: "
              f"{', '.join(r['unbudgeted'][:20])}")
        if r.get("reasons"):
            w("reasons:")
            for reason in r["reasons"]:
                w(f"  - {reason.get('message')}")
        w("schedule (candidate, county, year, model, cost 万元):")
        for row in r.get("schedule", []):
            w(f"  {row['id']:<10} {row['county']} {row['year']} {'model' if row.get('model') else '':<5} {row['cost_wan']}")


def _read_budget_file(name: str, period: tuple[int, int]) -> dict:
    """The budgets in the file named `name`, always read as a file (never taken for CSV text, whatever
    the name looks like); a file that is missing, unreadable or bad is a CommandError naming it."""
    path = Path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{name}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise CommandError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = services.budget_file_text(data)
    except ServiceError:  # the command names the file in its own words
        raise CommandError(f"{name}: neither UTF-8 nor GBK text") from None
    try:
        return optimiser.parse_budget_csv(io.StringIO(text), period=period, county_named=services.county_code_by_name())
    except optimiser.BudgetFileError as exc:
        lines = [f"{name}: row {e['row']}, {e['column'] or '-'}: {e['message']}" for e in exc.errors]
        raise CommandError("\n".join(lines[:50])) from None


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.3f}%"


def _json_dumps(value) -> str:
    return jsonlib.dumps(value, ensure_ascii=False, default=str)

