"""Estate list API benchmark at national scale (220,000 estates) with gunicorn (2 workers) and wrk.

  1. a PostgreSQL database of its own (BENCH_ESTATES_DATABASE_URL, default
     postgres://postgres@127.0.0.1:5432/gaizao_bench_estates) is migrated, the regions loaded and
     `gaizao demo-data --scale national` run (skipped when the estates are already there)
  2. gunicorn serves the project with 2 sync workers (production settings, DEBUG off)
  3. wrk measures, in the same run:
       - the target:   GET /api/v1/estates/?page_size=50   (province admin's token: all 220,000 in scope)
       - a county:     GET /api/v1/estates/?page_size=50&region=330106&sort=-priority_score
       - the baseline: GET /api/v1/me/  (the same server, token auth, one tiny query: the stack's floor)
     and, without HTTP, the list's own SQL run raw through psycopg (the database's floor)
Targets: list p95 <= 100 ms and >= 300 req/s.

    .venv/bin/python bench/estate_list_api.py [--duration 20] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PY = sys.executable
GAIZAO = [PY, "-m", "gaizao.cli"]
DB_URL = os.environ.get("BENCH_ESTATES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gaizao_bench_estates")
P95_TARGET_MS = 100.0
RPS_TARGET = 300.0
NATIONAL = 219_000

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency.max))
end
"""


def env() -> dict:
    e = dict(os.environ)
    e.update(DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="gaizao.settings", GAIZAO_ENV="production",
             SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
             ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="false", DEBUG="false",
             GAIZAO_VAR_DIR=str(OUT / "var"), LOG_LEVEL="ERROR")
    return e


def ensure_database() -> None:
    import environ
    import psycopg

    cfg = environ.Env.db_url_config(DB_URL)
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres",
                         autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def prepare() -> int:
    ensure_database()
    subprocess.run([*GAIZAO, "migrate", "-v0"], check=True, env=env(), cwd=ROOT)
    count = int(subprocess.run([*GAIZAO, "shell", "-c", "from gaizao.estates.models import Estate; "
                                "print(Estate.objects.count())"], check=True, env=env(), cwd=ROOT,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1])
    if count < NATIONAL:
        print(f"preparing national-scale data ({count} estates now) …", flush=True)
        started = time.monotonic()
        subprocess.run([*GAIZAO, "load-regions"], check=True, env=env(), cwd=ROOT, stdout=subprocess.DEVNULL)
        subprocess.run([*GAIZAO, "demo-data", "--scale", "national"], check=True, env=env(), cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["psql", DB_URL, "-qc", "VACUUM ANALYZE"], check=False, env=env())
        print(f"  generated in {time.monotonic() - started:.0f} s", flush=True)
    code = ("from gaizao.estates.models import Estate; from rest_framework.authtoken.models import Token; "
            "from gaizao.accounts.models import User; u = User.objects.get(username='admin'); "
            "t, _ = Token.objects.get_or_create(user=u); print(Estate.objects.count(), t.key)")
    out = subprocess.run([*GAIZAO, "shell", "-c", code], check=True, env=env(), cwd=ROOT, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    count, token = out.split()
    os.environ["BENCH_TOKEN"] = token
    return int(count)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not answer {url}")


def run_wrk(url: str, token: str, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT)
        script = fh.name
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", script,
                              "-H", f"Authorization: Token {token}", url], check=True, capture_output=True,
                             text=True).stdout
    finally:
        os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, duration_us, p50, p95, p99, errors, latency_max = map(int, line.split()[1:])
    return {"requests": requests, "rps": requests / (duration_us / 1e6), "p50_ms": p50 / 1000, "p95_ms": p95 / 1000,
            "p99_ms": p99 / 1000, "max_ms": latency_max / 1000, "errors": errors}


