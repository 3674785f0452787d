"""The plan optimiser (issue 4, point 4): which pool estates to schedule in which year of a plan period.

Pure Python + numpy + HiGHS; no Django. The plans app, the CLI (`gaizao plan-optimize`) and the pages
build an `Instance` from their models and call `optimise()`; `PlanResult.to_json()` is the `--json`
output.

The model
---------
For every candidate i (an estate, or a merged project of n estates) and every year t of the period with
t >= the candidate's earliest year there is a binary x[i,t] ("start i in t"). Then

* each candidate is scheduled at most once: sum_t x[i,t] <= 1;
* budgets, per county c and year t, in 万元: sum_i cost_i x[i,t] <= B[c,t] (with ``carry_over=True`` an
  unspent budget rolls forward, so the rows become cumulative: sum_{t'<=t} ... <= sum_{t'<=t} B[c,t']);
* targets, per county and target year y: the cumulative quantity scheduled by the end of y is at least
  the share of the county's task, sum_{t<=y} m_i x[i,t] >= ceil(share * Q_c), with m_i the candidate's
  quantity in the target unit (estates, households or floor area) and Q_c the county's task: by default
  the total quantity of the county's candidates in the period (an explicit task per county can be given
  when the pool is larger than the task);
* model estates (样板): per county at least N candidates that may serve as a model estate scheduled by the
  deadline year: sum_{i model-eligible, t<=deadline} x[i,t] >= N - (model estates the county already has).

The objective is maximise sum_{i,t} b_i * (1 + earliness * (last year - t)) x[i,t], with b_i the
priority-weighted benefit (default priority score x households; selectable) and a small reward for
earlier years (default 1% per year, 0 switches it off).

Exact arithmetic. Quantities are integers in the unit (estates, households, floor area in 0.01 m²), shares
are `Fraction`s, so "at least the share" is an exact ceiling: 30% of 7 estates needs 3, 1/3 of 9 needs 3,
0.3 as a float never becomes 0.29999. Costs and budgets are `Decimal` 万元 kept to 0.0001 万元 (one yuan);
the greedy schedule and the pre-check compare them as integers, the MIP sees floats (any violation there
would be at least one yuan, far above HiGHS's tolerances, and the final schedule is re-checked exactly).

Decomposition (why it is exact, and how the solve goes)
-------------------------------------------------------
Every row of the model belongs to exactly one county: budgets, targets and the model-estate rule are
per county and each candidate belongs to one county. The constraint matrix is block diagonal by county
and the problem separates: the optimum of the whole instance is the sum of the counties' optima, the LP
relaxation of the whole is the sum of the counties' LP relaxations, and valid upper bounds per county
add up to a valid upper bound of the whole. So:

1. LP relaxation, in blocks of whole counties (a block groups consecutive counties up to about
   ``block_columns`` variables, so HiGHS is called a few dozen times for 2,000 counties rather than 2,000
   times). An optimal LP solution of a block restricted to one county is optimal for that county, so
   this gives each county's LP value ``lp_k`` and the exact LP bound of the whole (``lp_bound``).
2. LP-guided rounding per county (`_round_county`): keep what the LP schedules wholly in one year,
   place the candidates it splits or takes in part by moving others between years to make room,
   enumerate a small core of marginal candidates exhaustively against the exact constraints, repair
   the targets and the model rule if needed, fill leftover money, move work earlier.
3. HiGHS per county: for every county the rounding could not do (it gives a feasible schedule, or
   proves the county infeasible), then for the counties with the widest gap (lp_k minus the county's
   objective) until the whole instance is within ``mip_rel_gap`` of the bound; each such MIP starts
   from the rounded schedule and stops at ``objective_target`` = lp_k (1 - mip_rel_gap/2). Its dual
   bound replaces lp_k when smaller. Spare time (at most ``polish_seconds``, default a quarter of the
   time limit) then brings the remaining counties to a gap of 1e-4 one by one.

Why not one big MIP: measured on the national instance of the benchmark (220,000 candidates, 2,200
counties, 660,000 binaries), HiGHS on 20,000-column blocks had not reached a 0.5% gap after a minute per
block, and per-county MIPs cost 0.05-2 s each (mostly proving bounds for knapsack-like rows), i.e.
several minutes in all. The LP bound itself is tight (the best schedules are about 0.1-0.3% below it),
so the work that pays is finding good schedules fast, which the rounding does in pure Python and numpy,
with HiGHS kept for the LP, for the counties the rounding cannot do, and for the widest gaps.

The bound is a true bound: ``bound`` is the sum over counties of min(lp_k, HiGHS's dual bound for k)
(each a valid bound of its county); ``lp_bound`` is the LP relaxation value of the whole instance.
``gap`` = (bound - objective) / bound and ``lp_gap`` the same against ``lp_bound``.

Feasibility
-----------
Before solving, `precheck()` tests, per county, necessary conditions: enough candidates can start by
each target year; the cumulative budget to each target year reaches the target even spent
cheapest-per-unit first (a fractional knapsack, i.e. an upper bound on what any schedule reaches); the
model-estate rule has eligible candidates and the money for the cheapest of them by the deadline. A
county failing one of these is infeasible for certain. A county whose MIP is infeasible although it
passed the pre-check (per-year budgets that cannot be pooled, a model estate competing with the first
year's target, lumpy costs) is analysed after the solve: each target alone with the real yearly
budgets (its exact maximum reach, `budget_short_of_target` if short), the model rule alone, and if each
is reachable alone, a deletion filter over the rules that names an irreducible conflicting set
(`constraints_conflict`). An infeasible county still gets a best-effort schedule: first the smallest
total shortfall (as shares of the targets), then the greatest benefit.

Reasons are dicts with a stable ``code`` (see `REASON_CODES`), ``county``, ``year`` and the numbers;
`reason_message()` turns one into a plain sentence (English or Chinese) for the CLI; the pages will
translate through gettext from the same data.

`verify_schedule()` re-checks a schedule against the instance from scratch with `Fraction`/`Decimal`
and shares no code with the model builder; tests run it on every schedule the optimiser and the greedy
method produce.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

try:  # The C++ class without the Python callback layer: it does not print a banner on construction.
    from highspy._core import _Highs as _HighsClass
except ImportError:  # pragma: no cover - older/newer highspy layouts
    from highspy import Highs as _HighsClass

__all__ = [
    "BENEFITS",
    "DEFAULT_TARGETS",
    "REASON_CODES",
    "UNITS",
    "BudgetFileError",
    "Candidate",
    "Instance",
    "ModelRule",
    "PlanResult",
    "Requirement",
    "Target",
    "Violation",
    "candidate_measure",
    "county_names_from_data",
    "greedy_schedule",
    "optimise",
    "parse_budget_csv",
    "parse_period",
    "parse_share",
    "precheck",
    "reason_message",
    "required_quantity",
    "schedule_diff",
    "schedule_objective",
    "target_requirements",
    "verify_schedule",
]

UNITS = ("estates", "households", "floor_area")
UNIT_WORDS = {
    "en": {"estates": "estates", "households": "households", "floor_area": "floor area"},
    "zh": {"estates": "小区", "households": "户数", "floor_area": "建筑面积"},
}
CENT = Decimal("0.01")
YUAN = Decimal("0.0001")  # 1 yuan in 万元
MAX_BUDGET_WAN = Decimal("9999999999.9999")  # the most a budget column holds (14 digits, 4 of them decimals)
AREA_SCALE = 100  # floor area quantities are counted in 0.01 m²
COST_SCALE = 10_000  # costs and budgets as integers are counted in yuan (0.0001 万元)

REASON_CODES = {
    "candidates_short_of_target": "not enough candidates may start by the target year, whatever the budget",
    "budget_short_of_target": "the budget up to the target year cannot reach the target share",
    "model_estate_deadline_before_period": "the model-estate deadline lies before the plan period",
    "model_estate_unavailable": "too few candidates that may serve as a model estate by the deadline",
    "model_estate_budget_short": "the budget up to the deadline cannot pay for the model estates",
    "constraints_conflict": "each rule can be met alone, but not all together within the budget",
    "no_solution_in_time": "no schedule was found within the time limit (not proven infeasible)",
    "schedule_check_failed": "the exact check of the schedule found a violation (solver tolerance)",
}


# --------------------------------------------------------------------------------------------------
# Input data
# --------------------------------------------------------------------------------------------------


def _decimal(value: Any, quantum: Decimal, what: str) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        raise TypeError(f"{what}: expected a number, got {value!r}")
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what}: {value!r} is not a finite number")
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    else:
        raise TypeError(f"{what}: expected a number, got {value!r}")
    if not d.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return d.quantize(quantum, rounding=ROUND_HALF_UP)


def parse_share(value: Any) -> Fraction:
    """A share as an exact fraction: "30%", "0.3", Decimal("0.30"), Fraction(3, 10), 0.3 -> 3/10."""
    if isinstance(value, Fraction):
        share = value
    elif isinstance(value, bool):
        raise TypeError(f"share: expected a number, got {value!r}")
    elif isinstance(value, int | Decimal | float | str):
        text = (value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float)
                else str(value))
        percent = text.endswith("%")
        try:  # "inf" and "nan" are Decimals but not fractions
            share = Fraction(Decimal(text[:-1].strip() if percent else text))
        except (InvalidOperation, ValueError, OverflowError):
            raise ValueError(f"share: {value!r} is not a number") from None
        if percent:
            share /= 100
    else:
        raise TypeError(f"share: expected a number, got {value!r}")
    if not 0 <= share <= 1:
        raise ValueError(f"share: {value!r} is not between 0 and 1 (100%)")
    return share


@dataclass(frozen=True, slots=True)
class Candidate:
    """An estate or a merged project that may be scheduled.

    ``cost_wan`` is the estimated investment in 万元 (kept to 0.0001 万元), ``floor_area`` in m² (0.01),
    ``estates`` is 1 for an estate and n for a project merging n estates, ``earliest_year`` the first
    year it may start (None: any year of the period), ``model_eligible`` whether it may serve as a
    model estate (样板).
    """

    id: str
    county: str
    priority: Decimal
    households: int
    floor_area: Decimal
    cost_wan: Decimal
    estates: int = 1
    earliest_year: int | None = None
    model_eligible: bool = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "id", str(self.id))
        set_(self, "county", str(self.county))
        set_(self, "priority", _decimal(self.priority, CENT, f"{self.id}: priority"))
        set_(self, "floor_area", _decimal(self.floor_area, CENT, f"{self.id}: floor_area"))
        set_(self, "cost_wan", _decimal(self.cost_wan, YUAN, f"{self.id}: cost_wan"))
        if int(self.households) != self.households or self.households < 0:
            raise ValueError(f"{self.id}: households must be a whole number >= 0")
        if int(self.estates) != self.estates or self.estates < 1:
            raise ValueError(f"{self.id}: estates must be a whole number >= 1")
        set_(self, "households", int(self.households))
        set_(self, "estates", int(self.estates))
        if self.floor_area < 0 or self.cost_wan < 0:
            raise ValueError(f"{self.id}: floor_area and cost_wan must be >= 0")
        if self.earliest_year is not None:
            set_(self, "earliest_year", int(self.earliest_year))
        set_(self, "model_eligible", bool(self.model_eligible))


@dataclass(frozen=True, slots=True)
class Target:
    """A cumulative share of the task done by the end of a year of the period.

    ``year`` counts the period's years from 1 (negative counts from the end: -1 is the last year);
    use ``Target.in_year(2021, "50%")`` for a calendar year instead.
    """

    year: int
    share: Fraction
    calendar: bool = False

    def __post_init__(self):
        object.__setattr__(self, "share", parse_share(self.share))
        object.__setattr__(self, "year", int(self.year))

    @classmethod
    def in_year(cls, calendar_year: int, share: Any) -> Target:
        return cls(year=calendar_year, share=share, calendar=True)

    def calendar_year(self, start: int, end: int) -> int:
        if self.calendar:
            y = self.year
        elif self.year >= 1:
            y = start + self.year - 1
        elif self.year <= -1:
            y = end + self.year + 1
        else:
            raise ValueError("target year 0 does not exist: count the period's years from 1 (or -1 for the last)")
        if not start <= y <= end:
            raise ValueError(f"target year {self.year} lies outside the period {start}-{end}")
        return y


DEFAULT_TARGETS = (Target(1, Fraction(3, 10)), Target(-1, Fraction(1)))


@dataclass(frozen=True, slots=True)
class ModelRule:
    """Each county needs ``count`` model estates (样板) scheduled by the end of the deadline year.

    ``deadline`` counts the period's years like `Target.year` (default: the first year), or is a
    calendar year with ``calendar=True``. The seed's deadline (end of 2019) lies before the 2020-2022
    period: pass it as a calendar year together with ``Instance.existing_model_estates``.
    """

    count: int = 1
    deadline: int = 1
    calendar: bool = False

    def deadline_year(self, start: int, end: int) -> int:
        if self.calendar:
            return self.deadline
        if self.deadline >= 1:
            return start + self.deadline - 1
        if self.deadline <= -1:
            return end + self.deadline + 1
        raise ValueError("model-estate deadline 0 does not exist: count the period's years from 1")


def _benefit_priority_households(c: Candidate) -> float:
    return float(c.priority) * c.households


BENEFITS: dict[str, Callable[[Candidate], float]] = {
    "priority_households": _benefit_priority_households,
    "priority_area": lambda c: float(c.priority) * float(c.floor_area),
    "priority_estates": lambda c: float(c.priority) * c.estates,
    "priority": lambda c: float(c.priority),
    "households": lambda c: float(c.households),
}


@dataclass
class Instance:
    """One optimisation problem: candidates, a period, budgets, targets and the model-estate rule.

    ``budgets`` maps (county code, year) to 万元; a (county, year) missing from it has no money; None
    means no budget limit at all. ``task`` optionally gives a county's task in the target unit
    (estates, households, or m²) when the pool is larger than the task; by default a county's task is
    all its candidates in the period. Candidates whose earliest year is after the period are not part
    of the task and are left out (`Instance.out_of_period`).
    """

    candidates: Sequence[Candidate]
    start_year: int
    end_year: int
    budgets: Mapping[tuple[str, int], Any] | None = None
    targets: Sequence[Target] = DEFAULT_TARGETS
    unit: str = "estates"
    model_rule: ModelRule | None = field(default_factory=ModelRule)
    benefit: str | Callable[[Candidate], float] = "priority_households"
    earliness: float = 0.01
    carry_over: bool = False
    task: Mapping[str, Any] | None = None
    existing_model_estates: Mapping[str, int] | None = None
    county_names: Mapping[str, str] | None = None

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {self.unit!r}")
        if not self.start_year <= self.end_year:
            raise ValueError(f"the period {self.start_year}-{self.end_year} is empty")
        if isinstance(self.benefit, str) and self.benefit not in BENEFITS:
            raise ValueError(f"benefit must be one of {', '.join(BENEFITS)} or a function")
        if self.earliness < 0:
            raise ValueError("earliness must be >= 0")
        self.targets = tuple(t if isinstance(t, Target) else Target(*t) for t in self.targets)
        for t in self.targets:
            t.calendar_year(self.start_year, self.end_year)  # raises when outside the period
        if self.budgets is not None:
            self.budgets = {
                (str(c), int(y)): _decimal(v, YUAN, f"budget {c} {y}") for (c, y), v in self.budgets.items()
            }
            if any(v < 0 for v in self.budgets.values()):
                raise ValueError("budgets must be >= 0")
        seen = set()
        for c in self.candidates:
            if c.id in seen:
                raise ValueError(f"candidate {c.id} appears twice")
            seen.add(c.id)

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.end_year + 1))

    @property
    def benefit_name(self) -> str:
        return self.benefit if isinstance(self.benefit, str) else getattr(self.benefit, "__name__", "custom")

    def benefit_of(self, c: Candidate) -> float:
        fn = BENEFITS[self.benefit] if isinstance(self.benefit, str) else self.benefit
        return float(fn(c))

    @property
    def out_of_period(self) -> list[str]:
        return [c.id for c in self.candidates if c.earliest_year is not None and c.earliest_year > self.end_year]

    def name(self, county: str) -> str:
        return (self.county_names or {}).get(county, county)


def parse_period(text: str) -> tuple[int, int]:
    """"2020-2022" -> (2020, 2022); "2021" -> (2021, 2021)."""
    parts = str(text).strip().split("-")
    try:
        if len(parts) == 1:
            start = end = int(parts[0])
        elif len(parts) == 2:
            start, end = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"period {text!r}: expected YEAR or YEAR-YEAR, e.g. 2020-2022") from None
    if not (1900 <= start <= end <= 2200):
        raise ValueError(f"period {text!r}: the first year must not come after the last")
    return start, end


# --------------------------------------------------------------------------------------------------
# Target arithmetic
# --------------------------------------------------------------------------------------------------


def candidate_measure(c: Candidate, unit: str) -> int:
    """The candidate's quantity in the target unit as an integer (floor area in 0.01 m²)."""
    if unit == "estates":
        return c.estates
    if unit == "households":
        return c.households
    if unit == "floor_area":
        return int(c.floor_area * AREA_SCALE)
    raise ValueError(f"unknown unit {unit!r}")


