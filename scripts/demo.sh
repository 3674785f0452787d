#!/usr/bin/env bash
# Migrate the SQLite database, load regions and demo data, then run the web server and the task worker.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${PORT:-8000}
mkdir -p var
$BIN/gaizao migrate -v0
$BIN/gaizao load-regions
$BIN/gaizao demo-data > var/demo-users.txt
$BIN/gaizao db_worker --no-reload -v0 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
cat <<MSG

  Gaizao is running:  http://127.0.0.1:${PORT}/
  API docs:           http://127.0.0.1:${PORT}/api/docs/
  Task worker:        pid ${worker}
$(sed 's/^/  /' var/demo-users.txt)

  Stop with Ctrl-C.
MSG
$BIN/gaizao runserver "127.0.0.1:${PORT}" --noreload