def raw_sql_floor(samples: int = 300) -> dict:
    """The list's own two queries (page of 50 with its joins, per-status counts) run raw through psycopg."""
    import environ
    import psycopg

    cfg = environ.Env.db_url_config(DB_URL)
    page_sql = (
        "SELECT e.*, r.code, r.name, c.code, c.name FROM estates_estate e "
        "JOIN regions_region r ON r.id = e.region_id JOIN regions_region c ON c.id = e.county_id "
        "WHERE r.code LIKE '33%%' ORDER BY e.code LIMIT 50")
    count_sql = ("SELECT e.status, COUNT(e.id) FROM estates_estate e JOIN regions_region r ON r.id = e.region_id "
                 "WHERE r.code LIKE '33%%' GROUP BY e.status")
    timings = {"page": [], "count": []}
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname=cfg["NAME"]) as conn:
        for _ in range(20):
            conn.execute(page_sql).fetchall()
        for i in range(samples):
            started = time.perf_counter()
            conn.execute(page_sql).fetchall()
            timings["page"].append(time.perf_counter() - started)
            if i < samples // 10:
                started = time.perf_counter()
                conn.execute(count_sql).fetchall()
                timings["count"].append(time.perf_counter() - started)

    def p95(values):
        return statistics.quantiles(values, n=20)[-1] * 1000

    return {"page_p95_ms": p95(timings["page"]), "page_rps_one_connection": 1 / statistics.mean(timings["page"]),
            "count_p95_ms": p95(timings["count"])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (>1 uses gunicorn's gthread workers, which keep connections alive)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        subprocess.run(["bash", str(ROOT / "scripts" / "system-packages.sh"), "wrk"], check=False)
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    count = prepare()
    token = os.environ["BENCH_TOKEN"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(Path(PY).parent / "gunicorn"), "gaizao.wsgi:application", "--workers", "2",
                               "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                               "--access-logfile", "/dev/null"],
                              env=env(), cwd=ROOT, start_new_session=True)
    results = {"estates": count, "workers": 2, "threads": args.threads, "connections": args.connections,
               "duration_s": args.duration, "load_before": os.getloadavg()}
    try:
        list_url = f"{base}/api/v1/estates/?page_size=50"
        county_url = f"{base}/api/v1/estates/?page_size=50&region=330106&sort=-priority_score"
        wait_for(list_url, token)
        for url in (list_url, county_url, f"{base}/api/v1/me/"):
            run_wrk(url, token, 3, args.connections)  # warm both workers and their caches
        results["list"] = run_wrk(list_url, token, args.duration, args.connections)
        results["county_list"] = run_wrk(county_url, token, args.duration, args.connections)
        results["baseline_me"] = run_wrk(f"{base}/api/v1/me/", token, args.duration, args.connections)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    results["raw_sql"] = raw_sql_floor()
    (OUT / "estate_list_api.json").write_text(json.dumps(results, indent=2))

    lst, county, me, raw = results["list"], results["county_list"], results["baseline_me"], results["raw_sql"]
    print(f"estate list API at national scale: {count:,} estates, gunicorn 2 workers × {args.threads} thread(s), "
          f"wrk {args.connections} connections × {args.duration} s; {os.cpu_count()} CPUs, load average before "
          f"{results['load_before'][0]:.1f}")
    print(f"  {'endpoint':<44} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, r in (("GET /api/v1/estates/?page_size=50", lst),
                     ("  … ?region=330106&sort=-priority_score", county),
                     ("baseline GET /api/v1/me/", me)):
        print(f"  {label:<44} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{r['errors']:>7}")
    print(f"  raw SQL floor (psycopg, one connection): page of 50 p95 {raw['page_p95_ms']:.2f} ms "
          f"({raw['page_rps_one_connection']:.0f}/s), per-status count p95 {raw['count_p95_ms']:.1f} ms")
    print(f"  list / baseline throughput: {lst['rps'] / me['rps']:.2f}×")
    ok = lst["p95_ms"] <= P95_TARGET_MS and lst["rps"] >= RPS_TARGET and lst["errors"] == 0
    print(f"  targets p95 <= {P95_TARGET_MS:.0f} ms and >= {RPS_TARGET:.0f} req/s: "
          f"{'met' if ok else 'NOT met'} (p95 {lst['p95_ms']:.1f} ms, {lst['rps']:.0f} req/s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