def _task_measure(value: Any, unit: str) -> int:
    if unit == "floor_area":
        d = _decimal(value, CENT, "task")
        if d != Decimal(str(value)):
            raise ValueError(f"task {value!r}: floor area is kept to 0.01 m²")
        return int(d * AREA_SCALE)
    d = _decimal(value, Decimal(1), "task")
    if d != Decimal(str(value)):
        raise ValueError(f"task {value!r}: {unit} must be a whole number")
    return int(d)


def required_quantity(share: Any, total: int) -> int:
    """The least whole quantity that is at least ``share`` of ``total``: ceil(share * total), exactly."""
    s = parse_share(share)
    total = int(total)
    return -((-s.numerator * total) // s.denominator)


@dataclass(frozen=True, slots=True)
class Requirement:
    county: str
    year: int
    share: Fraction
    task: int  # in measure units
    required: int  # in measure units


def target_requirements(instance: Instance) -> dict[str, list[Requirement]]:
    """Per county, the cumulative quantity each target year requires (measure units, floor area in
    0.01 m²), in year order. Several targets on one year keep the largest."""
    comp = _compile(instance)
    out: dict[str, list[Requirement]] = {}
    for ci, county in enumerate(comp.counties):
        reqs = []
        for ti, year in enumerate(comp.years):
            if comp.req_share[ci][ti] is not None:
                reqs.append(Requirement(county, year, comp.req_share[ci][ti], int(comp.Q[ci]), int(comp.R[ci, ti])))
        out[county] = reqs
    return out


# --------------------------------------------------------------------------------------------------
# Compiled arrays (shared by pre-check, greedy and the model builder; NOT by the verifier)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Compiled:
    instance: Instance
    years: list[int]
    T: int
    counties: list[str]
    ptr: np.ndarray  # candidates of county k are rows ptr[k]:ptr[k+1]
    cands: list[Candidate]
    county: np.ndarray  # county index per candidate
    e_idx: np.ndarray  # earliest year index (0-based within the period)
    cost_u: np.ndarray  # int64 yuan
    cost: np.ndarray  # float 万元
    m: np.ndarray  # int64 measure
    benefit: np.ndarray  # float
    eligible: np.ndarray  # bool
    Q: np.ndarray  # task per county (measure units)
    R: np.ndarray  # [C, T] required cumulative measure by end of year t (0 = no target that year)
    req_share: list[list[Fraction | None]]
    has_budget: bool
    B_u: np.ndarray  # [C, T] int64 yuan (huge when no budget)
    need: np.ndarray  # model estates needed per county
    deadline_year: int | None
    d_idx: int  # deadline index, clamped to the period's last year; -1 = before the period

    def coef(self) -> np.ndarray:
        """Objective coefficient per (candidate, year index): benefit * (1 + earliness * (T-1-t))."""
        w = 1.0 + self.instance.earliness * (self.T - 1 - np.arange(self.T))
        return self.benefit[:, None] * w[None, :]


_NO_BUDGET = np.iinfo(np.int64).max // 4


def _compile(instance: Instance) -> _Compiled:
    start, end = instance.start_year, instance.end_year
    years = instance.years
    T = len(years)
    unit = instance.unit
    in_period = [c for c in instance.candidates if c.earliest_year is None or c.earliest_year <= end]
    task_counties = {c.county for c in in_period}
    if instance.task:
        task_counties |= {str(k) for k, v in instance.task.items() if _task_measure(v, unit) > 0}
    counties = sorted(task_counties)
    kidx = {c: k for k, c in enumerate(counties)}
    order = sorted(range(len(in_period)), key=lambda j: kidx[in_period[j].county])
    cands = [in_period[j] for j in order]
    n = len(cands)
    county = np.fromiter((kidx[c.county] for c in cands), dtype=np.int64, count=n)
    ptr = np.searchsorted(county, np.arange(len(counties) + 1)).astype(np.int64)
    e_idx = np.fromiter(
        (0 if c.earliest_year is None else max(c.earliest_year - start, 0) for c in cands), dtype=np.int64, count=n
    )
    cost_u = np.fromiter((int(c.cost_wan * COST_SCALE) for c in cands), dtype=np.int64, count=n)
    cost = cost_u / COST_SCALE
    m = np.fromiter((candidate_measure(c, unit) for c in cands), dtype=np.int64, count=n)
    benefit = np.fromiter((instance.benefit_of(c) for c in cands), dtype=np.float64, count=n)
    eligible = np.fromiter((c.model_eligible for c in cands), dtype=bool, count=n)

    C = len(counties)
    Q = np.add.reduceat(m, ptr[:-1]) if n else np.zeros(C, dtype=np.int64)
    Q = np.where(ptr[1:] > ptr[:-1], Q, 0).astype(np.int64) if C else np.zeros(0, dtype=np.int64)
    if instance.task:
        for k, v in instance.task.items():
            if str(k) in kidx:
                Q[kidx[str(k)]] = _task_measure(v, unit)
    share_at: list[Fraction | None] = [None] * T  # several targets on one year: the largest share
    for tg in instance.targets:
        ti = tg.calendar_year(start, end) - start
        share_at[ti] = tg.share if share_at[ti] is None else max(share_at[ti], tg.share)
    R = np.zeros((C, T), dtype=np.int64)
    for ti, share in enumerate(share_at):
        if share is not None:
            for k in range(C):
                R[k, ti] = required_quantity(share, int(Q[k]))
    req_share: list[list[Fraction | None]] = [list(share_at) for _ in range(C)]

    has_budget = instance.budgets is not None
    B_u = np.full((C, T), _NO_BUDGET, dtype=np.int64)
    if has_budget:
        B_u[:] = 0
        for (cc, y), v in instance.budgets.items():
            if cc in kidx and start <= y <= end:
                B_u[kidx[cc], y - start] = int(v * COST_SCALE)
        if instance.carry_over:
            B_u = np.cumsum(B_u, axis=1)  # cumulative rows

    rule = instance.model_rule
    need = np.zeros(C, dtype=np.int64)
    deadline_year = None
    d_idx = -1
    if rule is not None and rule.count > 0:
        deadline_year = rule.deadline_year(start, end)
        d_idx = -1 if deadline_year < start else min(deadline_year, end) - start
        existing = instance.existing_model_estates or {}
        for k, cc in enumerate(counties):
            need[k] = max(rule.count - int(existing.get(cc, 0)), 0)
    return _Compiled(
        instance, years, T, counties, ptr, cands, county, e_idx, cost_u, cost, m, benefit, eligible,
        Q, R, req_share, has_budget, B_u, need, deadline_year, d_idx,
    )


# --------------------------------------------------------------------------------------------------
# Reasons and messages
# --------------------------------------------------------------------------------------------------


def _pct(share: Fraction) -> str:
    """A share as a percentage, truncated to 0.1 (never shows a miss as reaching the target)."""
    tenths = math.floor(share * 1000)
    return f"{tenths // 10}" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def _share_str(share: Fraction) -> str:
    return format(Decimal(share.numerator) / Decimal(share.denominator), "f")[:12]


def _natural(qty: int, unit: str) -> str:
    if unit == "floor_area":
        return str(Decimal(qty) / AREA_SCALE)
    return str(qty)


def _reason(code: str, county: str, instance: Instance, **numbers) -> dict:
    r = {"code": code, "county": county, "county_name": instance.name(county)}
    r.update(numbers)
    r["message"] = reason_message(r)
    r["message_zh"] = reason_message(r, lang="zh")
    return r


def _target_reason(code, comp, k, ti, reach, stage, budget_u=None):
    inst = comp.instance
    Q, need = int(comp.Q[k]), int(comp.R[k, ti])
    share = comp.req_share[k][ti]
    reach_share = Fraction(reach, Q) if Q else Fraction(0)
    extra = {}
    if budget_u is not None:
        extra["budget_wan"] = str(Decimal(int(budget_u)) / COST_SCALE)
    return _reason(
        code, comp.counties[k], inst, year=comp.years[ti], from_year=comp.years[0], unit=inst.unit, stage=stage,
        task=_natural(Q, inst.unit), required=_natural(need, inst.unit), reachable=_natural(reach, inst.unit),
        reachable_share=_share_str(reach_share), target_share=_share_str(share),
        reachable_pct=_pct(reach_share), target_pct=_pct(share), **extra,
    )


def reason_message(reason: Mapping[str, Any], names: Mapping[str, str] | None = None, lang: str = "en") -> str:
    """One plain sentence for a reason (``lang`` "en" or "zh"); ``names`` maps county codes to names."""
    code = reason["code"]
    county = reason.get("county", "")
    name = (names or {}).get(county) or reason.get("county_name") or county
    zh = lang == "zh"
    unit = UNIT_WORDS["zh" if zh else "en"].get(reason.get("unit", "estates"), reason.get("unit", ""))
    y, y0 = reason.get("year"), reason.get("from_year")
    span = f"{y0}-{y}" if y0 is not None and y is not None and y0 != y else f"{y}"
    rp, tp = reason.get("reachable_pct"), reason.get("target_pct")
    if code == "budget_short_of_target":
        yearly = reason.get("stage") == "solve"
        if zh:
            how = "（按年度分别使用）" if yearly else ""
            return f"{name} {span}年预算{how}最多可完成{unit}的{rp}%，目标{tp}%"
        how = " spent year by year" if yearly else ""
        return f"{name} {span} budget{how} reaches {rp}% of {unit}, target {tp}%"
    if code == "candidates_short_of_target":
        if zh:
            return f"{name} 到{y}年可开工的候选只占{unit}的{rp}%，目标{tp}%"
        return f"{name}: candidates that may start by {y} make only {rp}% of {unit}, target {tp}%"
    if code == "model_estate_deadline_before_period":
        if zh:
            return f"{name} 需在{reason['deadline']}年底前有{reason['required']}个样板小区，早于计划期{reason['period']}"
        return (f"{name} needs {reason['required']} model estate(s) by {reason['deadline']}, "
                f"before the plan period {reason['period']}")
    if code == "model_estate_unavailable":
        if zh:
            return f"{name} 到{reason['deadline']}年可作样板的候选只有{reason['available']}个，需要{reason['required']}个"
        return (f"{name} has {reason['available']} candidate(s) that may serve as a model estate by "
                f"{reason['deadline']}, needs {reason['required']}")
    if code == "model_estate_budget_short":
        dspan = f"{reason.get('from_year')}-{reason['deadline']}" if reason.get("from_year") != reason["deadline"] else reason["deadline"]
        if zh:
            return (f"{name} {dspan}年预算{reason['budget_wan']}万元不足以在{reason['deadline']}年前完成"
                    f"{reason['required']}个样板小区（最少需{reason['cost_wan']}万元）")
        return (f"{name} {dspan} budget ({reason['budget_wan']} 万元) cannot pay for {reason['required']} model "
                f"estate(s) by {reason['deadline']} (the cheapest cost {reason['cost_wan']} 万元)")
    if code == "constraints_conflict":
        rules = reason.get("rules", [])
        parts = []
        for r in rules:
            if r["kind"] == "target":
                parts.append(f"{r['year']}年目标（{unit}{r['target_pct']}%）" if zh
                             else f"the {r['year']} target ({r['target_pct']}% of {unit})")
            else:
                parts.append(f"{r['deadline']}年前{r['required']}个样板小区" if zh
                             else f"{r['required']} model estate(s) by {r['deadline']}")
        if zh:
            return f"{name} 预算无法同时满足{'、'.join(parts)}"
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"{name}: the budget cannot meet {joined} together"
    if code == "schedule_check_failed":
        if zh:
            return f"{name} 计划未通过精确校验：{reason.get('violation')} {reason.get('detail', '')}".rstrip()
        return f"{name}: the schedule fails the exact check: {reason.get('violation')} {reason.get('detail', '')}".rstrip()
    if code == "no_solution_in_time":
        return f"{name} 在时限内未找到计划（未证明不可行）" if zh else f"{name}: no schedule found within the time limit"
    return f"{name}: {code}"


def county_names_from_data() -> dict[str, str]:
    """County codes to names from the region data shipped with Gaizao (current and retired codes)."""
    data = Path(__file__).resolve().parent.parent / "data"
    names: dict[str, str] = {}
    for fname in ("regions_zhejiang.csv", "regions_retired_zhejiang.csv"):
        path = data / fname
        if not path.exists():
            continue
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("level") == "county":
                    names.setdefault(row["code"], row["name"])
    return names


# --------------------------------------------------------------------------------------------------
# Pre-check
# --------------------------------------------------------------------------------------------------


def _fractional_reach(cost_u: np.ndarray, m: np.ndarray, budget_u: int) -> int:
    """Upper bound on the quantity reachable with a budget: cheapest per unit first, the last one
    fractionally (floored, quantities are whole)."""
    pos = m > 0
    cost_u, m = cost_u[pos], m[pos]
    if cost_u.size == 0:
        return 0
    ratio = cost_u / m
    order = np.lexsort((-m, ratio))
    c_sorted, m_sorted = cost_u[order], m[order]
    cum = np.cumsum(c_sorted)
    full = int(np.searchsorted(cum, budget_u, side="right"))
    reach = int(m_sorted[:full].sum())
    if full < c_sorted.size:
        left = budget_u - (int(cum[full - 1]) if full else 0)
        reach += (left * int(m_sorted[full])) // int(c_sorted[full])  # exact floor of the fraction
    return reach


def _precheck_compiled(comp: _Compiled) -> dict[int, list[dict]]:
    inst = comp.instance
    out: dict[int, list[dict]] = defaultdict(list)
    cum_budget = None
    if comp.has_budget:
        cum_budget = comp.B_u if inst.carry_over else np.cumsum(comp.B_u, axis=1)
    for k in range(len(comp.counties)):
        lo, hi = comp.ptr[k], comp.ptr[k + 1]
        e, m, cu = comp.e_idx[lo:hi], comp.m[lo:hi], comp.cost_u[lo:hi]
        for ti in range(comp.T):
            need = int(comp.R[k, ti])
            if need <= 0:
                continue
            avail = e <= ti
            supply = int(m[avail].sum())
            if supply < need:
                out[k].append(_target_reason("candidates_short_of_target", comp, k, ti, supply, "precheck"))
                continue
            if comp.has_budget:
                budget = int(cum_budget[k, ti])
                reach = _fractional_reach(cu[avail], m[avail], budget)
                if reach < need:
                    out[k].append(_target_reason("budget_short_of_target", comp, k, ti, reach, "precheck", budget))
        need = int(comp.need[k])
        if need > 0:
            rule_args = dict(required=need, deadline=comp.deadline_year, from_year=comp.years[0],
                             period=f"{comp.years[0]}-{comp.years[-1]}")
            if comp.d_idx < 0:
                out[k].append(_reason("model_estate_deadline_before_period", comp.counties[k], inst, **rule_args))
                continue
            ok = comp.eligible[lo:hi] & (e <= comp.d_idx)
            if int(ok.sum()) < need:
                out[k].append(_reason("model_estate_unavailable", comp.counties[k], inst,
                                      available=int(ok.sum()), **rule_args))
            elif comp.has_budget:
                cheapest = int(np.sort(cu[ok])[:need].sum())
                budget = int(cum_budget[k, comp.d_idx])
                if cheapest > budget:
                    out[k].append(_reason(
                        "model_estate_budget_short", comp.counties[k], inst,
                        budget_wan=str(Decimal(budget) / COST_SCALE), cost_wan=str(Decimal(cheapest) / COST_SCALE),
                        **rule_args,
                    ))
    return out


def precheck(instance: Instance) -> list[dict]:
    """Necessary conditions per county, before any solve; every reason returned is certain."""
    comp = _compile(instance)
    found = _precheck_compiled(comp)
    return [r for k in sorted(found) for r in found[k]]


# --------------------------------------------------------------------------------------------------
# Greedy
# --------------------------------------------------------------------------------------------------


def _greedy_compiled(comp: _Compiled) -> dict[int, int]:
    """Candidate row -> year index. Per county: sort by benefit (highest first, ties in input order),
    then for each year in order take every remaining candidate that may start and still fits."""
    chosen: dict[int, int] = {}
    for k in range(len(comp.counties)):
        lo, hi = int(comp.ptr[k]), int(comp.ptr[k + 1])
        order = lo + np.argsort(-comp.benefit[lo:hi], kind="stable")
        left = [int(i) for i in order]
        spent = 0
        for t in range(comp.T):
            if comp.instance.carry_over:
                room = int(comp.B_u[k, t]) - spent  # cumulative budget minus all spent so far
            else:
                room = int(comp.B_u[k, t])
            keep = []
            for i in left:
                c = int(comp.cost_u[i])
                if comp.e_idx[i] <= t and c <= room:
                    chosen[i] = t
                    room -= c
                    spent += c
                else:
                    keep.append(i)
            left = keep
    return chosen


def greedy_schedule(instance: Instance) -> dict[str, int]:
    """The schedule an official would make by hand: per county, candidates by priority-weighted benefit
    (highest first), filling each year's budget in year order; targets are not looked at."""
    comp = _compile(instance)
    return {comp.cands[i].id: comp.years[t] for i, t in _greedy_compiled(comp).items()}


def schedule_objective(instance: Instance, schedule: Mapping[str, int]) -> float:
    """The objective value of a schedule (benefit with the earliness reward)."""
    by_id = {c.id: c for c in instance.candidates}
    total = 0.0
    for cid, year in schedule.items():
        c = by_id[cid]
        total += instance.benefit_of(c) * (1.0 + instance.earliness * (instance.end_year - year))
    return total


def schedule_diff(instance: Instance, proposed: Mapping[str, int], other: Mapping[str, int]) -> list[dict]:
    """Candidates whose year differs between two schedules (None: not scheduled), with the benefit."""
    by_id = {c.id: c for c in instance.candidates}
    out = []
    for cid in sorted(set(proposed) | set(other)):
        a, b = proposed.get(cid), other.get(cid)
        if a != b:
            c = by_id[cid]
            out.append({"id": cid, "county": c.county, "proposed": a, "other": b,
                        "benefit": instance.benefit_of(c), "cost_wan": str(c.cost_wan)})
    return out


# --------------------------------------------------------------------------------------------------
# Model building and solving
# --------------------------------------------------------------------------------------------------


@dataclass
class _Model:
    ncol: int
    nrow: int
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rlo: np.ndarray
    rhi: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    col_i: np.ndarray  # candidate row of each x column
    col_t: np.ndarray  # year index of each x column
    nx: int  # number of x columns (slack columns follow)
    soft_rows: list[tuple]  # ("target", k, t) / ("model", k) per elastic slack column


def _build(comp: _Compiled, k_lo: int, k_hi: int, *, objective: str = "benefit", reach_t: int | None = None,
           targets: set[tuple[int, int]] | None | str = "all", model: set[int] | None | str = "all",
           elastic: bool = False, coef: np.ndarray | None = None) -> _Model:
    """The MIP of counties k_lo..k_hi-1 as a column-wise sparse matrix, built with numpy.

    ``targets``/``model``: "all", or the set of (county, year index) / county rows to keep.
    ``objective``: "benefit", "reach" (the measure scheduled by year ``reach_t``), or "none".
    ``elastic``: a slack column per target/model row (for the least-shortfall schedule)."""
    T = comp.T
    i_lo, i_hi = int(comp.ptr[k_lo]), int(comp.ptr[k_hi])
    e = comp.e_idx[i_lo:i_hi]
    k_allowed = T - e
    col_i = np.repeat(np.arange(i_lo, i_hi), k_allowed)
    first = np.repeat(np.cumsum(k_allowed) - k_allowed, k_allowed)
    col_t = comp.e_idx[col_i] + (np.arange(col_i.size) - first)
    nx = int(col_i.size)
    lc = comp.county[col_i] - k_lo  # local county per column
    nk = k_hi - k_lo
    cols, rows, vals = [], [], []
    rlo, rhi = [], []
    nrow = 0

    def put(c, r, v):
        cols.append(c)
        rows.append(r)
        vals.append(v)

    def bounds(lo, hi):
        rlo.append(lo)
        rhi.append(hi)

    # each candidate at most once (only needed when it has two or more allowed years)
    multi = k_allowed >= 2
    arow = np.full(i_hi - i_lo, -1, dtype=np.int64)
    arow[multi] = np.arange(int(multi.sum()))
    ca = arow[col_i - i_lo]
    sel = ca >= 0
    put(np.nonzero(sel)[0], ca[sel], np.ones(int(sel.sum())))
    nrow += int(multi.sum())
    bounds(np.full(int(multi.sum()), -np.inf), np.ones(int(multi.sum())))

    # budgets
    if comp.has_budget:
        base = nrow
        cost = comp.cost[col_i]
        nz = cost > 0
        if comp.instance.carry_over:
            for t2 in range(T):
                s = nz & (col_t <= t2)
                put(np.nonzero(s)[0], base + lc[s] * T + t2, cost[s])
        else:
            put(np.nonzero(nz)[0], base + lc[nz] * T + col_t[nz], cost[nz])
        nrow += nk * T
        bounds(np.full(nk * T, -np.inf), comp.B_u[k_lo:k_hi].reshape(-1) / COST_SCALE)

    soft_rows: list[tuple] = []
    soft_rhs: list[float] = []
    soft_row_ids: list[int] = []

    def soft(key, rhs, row):
        soft_rows.append(key)
        soft_rhs.append(rhs)
        soft_row_ids.append(row)
    # targets
    Rb = comp.R[k_lo:k_hi]
    tgt = np.full((nk, T), -1, dtype=np.int64)
    for lk in range(nk):
        for t in range(T):
            if Rb[lk, t] > 0 and (targets == "all" or (targets is not None and (k_lo + lk, t) in targets)):
                tgt[lk, t] = nrow
                bounds(np.array([float(Rb[lk, t])]), np.array([np.inf]))
                soft(("target", k_lo + lk, t), float(Rb[lk, t]), nrow)
                nrow += 1
    mcol = comp.m[col_i].astype(np.float64)
    for t2 in range(T):
        r = tgt[lc, t2]
        s = (r >= 0) & (col_t <= t2) & (mcol > 0)
        if s.any():
            put(np.nonzero(s)[0], r[s], mcol[s])
    # model estates
    if comp.d_idx >= 0:
        mrow = np.full(nk, -1, dtype=np.int64)
        for lk in range(nk):
            need = int(comp.need[k_lo + lk])
            if need > 0 and (model == "all" or (model is not None and (k_lo + lk) in model)):
                mrow[lk] = nrow
                bounds(np.array([float(need)]), np.array([np.inf]))
                soft(("model", k_lo + lk), float(need), nrow)
                nrow += 1
        r = mrow[lc]
        s = (r >= 0) & comp.eligible[col_i] & (col_t <= comp.d_idx)
        if s.any():
            put(np.nonzero(s)[0], r[s], np.ones(int(s.sum())))

    ncol = nx
    if objective == "benefit":
        c = (coef if coef is not None else comp.coef())[col_i, col_t]
    elif objective == "reach":
        c = np.where(col_t <= reach_t, comp.m[col_i], 0).astype(np.float64)
    else:
        c = np.zeros(nx)
    lower, upper = np.zeros(nx), np.ones(nx)
    if elastic and soft_rows:
        ns = len(soft_rows)
        sc = nx + np.arange(ns)
        put(sc, np.array(soft_row_ids, dtype=np.int64), np.ones(ns))
        rhs = np.array(soft_rhs)
        c = np.concatenate([c, -1.0 / rhs])
        lower = np.concatenate([lower, np.zeros(ns)])
        upper = np.concatenate([upper, rhs])
        ncol += ns

    col_all = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, dtype=np.int64)
    row_all = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    val_all = np.concatenate(vals).astype(np.float64) if vals else np.zeros(0)
    order = np.argsort(col_all, kind="stable")
    col_sorted = col_all[order]
    start = np.searchsorted(col_sorted, np.arange(ncol + 1)).astype(np.int32)
    return _Model(
        ncol, nrow, c.astype(np.float64), lower, upper,
        np.concatenate(rlo) if rlo else np.zeros(0), np.concatenate(rhi) if rhi else np.zeros(0),
        start, row_all[order].astype(np.int32), val_all[order], col_i, col_t, nx,
        soft_rows if elastic else [],
    )


