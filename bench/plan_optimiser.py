"""Benchmark of the plan optimiser (issue 4): a national-size instance, 220,000 candidates x 3 years.

    .venv/bin/python bench/plan_optimiser.py [--candidates 220000] [--counties 2200] [--seed 1]
                                             [--variant all|pool|both] [--time-limit 60] [--json]

The generator (national scale, shared/domain.md): 220,000 estates built before 2000 over 2,200
county-level divisions with a skewed (log-normal) number of estates per county, about 175 households
per estate, 60-100 m² per household, about 2.7 万元 per household (1.5-4.0 by the estate's content),
priority scores 30-100, 5% merged projects of 2-4 estates, 20% that may only start in the second or
third year, 8% that may serve as a model estate.

Budgets per county and year come from a hidden reference schedule that meets every target, plus
0-3% slack, so the targets are reachable but binding. Two variants:

* ``all``: the brief's default; a county's task is all its candidates: 30% of estates by the end of
  2020, 100% by the end of 2022, one model estate by 2020. The total budget barely covers the whole
  task, so every feasible schedule does all of it; schedules differ only in the order (the earliness
  reward, 1% per year) and greedy can only fail to fit everything.
* ``pool``: the pool is larger than the task (task = 70% of each county's estates, explicit), the
  budget pays for about the task, so the optimiser chooses which estates to renovate.

Printed: time to a gap <= 0.5% from the LP bound (the exact LP relaxation value of the whole instance),
the MIP bound and its gap, the objective against greedy's, feasibility of both, and the timings; also
written to bench/out/plan_optimiser.json. Exits 1 when the gap target (0.5% within 60 s) is missed;
the 5%-over-greedy goal is reported, not enforced (in the ``all`` variant every feasible schedule does
the whole task, so only the order can differ). By default the run stops at the gap
(``--polish-seconds 0``); `optimise` itself then polishes for up to a quarter of its time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gaizao.plans.optimiser import Candidate, Instance, ModelRule, Target, optimise  # noqa: E402

START, END = 2020, 2022


def national_instance(n: int = 220_000, n_counties: int = 2_200, seed: int = 1, variant: str = "all") -> Instance:
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(mean=0.0, sigma=0.8, size=n_counties)
    sizes = np.maximum(5, np.floor(sizes / sizes.sum() * n)).astype(int)
    while sizes.sum() < n:
        sizes[rng.integers(n_counties)] += 1
    while sizes.sum() > n:
        k = rng.integers(n_counties)
        if sizes[k] > 5:
            sizes[k] -= 1
    codes = [f"{11 + k // 400:02d}{1 + (k // 20) % 20:02d}{1 + k % 20:02d}" for k in range(n_counties)]
    county_of = np.repeat(np.arange(n_counties), sizes)

    estates = np.where(rng.random(n) < 0.05, rng.integers(2, 5, n), 1)
    households = np.maximum(20, rng.lognormal(np.log(160), 0.5, n) * estates).astype(int)
    area = np.round(households * rng.uniform(60, 100, n), 2)
    per_household = rng.uniform(1.5, 4.0, n)  # 万元 per household, by content
    cost = np.round(households * per_household, 2)
    priority = np.round(rng.uniform(30, 100, n), 2)
    earliest = np.where(rng.random(n) < 0.8, START, np.where(rng.random(n) < 0.6, START + 1, START + 2))
    model_ok = rng.random(n) < 0.08

    # a reference schedule meeting every target, county by county
    ref_year = np.full(n, -1)
    task = {}
    lo = 0
    for k, size in enumerate(sizes):
        idx = np.arange(lo, lo + size)
        lo += size
        # each county has a model-eligible candidate available in the first year
        if not (model_ok[idx] & (earliest[idx] == START)).any():
            j = idx[rng.integers(size)]
            model_ok[j] = True
            earliest[j] = START
        chosen = idx if variant == "all" else rng.permutation(idx)[: int(np.ceil(0.7 * size))]
        if variant != "all":
            # the explicit task: the estates of the reference choice (ensures the task is reachable)
            m = next(j for j in rng.permutation(idx) if model_ok[j] and earliest[j] == START)
            if m not in chosen:
                chosen = np.append(chosen[:-1], m)
            task[codes[k]] = int(estates[chosen].sum())
        total = estates[chosen].sum()
        first = [j for j in chosen if model_ok[j] and earliest[j] == START][:1]
        got = estates[first].sum() if first else 0
        for j in rng.permutation([j for j in chosen if earliest[j] == START and j not in first]):
            if got >= np.ceil(0.3 * total):
                break
            first.append(j)
            got += estates[j]
        ref_year[first] = START
        for j in chosen:
            if ref_year[j] < 0:
                ref_year[j] = rng.integers(max(earliest[j], START + 1), END + 1)
    budgets = {}
    slack = rng.uniform(0.0, 0.03, (n_counties, END - START + 1))
    spend = np.zeros((n_counties, END - START + 1))
    on = ref_year >= 0
    np.add.at(spend, (county_of[on], ref_year[on] - START), cost[on])
    for k, code in enumerate(codes):
        for t in range(END - START + 1):
            budgets[(code, START + t)] = round(float(spend[k, t] * (1 + slack[k, t])), 2)

    cands = [
        Candidate(
            id=f"E{i:06d}", county=codes[county_of[i]], priority=float(priority[i]), households=int(households[i]),
            floor_area=float(area[i]), cost_wan=float(cost[i]), estates=int(estates[i]),
            earliest_year=None if earliest[i] == START else int(earliest[i]), model_eligible=bool(model_ok[i]),
        )
        for i in range(n)
    ]
    return Instance(
        cands, START, END, budgets=budgets, targets=(Target(1, "30%"), Target(3, "100%")), unit="estates",
        model_rule=ModelRule(count=1, deadline=1), task=task or None,
    )


def run(variant: str, args) -> dict:
    t0 = time.perf_counter()
    inst = national_instance(args.candidates, args.counties, args.seed, variant)
    gen = time.perf_counter() - t0
    cpu0 = time.process_time()
    res = optimise(inst, time_limit=args.time_limit, mip_rel_gap=args.gap, block_columns=args.block_columns,
                   polish_seconds=args.polish_seconds)
    out = {
        "variant": variant,
        "candidates": len(inst.candidates),
        "counties": len(res.counties),
        "blocks": res.blocks,
        "generate_s": round(gen, 2),
        "optimise_s": round(res.timings["total"], 2),
        "optimise_cpu_s": round(time.process_time() - cpu0, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "gap_reached_s": round(res.timings["gap_reached"], 2),
        "status": res.status,
        "feasible": res.feasible,
        "objective": res.objective,
        "lp_bound": res.lp_bound,
        "bound": res.bound,
        "lp_gap_pct": None if res.lp_gap is None else round(100 * res.lp_gap, 4),
        "gap_pct": None if res.gap is None else round(100 * res.gap, 4),
        "gap_target_met": res.lp_gap is not None and res.lp_gap <= 0.005 and res.timings["gap_reached"] <= 60,
        "greedy_objective": res.greedy_objective,
        "greedy_feasible": res.greedy_feasible,
        "greedy_counties_missing_targets": len({v.county for v in res.greedy_violations}),
        "better_than_greedy_pct": None if res.improvement_over_greedy is None else round(100 * res.improvement_over_greedy, 3),
        "scheduled": len(res.schedule),
        "greedy_scheduled": len(res.greedy),
        "reasons": len(res.reasons),
        "timings_s": {k: round(v, 2) for k, v in res.timings.items()},
    }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=220_000)
    ap.add_argument("--counties", type=int, default=2_200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", choices=("all", "pool", "both"), default="both")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--block-columns", type=int, default=20_000)
    ap.add_argument("--polish-seconds", type=float, default=0.0,
                    help="spare time to improve after the gap is reached (optimise's default is 25%% of the limit)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    variants = ("all", "pool") if args.variant == "both" else (args.variant,)
    results = [run(v, args) for v in variants]
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "plan_optimiser.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    missed = [r["variant"] for r in results if not r["gap_target_met"]]
    if args.json:
        print(json.dumps(results, indent=1))
        return 1 if missed else 0
    for r in results:
        print(f"== plan optimiser, variant {r['variant']}: {r['candidates']:,} candidates, {r['counties']:,} counties, "
              f"3 years, {r['blocks']} blocks ==")
        print(f"  time to gap <= 0.5% of the LP bound: {r['gap_reached_s']:.1f} s (target 60 s; met: {r['gap_target_met']}; "
              f"status {r['status']}, feasible {r['feasible']}); whole call {r['optimise_s']:.1f} s wall, "
              f"{r['optimise_cpu_s']:.1f} s CPU, load average {r['load_average']}")
        print(f"  objective {r['objective']:,.0f}   LP bound {r['lp_bound']:,.0f}   gap to LP bound {r['lp_gap_pct']}%   "
              f"MIP bound gap {r['gap_pct']}%")
        print(f"  greedy {r['greedy_objective']:,.0f} (meets every target: {r['greedy_feasible']}; "
              f"{r['greedy_counties_missing_targets']} counties miss one)   optimiser better by "
              f"{r['better_than_greedy_pct']}% (goal >= 5%)")
        print(f"  scheduled {r['scheduled']:,} (greedy {r['greedy_scheduled']:,}); instance generated in {r['generate_s']} s")
        print(f"  timings: {r['timings_s']}")
    print(f"targets: gap <= 0.5% of the LP bound within 60 s: {'MISSED for ' + ', '.join(missed) if missed else 'met'}; "
          f"objective >= 5% above greedy: " + ", ".join(
              f"{r['variant']} {r['better_than_greedy_pct']}%" for r in results) + " (reported, not enforced)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
