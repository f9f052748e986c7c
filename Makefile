# tempen: the one command surface people and CI share.
#   make run    run the whole system (embedded broker and database unless URLs are set)
#   make test   the whole test suite, real broker and PostgreSQL included
#   make check  lint, types, architecture contracts and tests

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test test-fast lint types check install clean bench

$(STAMP): pyproject.toml shared/pyproject.toml services/*/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		-e shared -e services/ingest -e services/scoring -e services/alerts -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tempen up

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy shared/src services/ingest/src services/scoring/src services/alerts/src src

check: lint types test

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tempen .pytest_cache .mypy_cache .ruff_cache