@dataclass
class _Solved:
    status: str  # optimal | infeasible | time_limit | other
    has_solution: bool
    objective: float
    dual_bound: float
    x: np.ndarray | None
    seconds: float


def _highs(time_limit: float, mip_rel_gap: float, threads: int | None):
    h = _HighsClass()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit, 0.05)))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if threads:
        h.setOptionValue("threads", int(threads))
    return h


def _solve(model: _Model, *, integer: bool, time_limit: float, mip_rel_gap: float = 1e-4,
           threads: int | None = None, upper: np.ndarray | None = None, cost: np.ndarray | None = None,
           start: np.ndarray | None = None, objective_target: float | None = None) -> _Solved:
    t0 = time.perf_counter()
    if model.ncol == 0:
        if (model.rlo > 1e-9).any():
            return _Solved("infeasible", False, -math.inf, -math.inf, None, 0.0)
        return _Solved("optimal", True, 0.0, 0.0, np.zeros(0), 0.0)
    h = _highs(time_limit, mip_rel_gap, threads)
    integrality = np.zeros(model.ncol, dtype=np.int32)
    if integer:
        integrality[: model.nx] = 1
    h.passModel(
        int(model.ncol), int(model.nrow), int(model.value.size), 1, -1, 0.0,
        cost if cost is not None else model.cost, model.lower, upper if upper is not None else model.upper,
        model.rlo, model.rhi, model.start, model.index, model.value, integrality,
    )
    if objective_target is not None and integer:
        h.setOptionValue("objective_target", float(objective_target))
    if start is not None and integer:
        idx = np.arange(model.nx, dtype=np.int32)
        h.setSolution(int(model.nx), idx, np.asarray(start, dtype=np.float64))
    h.run()
    st = h.getModelStatus()
    info = h.getInfo()
    name = {
        "kOptimal": "optimal", "kInfeasible": "infeasible", "kTimeLimit": "time_limit",
        "kModelEmpty": "optimal", "kUnboundedOrInfeasible": "infeasible", "kObjectiveTarget": "target",
    }.get(st.name, "other")
    has_sol = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_sol else None
    obj = info.objective_function_value if has_sol else -math.inf
    if integer:
        dual = info.mip_dual_bound
        if name == "optimal" and not math.isfinite(dual):
            dual = obj
    else:
        dual = obj
    return _Solved(name, has_sol, float(obj), float(dual), x, time.perf_counter() - t0)


