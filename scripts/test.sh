#!/usr/bin/env bash
# The whole suite: lint, then pytest on SQLite, then on PostgreSQL.
# With CI=true an unreachable PostgreSQL is a failure; elsewhere it is skipped with a warning.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/gaizao}
bash scripts/system-packages.sh browser || { echo "browser tests need chromium and fonts-noto-cjk" >&2; exit 1; }

$BIN/ruff check gaizao tests bench || exit 1

pg_up() { $BIN/python - "$PG_URL" <<'PY'
import sys, psycopg, environ
cfg = environ.Env.db_url_config(sys.argv[1])
try:
    psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL unreachable: {exc}", file=sys.stderr); sys.exit(1)
PY
}

echo "== tests on SQLite =="
env -u DATABASE_URL $BIN/pytest -q "$@"
sqlite_rc=$?

echo "== tests on PostgreSQL =="
if ! pg_up; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql 2>/dev/null | head -1)" main start 2>/dev/null && sleep 2
fi
if pg_up; then
  DATABASE_URL="$PG_URL" $BIN/pytest -q "$@"
  pg_rc=$?
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL was expected in CI but is unreachable" >&2
  pg_rc=1
else
  echo "WARNING: PostgreSQL unreachable; its run was skipped" >&2
  pg_rc=0
fi
[ $sqlite_rc -eq 0 ] && [ $pg_rc -eq 0 ]
