# Gaizao: `make demo` brings the site up, `make test` runs the whole suite (SQLite, then PostgreSQL).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# pip repeats a harmless warning for every local index it cannot read; keep the output readable
QUIET_PIP := sed -u '/is ignored: it is neither a file nor a directory/d'
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: demo test setup bench lint messages clean

setup: $(VENV)/.installed node_modules/.installed messages

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q --no-deps -e . 2>&1 | $(QUIET_PIP)
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

messages: $(VENV)/.installed
	@bash scripts/system-packages.sh gettext
	cd gaizao && ../$(BIN)/gaizao compilemessages -v0

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

bench: setup
	bash scripts/bench.sh

lint: $(VENV)/.installed
	$(BIN)/ruff check gaizao tests bench

clean:
	rm -rf $(VENV) node_modules staticfiles var/test-*