def _county_blocks(comp: _Compiled, ks: list[int], block_columns: int) -> list[list[int]]:
    """Consecutive runs of counties with about ``block_columns`` x columns each."""
    ncols = np.add.reduceat(comp.T - comp.e_idx, comp.ptr[:-1]) if comp.cands else np.zeros(len(comp.counties))
    empty = comp.ptr[1:] == comp.ptr[:-1]
    blocks, cur, size = [], [], 0
    prev = None
    for k in ks:
        width = 0 if empty[k] else int(ncols[k])
        if cur and (size + width > block_columns or prev is None or k != prev + 1):
            blocks.append(cur)
            cur, size = [], 0
        cur.append(k)
        size += width
        prev = k
    if cur:
        blocks.append(cur)
    return blocks


# --------------------------------------------------------------------------------------------------
# LP-guided rounding (the primal heuristic)
# --------------------------------------------------------------------------------------------------


class _CountyState:
    """A county's schedule under construction, with exact integer budget and quantity checks."""

    def __init__(self, comp: _Compiled, k: int, coef: np.ndarray):
        lo, hi = int(comp.ptr[k]), int(comp.ptr[k + 1])
        self.T = comp.T
        self.n = hi - lo
        self.cost = [int(v) for v in comp.cost_u[lo:hi]]
        self.m = [int(v) for v in comp.m[lo:hi]]
        self.e = [int(v) for v in comp.e_idx[lo:hi]]
        self.elig = [bool(v) for v in comp.eligible[lo:hi]]
        self.coef = coef  # this county's rows only
        self.carry = comp.instance.carry_over
        self.has_budget = comp.has_budget
        self.B = [int(v) for v in comp.B_u[k]]  # cumulative when carry
        self.R = [int(v) for v in comp.R[k]]
        self.need = int(comp.need[k])
        self.d = comp.d_idx
        self.year = [-1] * self.n
        self.spent = [0] * self.T

    # --- checks -----------------------------------------------------------------------------------
    def room(self, t: int) -> int:
        """The most that can still be added in year t."""
        if not self.has_budget:
            return _NO_BUDGET
        if not self.carry:
            return self.B[t] - self.spent[t]
        run, best = 0, None
        for t2 in range(self.T):
            run += self.spent[t2]
            if t2 >= t:
                slack = self.B[t2] - run
                best = slack if best is None else min(best, slack)
        return best

    def budget_ok(self) -> bool:
        if not self.has_budget:
            return True
        if not self.carry:
            return all(s <= b for s, b in zip(self.spent, self.B, strict=True))
        run = 0
        for t in range(self.T):
            run += self.spent[t]
            if run > self.B[t]:
                return False
        return True

    def cum(self) -> list[int]:
        per = [0] * self.T
        for i, t in enumerate(self.year):
            if t >= 0:
                per[t] += self.m[i]
        out, run = [], 0
        for v in per:
            run += v
            out.append(run)
        return out

    def models(self) -> int:
        return sum(1 for i, t in enumerate(self.year) if 0 <= t <= self.d and self.elig[i])

    def feasible(self) -> bool:
        cum = self.cum()
        if any(cum[t] < self.R[t] for t in range(self.T)):
            return False
        if self.d >= 0 and self.models() < self.need:
            return False
        return self.budget_ok()

    def shortfall(self) -> float:
        cum = self.cum()
        short = sum(max(self.R[t] - cum[t], 0) / max(self.R[t], 1) for t in range(self.T))
        if self.d >= 0 and self.need > 0:
            short += max(self.need - self.models(), 0) / self.need
        return short

    def value(self) -> float:
        return float(sum(self.coef[i, t] for i, t in enumerate(self.year) if t >= 0))

    def score(self) -> tuple[float, float]:
        """Smaller is better: (total shortfall as shares of the targets, minus the objective)."""
        return (round(self.shortfall(), 12), -self.value())

    # --- moves --------------------------------------------------------------------------------------
    def put(self, i: int, t: int) -> None:
        old = self.year[i]
        if old >= 0:
            self.spent[old] -= self.cost[i]
        self.year[i] = t
        if t >= 0:
            self.spent[t] += self.cost[i]

    def try_put(self, i: int, t: int) -> bool:
        old = self.year[i]
        self.put(i, t)
        if self.budget_ok():
            return True
        self.put(i, old)
        return False


