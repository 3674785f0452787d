#!/usr/bin/env bash
# Every benchmark in bench/*.py, one after the other; each prints its numbers and its targets.
# A benchmark that misses its targets (or fails) makes the whole run fail, after all have run.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
bash scripts/system-packages.sh wrk || echo "wrk is missing: benchmarks that need it will say so" >&2
rc=0
for bench in bench/*.py; do
  echo "== $bench =="
  $BIN/python "$bench" || { echo "!! $bench: failed or missed its targets" >&2; rc=1; }
done
exit $rc
