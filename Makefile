# Two commands: `make run` (demo on http://127.0.0.1:5000) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev migrate demo worker bench clean field translations

# The field app (field/, TypeScript): installed from the committed lockfile and built into field/dist,
# which Flask serves at /field/. Skipped with a message where Node is absent (CI has Node 20). Stamped:
# `npm ci` runs again only when the lockfile changes, the build only when a source does, so a second
# `make test` needs no network.
FIELD_SOURCES := $(shell find field -path field/node_modules -prune -o -path field/dist -prune -o -type f -print 2>/dev/null)

field:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory field/dist/index.html; \
	else echo "field: node/npm not found; the field app at /field/ is not built (install Node 20)"; fi

field/node_modules/.installed: field/package-lock.json
	cd field && npm ci --no-audit --no-fund --loglevel=error
	touch $@

field/dist/index.html: field/node_modules/.installed $(FIELD_SOURCES)
	cd field && npm run build --silent
	touch $@

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) load-demo --if-empty

run: demo field
	@echo "Serving on http://$(HOST):$(PORT)  (sign in: http://$(HOST):$(PORT)/web/login; API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	$(VENV)/bin/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

# Two processes (pytest-xdist): each has its own throwaway database and key prefix (tests/conftest.py);
# TEST_WORKERS=0 runs the suite in this one process.
TEST_WORKERS ?= 2
test: install-dev field
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The pages' words: extract them, merge into server/web/translations/{zh_Hans_CN,en}, compile the .mo files
# (committed, so a fresh clone needs no build step; tests/web/test_i18n.py fails on a stale or missing one).
translations: install
	$(PY) -m server.web.catalog

worker: install
	$(FLASK) worker

bench: install-dev
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache field/node_modules field/dist