def _fill(st: _CountyState) -> None:
    """Spend leftover money: unscheduled candidates by benefit per 万元, earlier years first."""
    free = [i for i in range(st.n) if st.year[i] < 0]
    if not free:
        return
    pairs = [(float(st.coef[i, t]) / max(st.cost[i], 1), -t, i, t) for i in free for t in range(st.e[i], st.T)]
    pairs.sort(reverse=True)
    for _, _, i, t in pairs:
        if st.year[i] < 0 and float(st.coef[i, t]) > 0:
            st.try_put(i, t)


def _insert_with_ejection(st: _CountyState, i: int, t: int) -> bool:
    """Put candidate i in year t, making room by moving other candidates of year t to another year
    (or, failing that, leaving them out), cheapest loss per 万元 freed first. Kept only when the
    schedule gets better (less shortfall, or as little and more benefit)."""
    if t < st.e[i] or st.year[i] == t:
        return False
    before = st.score()
    snapshot = list(st.year)
    st.put(i, -1)
    if st.room(t) < st.cost[i]:
        options = []
        keep_models = st.d >= 0 and st.models() <= st.need
        for j in range(st.n):
            if j == i or st.year[j] != t or st.cost[j] <= 0:
                continue
            if keep_models and st.elig[j] and t <= st.d:
                continue
            loss = float(st.coef[j, t])
            for t2 in range(st.e[j], st.T):
                if t2 != t and float(st.coef[j, t] - st.coef[j, t2]) < loss and st.room(t2) >= st.cost[j]:
                    loss = float(st.coef[j, t] - st.coef[j, t2])
            options.append((loss / st.cost[j], j))
        options.sort()
        for _, j in options:
            if st.room(t) >= st.cost[i]:
                break
            moved = False
            for t2 in sorted(range(st.e[j], st.T), key=lambda t2, j=j: float(st.coef[j, t] - st.coef[j, t2])):
                if t2 != t and st.try_put(j, t2):
                    moved = True
                    break
            if not moved:
                st.put(j, -1)
    if st.try_put(i, t) and st.score() < before:
        return True
    for j, tj in enumerate(snapshot):
        if st.year[j] != tj:
            st.put(j, tj)
    return False


@functools.lru_cache(maxsize=64)
def _grid(sizes: tuple[int, ...]) -> np.ndarray:
    """Every combination of option indices, one row each (read-only, cached)."""
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij"), axis=-1).reshape(-1, len(sizes))
    idx.setflags(write=False)
    return idx


def _enumerate_core(st: _CountyState, core: list[int]) -> bool:
    """Try every assignment of the core candidates (unscheduled or one of their years) with the rest
    as they are; keep the best feasible one. Returns whether one was found."""
    T = st.T
    for i in core:
        st.put(i, -1)
    opts = [[-1, *range(st.e[i], T)] for i in core]
    idx = _grid(tuple(len(o) for o in opts))
    N = idx.shape[0]
    spend = np.tile(np.array(st.spent, dtype=np.int64), (N, 1))
    cum = np.tile(np.array(st.cum(), dtype=np.int64), (N, 1))
    models = np.full(N, st.models(), dtype=np.int64)
    obj = np.zeros(N)
    for j, i in enumerate(core):
        k = len(opts[j])
        spend_tab = np.zeros((k, T), dtype=np.int64)
        cum_tab = np.zeros((k, T), dtype=np.int64)
        obj_tab = np.zeros(k)
        model_tab = np.zeros(k, dtype=np.int64)
        for o, t in enumerate(opts[j]):
            if t >= 0:
                spend_tab[o, t] = st.cost[i]
                cum_tab[o, t:] = st.m[i]
                obj_tab[o] = st.coef[i, t]
                model_tab[o] = 1 if st.elig[i] and t <= st.d else 0
        col = idx[:, j]
        spend += spend_tab[col]
        cum += cum_tab[col]
        obj += obj_tab[col]
        models += model_tab[col]
    ok = (cum >= np.array(st.R, dtype=np.int64)).all(axis=1)
    if st.has_budget:
        used = np.cumsum(spend, axis=1) if st.carry else spend
        ok &= (used <= np.array(st.B, dtype=np.int64)).all(axis=1)
    if st.d >= 0:
        ok &= models >= st.need
    if not ok.any():
        return False
    best = int(np.argmax(np.where(ok, obj, -np.inf)))
    for j, i in enumerate(core):
        st.put(i, opts[j][int(idx[best, j])])
    return True


def _round_county(comp: _Compiled, k: int, X: np.ndarray, coef: np.ndarray, core_size: int = 7,
                  best_effort: bool = False) -> list[int] | None:
    """A feasible schedule for county k built from its LP solution X (candidates x years), or None.

    Round: candidates the LP schedules wholly in one year keep it. Core: the candidates the LP splits
    or takes in part (an LP vertex has few), topped up with the most attractive unscheduled and the
    least attractive scheduled ones, are enumerated exhaustively against the exact constraints.
    Repair (when the core has no feasible assignment): the model-estate rule, then each target year in
    order, by adding, moving earlier, or swapping for a candidate with more quantity. Fill: leftover
    budgets by benefit per 万元. Improve: move to earlier years where the money allows. With
    ``best_effort`` a schedule that still misses a rule is returned rather than None."""
    st = _CountyState(comp, k, coef)
    n, T = st.n, st.T
    if n == 0:
        return [] if st.feasible() else None
    mass = X.sum(axis=1)
    whole = X.max(axis=1) >= 0.999
    for i in np.nonzero(whole)[0]:
        t = int(np.argmax(X[i]))
        if t >= st.e[i]:
            st.try_put(int(i), t)
    order = np.lexsort((-coef[:, 0], -mass))
    rank = {int(i): r for r, i in enumerate(order)}  # LP preference (mass, then benefit)
    for i in order:  # the candidates the LP splits over years or takes in part
        if mass[i] <= 1e-3:
            break
        if whole[i] and st.year[i] >= 0:
            continue
        for t in np.argsort(-X[i], kind="stable"):
            if X[i, t] > 1e-3 and _insert_with_ejection(st, int(i), int(t)):
                break

    partial = [int(i) for i in order if 1e-3 < mass[i] and not whole[i]][:core_size]
    ratio = coef.max(axis=1) / np.maximum(np.array(st.cost, dtype=np.float64), 1.0)
    unsched = [int(i) for i in np.argsort(-ratio, kind="stable") if st.year[i] < 0 and int(i) not in partial]
    sched = [int(i) for i in np.argsort(ratio, kind="stable") if st.year[i] >= 0]
    core = list(partial)
    lp_integral = not partial and all(st.year[i] >= 0 for i in np.nonzero(whole)[0])
    while not lp_integral and len(core) < core_size and (unsched or sched):
        if unsched:
            core.append(unsched.pop(0))
        if sched and len(core) < core_size:
            core.append(sched.pop(0))
    if core and not lp_integral:
        snapshot = list(st.year)
        if not _enumerate_core(st, core):
            for i, t in enumerate(snapshot):
                st.put(i, t)

    # model estates
    if st.d >= 0 and st.need > 0:
        while st.models() < st.need:
            best = None
            for i in range(n):
                if not st.elig[i] or st.e[i] > st.d or 0 <= st.year[i] <= st.d:
                    continue
                for t in range(st.e[i], st.d + 1):
                    old = st.year[i]
                    if st.try_put(i, t):
                        st.put(i, old)
                        key = (rank[i], st.cost[i])
                        if best is None or key < best[0]:
                            best = (key, i, t)
                        break
            if best is None:
                if not best_effort:
                    return None
                break
            st.put(best[1], best[2])

    # targets, year by year (every repair only raises the cumulative quantities)
    for y in range(T):
        while st.R[y] > 0 and st.cum()[y] < st.R[y]:
            best = None  # (key, action)
            for i in range(n):
                if st.e[i] > y or st.m[i] <= 0:
                    continue
                cur = st.year[i]
                if 0 <= cur <= y:
                    continue
                for t in range(st.e[i], y + 1):  # add, or move an already scheduled later one earlier
                    if st.try_put(i, t):
                        st.put(i, cur)
                        key = (0, -st.m[i] if cur < 0 else 0, rank[i])
                        if best is None or key < best[0]:
                            best = (key, [(i, t)])
                        break
            if best is None:  # swap: take out a scheduled one with less quantity, put in one with more
                model_tight = st.d >= 0 and st.models() <= st.need
                for j in range(n):
                    tj = st.year[j]
                    if not 0 <= tj <= y or (model_tight and st.elig[j] and tj <= st.d):
                        continue
                    for i in range(n):
                        if st.year[i] >= 0 and st.year[i] <= y or st.e[i] > tj or st.m[i] <= st.m[j]:
                            continue
                        cur = st.year[i]
                        st.put(j, -1)
                        ok = st.try_put(i, tj)
                        if ok:
                            st.put(i, cur)
                        st.put(j, tj)
                        if ok:
                            loss = float(coef[j, tj] - coef[i, tj]) / (st.m[i] - st.m[j])
                            key = (1, loss, 0)
                            if best is None or key < best[0]:
                                best = (key, [(j, -1), (i, tj)])
            if best is None:
                if not best_effort:
                    return None
                break
            for i, t in best[1]:
                st.put(i, t)

    _fill(st)
    # second chance for what the LP wanted and the attractive ones left out, now that all is placed
    ratio = coef.max(axis=1) / np.maximum(np.array(st.cost, dtype=np.float64), 1.0)
    retry = [int(i) for i in order if mass[i] > 1e-3 and st.year[i] < 0]
    retry += [int(i) for i in np.argsort(-ratio, kind="stable")[:3] if st.year[i] < 0 and int(i) not in retry]
    changed = False
    for i in retry:
        for t in range(st.e[i], T):
            if _insert_with_ejection(st, i, t):
                changed = True
                break
    if changed:
        _fill(st)
    # earlier years where the money allows (never lowers a cumulative quantity)
    if comp.instance.earliness > 0:
        for i in sorted(range(n), key=lambda i: -float(coef[i, 0])):
            cur = st.year[i]
            for t in range(st.e[i], cur if cur > 0 else 0):
                if st.try_put(i, t):
                    break
    return st.year if best_effort or st.feasible() else None


