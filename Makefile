# InsureCRM — the two commands of the README, and a few for developers.
#   make run    create .venv, install, migrate a SQLite database, load a demo book if empty, serve :5000
#               with the scheduler of the daily jobs beside it
#   make test   create .venv, install with test extras, run the whole suite (SQLite and PostgreSQL)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
DEMO_POLICYHOLDERS ?= 2000
# the suite runs in one process per core (pytest-xdist); the slowest tests are named at the end
PYTEST_ARGS ?= -n auto --durations=20

.PHONY: run test install install-test bench lint translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[postgresql]"
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/insurecrm db upgrade
	$(BIN)/insurecrm demo --if-empty --policyholders $(DEMO_POLICYHOLDERS)
	@echo "InsureCRM on http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	@# the scheduler is a process of its own beside the web server; both stop together
	$(BIN)/insurecrm scheduler & scheduler=$$!; trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
		$(BIN)/insurecrm run --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python bench/demo_book.py --backend sqlite postgresql --policyholders 10000
	$(BIN)/python bench/renewal_backfill.py --policies 1000000
	$(BIN)/python bench/jobs_growth.py --policies 100000 1000000
	$(BIN)/python bench/report_figures.py --policyholders 50000 500000
	$(BIN)/python bench/api_throughput.py --policyholders 2000
	$(BIN)/python bench/import_speed.py --policyholders 100000

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache test-artifacts

# Translations: extract the strings of the code and templates, merge them into the catalogues, compile.
# Edit insurecrm/translations/zh/LC_MESSAGES/messages.po between `extract` and `compile`.
translations: install-test
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		-o insurecrm/translations/messages.pot --ignore-dirs=".venv tests bench migrations build test-artifacts" .
	$(BIN)/pybabel update -i insurecrm/translations/messages.pot -d insurecrm/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d insurecrm/translations --statistics