# --------------------------------------------------------------------------------------------------
# Infeasibility analysis
# --------------------------------------------------------------------------------------------------


def _feasible(comp, k, targets, model, time_limit) -> bool | None:
    mdl = _build(comp, k, k + 1, objective="none", targets=targets, model=model)
    s = _solve(mdl, integer=True, time_limit=time_limit, mip_rel_gap=1.0)
    if s.has_solution:
        return True
    return False if s.status == "infeasible" else None


def _analyse_county(comp: _Compiled, k: int, time_limit: float) -> list[dict]:
    """Why county k has no schedule although it passed the pre-check."""
    inst = comp.instance
    t_rows = [(k, t) for t in range(comp.T) if comp.R[k, t] > 0]
    has_model = comp.d_idx >= 0 and comp.need[k] > 0
    reasons = []
    per = max(time_limit / (len(t_rows) + 2), 0.2)
    for _, t in t_rows:  # each target alone, with the real yearly budgets: its exact reach
        mdl = _build(comp, k, k + 1, objective="reach", reach_t=t, targets=set(), model=set())
        s = _solve(mdl, integer=True, time_limit=per, mip_rel_gap=0.0)
        reach = int(math.floor(s.dual_bound + 1e-6)) if s.status != "optimal" else int(round(s.objective))
        if reach < comp.R[k, t]:
            cum = comp.B_u[k, t] if inst.carry_over else comp.B_u[k, : t + 1].sum()
            reasons.append(_target_reason("budget_short_of_target", comp, k, t, reach, "solve", cum))
    if has_model and _feasible(comp, k, set(), {k}, per) is False:
        lo, hi = comp.ptr[k], comp.ptr[k + 1]
        ok = comp.eligible[lo:hi] & (comp.e_idx[lo:hi] <= comp.d_idx)
        cheapest = int(np.sort(comp.cost_u[lo:hi][ok])[: int(comp.need[k])].sum())
        budget = comp.B_u[k, comp.d_idx] if inst.carry_over else comp.B_u[k, : comp.d_idx + 1].sum()
        reasons.append(_reason(
            "model_estate_budget_short", comp.counties[k], inst, stage="solve", required=int(comp.need[k]),
            deadline=comp.deadline_year, from_year=comp.years[0], budget_wan=str(Decimal(int(budget)) / COST_SCALE),
            cost_wan=str(Decimal(cheapest) / COST_SCALE), period=f"{comp.years[0]}-{comp.years[-1]}",
        ))
    if reasons:
        return reasons
    # Deletion filter: drop each rule in turn; keep it only if the rest become feasible without it.
    keep = [("target", kk, t) for kk, t in t_rows] + ([("model", k)] if has_model else [])
    for rule in list(keep):
        trial = [r for r in keep if r != rule]
        feas = _feasible(comp, k, {(r[1], r[2]) for r in trial if r[0] == "target"},
                         {k} if ("model", k) in trial else set(), per)
        if feas is False:
            keep = trial
    rules = []
    for r in keep:
        if r[0] == "target":
            sh = comp.req_share[k][r[2]]
            rules.append({"kind": "target", "year": comp.years[r[2]], "target_share": _share_str(sh),
                          "target_pct": _pct(sh), "required": _natural(int(comp.R[k, r[2]]), inst.unit)})
        else:
            rules.append({"kind": "model", "deadline": comp.deadline_year, "required": int(comp.need[k])})
    years = [r["year"] for r in rules if r["kind"] == "target"]
    return [_reason("constraints_conflict", comp.counties[k], inst, stage="solve", unit=inst.unit,
                    year=min(years) if years else comp.deadline_year, rules=rules)]


def _elastic_county(comp: _Compiled, k: int, time_limit: float, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best effort for an infeasible county: least total shortfall (as shares), then most benefit.
    Returns (candidate rows, year indices) scheduled."""
    mdl = _build(comp, k, k + 1, objective="none", elastic=True, coef=coef)
    s1 = _solve(mdl, integer=True, time_limit=time_limit / 2, mip_rel_gap=1e-6)
    if not s1.has_solution:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    slack = s1.x[mdl.nx:]
    rhs = mdl.upper[mdl.nx:]
    upper = mdl.upper.copy()
    upper[mdl.nx:] = np.minimum(np.ceil(slack - 1e-6), rhs)  # shortfalls are whole quantities
    cost = np.concatenate([coef[mdl.col_i, mdl.col_t], np.zeros(mdl.ncol - mdl.nx)])
    s2 = _solve(mdl, integer=True, time_limit=time_limit / 2, mip_rel_gap=1e-3, upper=upper, cost=cost)
    x = (s2.x if s2.has_solution else s1.x)[: mdl.nx]
    on = x > 0.5
    return mdl.col_i[on], mdl.col_t[on]


def _best_effort_county(comp: _Compiled, k: int, X: np.ndarray, coef: np.ndarray,
                        seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The schedule closest to the rules for an infeasible county: the rounding in best-effort mode,
    and when there is time for it the least-shortfall MIP; the better of the two (shortfall first)."""
    lo, hi = int(comp.ptr[k]), int(comp.ptr[k + 1])
    y = np.array(_round_county(comp, k, X[lo:hi], coef[lo:hi], best_effort=True) or [], dtype=np.int64)
    on = np.nonzero(y >= 0)[0]
    best = (lo + on, y[on])
    if seconds >= 0.2:
        ci, ct = _elastic_county(comp, k, min(seconds, 10.0), coef)

        def score(rows, ts):
            st = _CountyState(comp, k, coef[lo:hi])
            for i, t in zip(rows, ts, strict=True):
                st.put(int(i) - lo, int(t))
            return st.score() if st.budget_ok() else (math.inf, 0.0)

        if score(ci, ct) < score(*best):
            best = (ci, ct)
    return best


# --------------------------------------------------------------------------------------------------
# Optimise
# --------------------------------------------------------------------------------------------------


@dataclass
class PlanResult:
    """What `optimise` returns; `to_json()` gives the CLI's ``--json`` output."""

    instance: Instance
    status: str  # optimal | gap_reached | time_limit | infeasible
    feasible: bool
    objective: float
    bound: float | None
    lp_bound: float | None
    gap: float | None
    lp_gap: float | None
    greedy_objective: float
    greedy_feasible: bool
    schedule: dict[str, int]
    model_estates: set[str]
    greedy: dict[str, int]
    reasons: list[dict]
    counties: list[dict]
    violations: list[Violation]
    greedy_violations: list[Violation]
    timings: dict[str, float]
    blocks: int

    @property
    def improvement_over_greedy(self) -> float | None:
        if self.greedy_objective <= 0:
            return None
        return self.objective / self.greedy_objective - 1.0

    def to_json(self, include_greedy_schedule: bool = False) -> dict:
        inst = self.instance
        by_id = {c.id: c for c in inst.candidates}
        sched = [
            {"id": cid, "county": by_id[cid].county, "year": y, "model": cid in self.model_estates,
             "cost_wan": str(by_id[cid].cost_wan), "benefit": round(inst.benefit_of(by_id[cid]), 6)}
            for cid, y in sorted(self.schedule.items(), key=lambda kv: (by_id[kv[0]].county, kv[1], kv[0]))
        ]
        out = {
            "period": f"{inst.start_year}-{inst.end_year}",
            "unit": inst.unit,
            "benefit": inst.benefit_name,
            "earliness": inst.earliness,
            "status": self.status,
            "feasible": self.feasible,
            "objective": self.objective,
            "bound": self.bound,
            "lp_bound": self.lp_bound,
            "gap": self.gap,
            "lp_gap": self.lp_gap,
            "greedy_objective": self.greedy_objective,
            "greedy_feasible": self.greedy_feasible,
            "greedy_violations": [v.as_dict() for v in self.greedy_violations],
            "improvement_over_greedy": self.improvement_over_greedy,
            "reasons": self.reasons,
            "violations": [v.as_dict() for v in self.violations],
            "counties": self.counties,
            "out_of_period": inst.out_of_period,
            "timings": self.timings,
            "schedule": sched,
        }
        if include_greedy_schedule:
            out["greedy_schedule"] = [{"id": cid, "year": y} for cid, y in sorted(self.greedy.items())]
        return out


def optimise(instance: Instance, *, time_limit: float = 60.0, mip_rel_gap: float = 0.005,
             block_columns: int = 20_000, threads: int | None = None, verify: bool = True,
             polish_seconds: float | None = None) -> PlanResult:
    """Propose the schedule with the greatest benefit that meets the targets, budgets and model rule.

    ``time_limit`` (seconds) covers the whole run; ``mip_rel_gap`` is the relative gap of the whole
    instance to reach before stopping (0: prove every county optimal); ``polish_seconds`` is the spare
    time then used to improve county by county (default a quarter of ``time_limit``; 0 stops at the
    gap); ``block_columns`` sizes the LP blocks. See the module docstring for the method."""
    t_start = time.perf_counter()
    deadline = t_start + time_limit
    timings: dict[str, float] = {}
    comp = _compile(instance)
    coef = comp.coef()
    timings["compile"] = time.perf_counter() - t_start

    t0 = time.perf_counter()
    pre = _precheck_compiled(comp)
    timings["precheck"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    greedy_rows = _greedy_compiled(comp)
    greedy = {comp.cands[i].id: comp.years[t] for i, t in greedy_rows.items()}
    greedy_obj = float(sum(coef[i, t] for i, t in greedy_rows.items()))
    timings["greedy"] = time.perf_counter() - t0

    C = len(comp.counties)
    county_status = ["optimal"] * C
    lp_k = np.full(C, np.nan)  # each county's LP relaxation value (a true bound)
    bound_k = np.full(C, np.nan)  # the best proven bound per county (<= lp_k)
    inc_k = np.full(C, -np.inf)  # the incumbent's objective per county
    years_k: dict[int, np.ndarray] = {}  # county -> year index per candidate (-1: not scheduled)
    infeasible = set(pre)
    timed_out: set[int] = set()
    stopped_by_time = False
    X = np.zeros((len(comp.cands), comp.T))  # the LP solution, candidates x years

    # 1. LP relaxation by blocks of counties (exact: the LP separates by county)
    t0 = time.perf_counter()
    todo = [k for k in range(C) if k not in infeasible]
    queue = [(b, False) for b in _county_blocks(comp, todo, block_columns)]
    n_blocks = 0
    no_lp: set[int] = set()
    while queue:
        block, single = queue.pop(0)
        mdl = _build(comp, block[0], block[-1] + 1, coef=coef)
        n_blocks += 1
        lp = _solve(mdl, integer=False, time_limit=max(deadline - time.perf_counter(), 1.0), threads=threads)
        if lp.status == "infeasible":
            if single:
                infeasible.add(block[0])
            else:  # find the infeasible counties one by one
                queue[0:0] = [([k], True) for k in block]
            continue
        if lp.status != "optimal" or lp.x is None:
            no_lp.update(block)
            continue
        x = lp.x[: mdl.nx]
        X[mdl.col_i, mdl.col_t] = x
        vals = np.zeros(C)
        np.add.at(vals, comp.county[mdl.col_i], x * mdl.cost[: mdl.nx])
        for k in block:
            lp_k[k] = vals[k]
    timings["lp"] = time.perf_counter() - t0

    # 2. LP-guided rounding, county by county
    t0 = time.perf_counter()
    need_mip = []
    for k in range(C):
        if k in infeasible:
            continue
        lo, hi = int(comp.ptr[k]), int(comp.ptr[k + 1])
        if k in no_lp:
            need_mip.append(k)
            continue
        if time.perf_counter() > deadline:
            timed_out.add(k)
            continue
        y = _round_county(comp, k, X[lo:hi], coef[lo:hi])
        if y is None:
            need_mip.append(k)
            continue
        yk = np.array(y, dtype=np.int64)
        years_k[k] = yk
        on = yk >= 0
        inc_k[k] = float(coef[lo:hi][on, yk[on]].sum())
        bound_k[k] = lp_k[k]
    timings["rounding"] = time.perf_counter() - t0

    # 3. HiGHS for the counties the rounding could not do, then for the largest gaps while it pays
    t0 = time.perf_counter()
    polished: dict[int, float] = {}  # county -> the gap HiGHS was last asked for
    per_call = max(1.0, time_limit / 50)

    def county_mip(k: int, gap: float, until: float, limit: float = per_call) -> None:
        nonlocal stopped_by_time
        lo = int(comp.ptr[k])
        mdl = _build(comp, k, k + 1, coef=coef)
        start = None
        if k in years_k:
            yk = years_k[k]
            start = (yk[mdl.col_i - lo] == mdl.col_t).astype(np.float64)
        s = _solve(mdl, integer=True, time_limit=max(min(limit, until - time.perf_counter()), 0.05),
                   mip_rel_gap=gap, threads=threads, start=start,
                   objective_target=None if np.isnan(lp_k[k]) or gap <= 0 else lp_k[k] * (1 - gap))
        polished[k] = min(gap, polished.get(k, math.inf))
        if s.status == "infeasible":
            infeasible.add(k)
            return
        if s.status == "time_limit":
            stopped_by_time = True
        if s.has_solution and s.objective > inc_k[k]:
            on = s.x[: mdl.nx] > 0.5
            yk = np.full(int(comp.ptr[k + 1]) - lo, -1, dtype=np.int64)
            yk[mdl.col_i[on] - lo] = mdl.col_t[on]
            years_k[k] = yk
            inc_k[k] = float(coef[mdl.col_i[on], mdl.col_t[on]].sum())
        if k in years_k:
            bound = s.dual_bound if math.isfinite(s.dual_bound) else math.inf
            bound_k[k] = min(bound, lp_k[k]) if not np.isnan(lp_k[k]) else bound
            bound_k[k] = max(bound_k[k], inc_k[k])
        elif not s.has_solution:
            timed_out.add(k)

    for n, k in enumerate(need_mip):  # these must get a schedule: a fair share of the time left each
        share = (deadline - time.perf_counter()) / (len(need_mip) - n) / 2
        county_mip(k, min(2 * mip_rel_gap, 0.02), deadline, max(per_call, share))

    def open_gap(k: int) -> float:
        return float(bound_k[k] - inc_k[k]) if k in years_k else 0.0

    def total_gap() -> float:
        ks = [k for k in years_k if k not in infeasible]
        b = float(sum(bound_k[k] for k in ks))
        return (b - float(sum(inc_k[k] for k in ks))) / abs(b) if b else 0.0

    def widest(gap: float) -> int | None:
        """The county with the widest open gap that HiGHS has not yet been asked to close to `gap`."""
        floor = max(gap, 1e-9)
        open_ = [(open_gap(k), k) for k in years_k if polished.get(k, math.inf) > gap and k not in infeasible]
        open_ = [(g, k) for g, k in open_ if g > floor * max(1.0, abs(bound_k[k]))]
        return max(open_)[1] if open_ else None

    # (a) until the whole instance is within mip_rel_gap: the counties with the widest gaps first
    while time.perf_counter() < deadline and total_gap() > mip_rel_gap:
        k = widest(mip_rel_gap / 2)
        if k is None:
            break
        county_mip(k, mip_rel_gap / 2, deadline)
    if total_gap() > mip_rel_gap and time.perf_counter() >= deadline:
        stopped_by_time = True
    timings["gap_reached"] = time.perf_counter() - t_start
    # (b) spare time, at most `polish_seconds`: bring the remaining counties to HiGHS's default gap
    polish_until = min(deadline, time.perf_counter() + (0.25 * time_limit if polish_seconds is None else polish_seconds))
    fine = min(mip_rel_gap, 1e-4)
    while time.perf_counter() < polish_until:
        k = widest(fine)
        if k is None:
            break
        county_mip(k, fine, polish_until)
    timings["mip"] = time.perf_counter() - t0
    timings["solve"] = timings["lp"] + timings["rounding"] + timings["mip"]
    timings["polished_counties"] = float(len(polished))

    x_rows: list[np.ndarray] = []
    x_ts: list[np.ndarray] = []
    for k, yk in years_k.items():
        if k in infeasible:
            continue
        on = np.nonzero(yk >= 0)[0]
        x_rows.append(int(comp.ptr[k]) + on)
        x_ts.append(yk[on])
    county_obj = np.where(np.isfinite(inc_k), inc_k, 0.0)

    reasons: list[dict] = []
    t0 = time.perf_counter()
    greedy_by_county: dict[int, list[int]] = defaultdict(list)
    for i in greedy_rows:
        greedy_by_county[int(comp.county[i])].append(i)
    done_analysis = 0
    for k in sorted(infeasible | timed_out):
        if k in timed_out:
            reasons.append(_reason("no_solution_in_time", comp.counties[k], instance, year=comp.years[0]))
            county_status[k] = "time_limit"
            # fall back to the greedy schedule for this county, flagged by the verifier if it misses
            g_rows = greedy_by_county.get(k, [])
            x_rows.append(np.array(g_rows, dtype=np.int64))
            x_ts.append(np.array([greedy_rows[i] for i in g_rows], dtype=np.int64))
            continue
        county_status[k] = "infeasible"
        if k in pre:
            reasons.extend(pre[k])
        left = max(deadline - time.perf_counter(), 0.0) / max(len(infeasible) - done_analysis, 1)
        if k not in pre:
            reasons.extend(_analyse_county(comp, k, min(5.0, max(left / 2, 0.5))))
        ci, ct = _best_effort_county(comp, k, X, coef, left)
        done_analysis += 1
        x_rows.append(ci)
        x_ts.append(ct)
        county_obj[k] = float(coef[ci, ct].sum())
    timings["analysis"] = time.perf_counter() - t0
    county_lp = lp_k
    for k in range(C):
        if k not in infeasible and k not in timed_out and k in years_k and inc_k[k] < bound_k[k] - 1e-6 * max(1.0, abs(bound_k[k])):
            county_status[k] = "gap" if k not in polished else "gap_polished"

    rows = np.concatenate(x_rows) if x_rows else np.zeros(0, dtype=np.int64)
    ts = np.concatenate(x_ts) if x_ts else np.zeros(0, dtype=np.int64)
    schedule = {comp.cands[int(i)].id: comp.years[int(t)] for i, t in zip(rows, ts, strict=True)}
    objective = float(coef[rows, ts].sum()) if rows.size else 0.0

    # model estates: per county, the best-benefit eligible candidates scheduled by the deadline
    model_estates: set[str] = set()
    if comp.d_idx >= 0:
        for k in range(C):
            need = int(comp.need[k])
            if need <= 0:
                continue
            sel = (comp.county[rows] == k) & comp.eligible[rows] & (ts <= comp.d_idx)
            cand = rows[sel]
            best = cand[np.argsort(-comp.benefit[cand], kind="stable")][:need]
            model_estates.update(comp.cands[int(i)].id for i in best)

    t0 = time.perf_counter()
    violations = verify_schedule(instance, schedule) if verify else []
    greedy_violations = verify_schedule(instance, greedy) if verify else []
    timings["verify"] = time.perf_counter() - t0

    checked = {r["county"] for r in reasons}
    for v in violations:  # a schedule HiGHS called feasible that the exact check refuses (tolerances)
        if v.county not in checked:
            checked.add(v.county)
            reasons.append(_reason("schedule_check_failed", v.county or "", instance, year=v.year,
                                   violation=v.code, detail=v.detail))
    feasible = not infeasible and not timed_out and not violations
    if infeasible or timed_out:
        status, bound, lp_bound, gap, lp_gap = "infeasible" if infeasible else "time_limit", None, None, None, None
    else:
        lp_bound = float(np.nansum(lp_k))
        bound = min(float(np.nansum(bound_k)), lp_bound)
        gap = max((bound - objective) / abs(bound), 0.0) if bound else 0.0
        lp_gap = max((lp_bound - objective) / abs(lp_bound), 0.0) if lp_bound else 0.0
        if gap <= 1e-9:
            status = "optimal"
        elif gap <= mip_rel_gap:
            status = "gap_reached"
        else:
            status = "time_limit" if stopped_by_time else "gap_reached"
    timings["total"] = time.perf_counter() - t_start

    counties = _county_summaries(comp, rows, ts, county_status, county_obj, county_lp, greedy_rows, coef)
    for k, row in enumerate(counties):
        row["bound"] = None if np.isnan(bound_k[k]) or k in infeasible else float(bound_k[k])
    return PlanResult(
        instance=instance, status=status, feasible=feasible, objective=objective, bound=bound, lp_bound=lp_bound,
        gap=gap, lp_gap=lp_gap, greedy_objective=greedy_obj, greedy_feasible=not greedy_violations if verify else False,
        schedule=schedule, model_estates=model_estates, greedy=greedy, reasons=reasons, counties=counties,
        violations=violations, greedy_violations=greedy_violations, timings=timings, blocks=n_blocks,
    )


def _county_summaries(comp, rows, ts, status, obj, lp, greedy_rows, coef) -> list[dict]:
    """Per county: each target met or missed and by how much, budget used per year, figures."""
    inst = comp.instance
    C, T = len(comp.counties), comp.T
    planned = np.zeros((C, T), dtype=np.int64)
    spent = np.zeros((C, T), dtype=np.int64)
    if rows.size:
        np.add.at(planned, (comp.county[rows], ts), comp.m[rows])
        np.add.at(spent, (comp.county[rows], ts), comp.cost_u[rows])
    cum = np.cumsum(planned, axis=1)
    models = np.zeros(C, dtype=np.int64)
    if comp.d_idx >= 0 and rows.size:
        sel = comp.eligible[rows] & (ts <= comp.d_idx)
        np.add.at(models, comp.county[rows[sel]], 1)
    g_obj = np.zeros(C)
    for i, t in greedy_rows.items():
        g_obj[comp.county[i]] += coef[i, t]
    out = []
    for k in range(C):
        targets = []
        for t in range(T):
            if comp.req_share[k][t] is None:
                continue
            got, need = int(cum[k, t]), int(comp.R[k, t])
            targets.append({
                "year": comp.years[t], "target_share": _share_str(comp.req_share[k][t]),
                "required": _natural(need, inst.unit), "planned": _natural(got, inst.unit),
                "planned_share": _share_str(Fraction(got, int(comp.Q[k])) if comp.Q[k] else Fraction(0)),
                "met": got >= need, "shortfall": _natural(max(need - got, 0), inst.unit),
            })
        budget = []
        for t in range(T):
            b = None
            if comp.has_budget:
                b_u = int(comp.B_u[k, t] - (comp.B_u[k, t - 1] if inst.carry_over and t else 0))
                b = str(Decimal(b_u) / COST_SCALE)
            budget.append({"year": comp.years[t], "budget_wan": b, "spent_wan": str(Decimal(int(spent[k, t])) / COST_SCALE)})
        out.append({
            "county": comp.counties[k], "name": inst.name(comp.counties[k]), "status": status[k],
            "task": _natural(int(comp.Q[k]), inst.unit), "candidates": int(comp.ptr[k + 1] - comp.ptr[k]),
            "targets": targets,
            "model_estates": {"required": int(comp.need[k]), "deadline": comp.deadline_year,
                              "planned": int(models[k]), "met": int(models[k]) >= int(comp.need[k])},
            "budget": budget, "objective": float(obj[k]),
            "lp_bound": None if np.isnan(lp[k]) else float(lp[k]),
            "greedy_objective": float(g_obj[k]),
        })
    return out


# --------------------------------------------------------------------------------------------------
# Independent verifier (shares nothing with the model builder above)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """A rule a schedule breaks: a stable ``code``, ``detail`` in English for the command line, and
    ``params`` (the numbers, as strings) for words in other languages."""

    code: str
    county: str | None = None
    year: int | None = None
    candidate: str | None = None
    detail: str = ""
    params: dict = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict:
        return {"code": self.code, "county": self.county, "year": self.year, "candidate": self.candidate,
                "detail": self.detail, "params": dict(self.params)}


def _amount(value: Fraction | Decimal) -> str:
    """A quantity as people write it: whole numbers without decimals (23, not 23.0), else to 0.01."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return format(Decimal(value.numerator) / Decimal(value.denominator), ".2f")


def verify_schedule(instance: Instance, schedule: Mapping[str, int] | Iterable[tuple[str, int]]) -> list[Violation]:
    """Every constraint of the instance checked from scratch on a schedule (candidate id -> year, or
    (id, year) pairs to catch a candidate scheduled twice). Returns the violations (empty: valid)."""
    pairs = list(schedule.items()) if isinstance(schedule, Mapping) else [tuple(p) for p in schedule]
    start, end = instance.start_year, instance.end_year
    cands = {c.id: c for c in instance.candidates}
    out: list[Violation] = []
    placed: dict[str, int] = {}
    for cid, year in pairs:
        c = cands.get(cid)
        if c is None:
            out.append(Violation("unknown_candidate", candidate=cid, year=year))
            continue
        if cid in placed:
            out.append(Violation("scheduled_twice", c.county, year, cid, f"also in {placed[cid]}"))
            continue
        if not isinstance(year, int) or not (start <= year <= end):
            out.append(Violation("year_outside_period", c.county, year, cid, f"period {start}-{end}"))
            continue
        if c.earliest_year is not None and year < c.earliest_year:
            out.append(Violation("before_earliest_year", c.county, year, cid, f"earliest {c.earliest_year}"))
        placed[cid] = year

    # budgets, exactly in Decimal
    if instance.budgets is not None:
        spend: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        for cid, year in placed.items():
            spend[(cands[cid].county, year)] += cands[cid].cost_wan
        counties = {cands[cid].county for cid in placed}
        for county in sorted(counties):
            spent_sum = Decimal(0)
            budget_sum = Decimal(0)
            for year in range(start, end + 1):
                s = spend.get((county, year), Decimal(0))
                b = Decimal(instance.budgets.get((county, year), 0))
                if instance.carry_over:
                    spent_sum += s
                    budget_sum += b
                    if spent_sum > budget_sum:
                        out.append(Violation("over_budget", county, year, None,
                                             f"spent {spent_sum} 万元 to {year}, budget {budget_sum} 万元",
                                             {"spent": str(spent_sum), "budget": str(budget_sum)}))
                elif s > b:
                    out.append(Violation("over_budget", county, year, None, f"spent {s} 万元, budget {b} 万元",
                                         {"spent": str(s), "budget": str(b)}))

    # the quantity of a candidate in the target unit, as an exact Fraction
    def qty(c: Candidate) -> Fraction:
        if instance.unit == "estates":
            return Fraction(c.estates)
        if instance.unit == "households":
            return Fraction(c.households)
        return Fraction(c.floor_area)

    task: dict[str, Fraction] = defaultdict(Fraction)
    for c in instance.candidates:
        if c.earliest_year is None or c.earliest_year <= end:
            task[c.county] += qty(c)
    if instance.task:
        for county, v in instance.task.items():
            task[str(county)] = Fraction(Decimal(str(v)))
    by_county_year: dict[str, dict[int, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    for cid, year in placed.items():
        by_county_year[cands[cid].county][year] += qty(cands[cid])
    for tg in instance.targets:
        if tg.calendar:
            ty = tg.year
        else:
            ty = start - 1 + tg.year if tg.year > 0 else end + 1 + tg.year
        share = tg.share
        for county in sorted(task):
            total = task[county]
            years = by_county_year.get(county, {})
            done = sum((v for y, v in years.items() if y <= ty), Fraction(0))
            if done < share * total:
                out.append(Violation("target_missed", county, ty, None,
                                     f"{_amount(done)} of {_amount(total)} {instance.unit} by {ty}, "
                                     f"needs {float(share) * 100:g}%",
                                     {"done": _amount(done), "total": _amount(total), "unit": instance.unit,
                                      "share": f"{float(share) * 100:g}"}))

    rule = instance.model_rule
    if rule is not None and rule.count > 0:
        if rule.calendar:
            dy = rule.deadline
        else:
            dy = start - 1 + rule.deadline if rule.deadline > 0 else end + 1 + rule.deadline
        existing = instance.existing_model_estates or {}
        counties_with_task = {c.county for c in instance.candidates if c.earliest_year is None or c.earliest_year <= end}
        if instance.task:
            counties_with_task |= {str(k) for k, v in instance.task.items() if Decimal(str(v)) > 0}
        models: dict[str, int] = defaultdict(int)
        for cid, y in placed.items():
            if cands[cid].model_eligible and y <= dy:
                models[cands[cid].county] += 1
        for county in sorted(counties_with_task):
            n = models.get(county, 0)
            if n + int(existing.get(county, 0)) < rule.count:
                out.append(Violation("model_estates_missing", county, dy, None,
                                     f"{n} model estate(s) scheduled by {dy}, needs {rule.count}",
                                     {"scheduled": str(n), "needed": str(rule.count),
                                      "existing": str(int(existing.get(county, 0)))}))
    return out


# --------------------------------------------------------------------------------------------------
# The budget file
# --------------------------------------------------------------------------------------------------


class BudgetFileError(ValueError):
    """A budget file with errors; ``errors`` lists {row, column, code, message, params} (row 1 is the
    header; ``message`` in English for the command line, ``params`` for words in other languages)."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"row {first['row']}, {first['column']}: {first['message']}{more}")


BUDGET_COLUMNS = ("county", "year", "budget_wan")
# Headers read as each column, as counties write them (compared after `header_key`: full-width brackets
# and letters made half-width, spaces dropped, lower case).
BUDGET_HEADERS = {
    "county": ("county", "县(市、区)", "县(市,区)", "县(市区)", "区县", "县区", "县(市、区)代码", "区县代码", "县区代码",
               "县(市、区)名称", "区县名称"),
    "year": ("year", "年度", "年份", "年"),
    "budget_wan": ("budget_wan", "预算(万元)", "预算", "预算金额(万元)", "预算金额", "年度预算(万元)", "年度预算"),
}


def header_key(text: str) -> str:
    """A header cell as compared: NFKC (（）→ (), full-width letters and spaces half-width), no spaces,
    lower case."""
    return unicodedata.normalize("NFKC", "".join(str(text or "").split())).lower()


_HEADER_COLUMN = {header_key(h): column for column, spellings in BUDGET_HEADERS.items() for h in spellings}


def parse_budget_csv(source: str | Path | io.TextIOBase, *, period: tuple[int, int] | None = None,
                     counties: Iterable[str] | None = None,
                     county_named: Callable[[str], str] | None = None) -> dict[tuple[str, int], Decimal]:
    """Read a budget file with columns ``county,year,budget_wan`` (万元; extra columns are ignored); the
    Chinese headers of `BUDGET_HEADERS` (县（市、区）,年度,预算（万元）, 区县, 年份, 预算 …) are read as the same columns.

    ``source`` is a path, a file object, or the CSV text itself (when it contains a newline). A county is
    its 6-digit code, or with ``county_named`` (a function from a name to a code that raises ValueError
    with the reason) its name. Returns {(county, year): Decimal}; raises `BudgetFileError` listing every
    bad row and column."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and "," not in source):
        text = Path(source).read_text(encoding="utf-8-sig")
    elif isinstance(source, str):
        text = source.lstrip("\ufeff")
    else:
        text = source.read()
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        text = text.lstrip("\ufeff")
    known = set(counties) if counties is not None else None
    reader = csv.reader(io.StringIO(text))
    errors: list[dict] = []
    try:
        header = next(reader)
    except StopIteration:
        raise BudgetFileError([{"row": 1, "column": None, "code": "empty", "message": "the file is empty",
                                "params": {}}]) from None
    names = [_HEADER_COLUMN.get(header_key(h), header_key(h)) for h in header]
    missing = [c for c in BUDGET_COLUMNS if c not in names]
    if missing:
        raise BudgetFileError([{"row": 1, "column": c, "code": "missing_column",
                                "message": f"the column {c} is missing (expected {','.join(BUDGET_COLUMNS)})",
                                "params": {"expected": ",".join(BUDGET_COLUMNS)}} for c in missing])
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise BudgetFileError([{"row": 1, "column": d, "code": "duplicate_column",
                                "message": f"the column {d} appears twice", "params": {}} for d in dup])
    pos = {c: names.index(c) for c in BUDGET_COLUMNS}
    out: dict[tuple[str, int], Decimal] = {}
    first_row: dict[tuple[str, int], int] = {}
    for rownum, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def err(column, code, message, rownum=rownum, **params):
            errors.append({"row": rownum, "column": column, "code": code, "message": message, "params": params})

        if len(row) < len(names):
            row = row + [""] * (len(names) - len(row))
        county = row[pos["county"]].strip()
        year_s = row[pos["year"]].strip()
        amount_s = row[pos["budget_wan"]].strip()
        ok = True
        if county_named is not None and county and not county.isdigit():
            try:
                county = county_named(county)
            except ValueError as exc:
                err("county", "unknown_county_name", f"{county!r} is not a county's name: {exc}", value=county,
                    reason=str(exc))
                ok = False
        if ok and not (county.isdigit() and len(county) == 6):
            err("county", "bad_county", f"{county!r} is not a 6-digit county code", value=county)
            ok = False
        elif ok and known is not None and county not in known:
            err("county", "unknown_county", f"{county} is not a county of this instance", value=county)
            ok = False
        try:
            year = int(year_s)
            if not 1900 <= year <= 2200:
                raise ValueError
            if period is not None and not period[0] <= year <= period[1]:
                err("year", "year_outside_period", f"{year} lies outside the period {period[0]}-{period[1]}", value=year,
                    start=period[0], end=period[1])
                ok = False
        except ValueError:
            err("year", "bad_year", f"{year_s!r} is not a year", value=year_s)
            ok = False
        try:
            amount = Decimal(amount_s.replace("_", ""))
            if not amount.is_finite():
                raise InvalidOperation
            if amount < 0:
                err("budget_wan", "negative_amount", f"{amount_s} is negative", value=amount_s)
                ok = False
            elif amount > MAX_BUDGET_WAN:
                err("budget_wan", "too_large", f"{amount_s} is more than {MAX_BUDGET_WAN} 万元", value=amount_s,
                    most=str(MAX_BUDGET_WAN))
                ok = False
            elif amount != amount.quantize(YUAN, rounding=ROUND_HALF_UP):
                err("budget_wan", "too_precise", f"{amount_s} has more than 4 decimals (万元 to the yuan)", value=amount_s)
                ok = False
        except InvalidOperation:
            err("budget_wan", "bad_amount", f"{amount_s!r} is not an amount in 万元", value=amount_s)
            ok = False
        if not ok:
            continue
        key = (county, year)
        if key in out:
            err("county", "duplicate", f"{county} {year} already given on row {first_row[key]}", value=county, year=year,
                first=first_row[key])
            continue
        out[key] = amount.quantize(YUAN)
        first_row[key] = rownum
    if errors:
        raise BudgetFileError(errors)
    return out
