# tempen: the one command surface people and CI share.
#   make run    run the whole system (embedded broker and database unless URLs are set)
#   make test   the whole test suite, real broker and PostgreSQL included
#   make check  lint, types, architecture contracts and tests
#   make test-fast   everything but the end-to-end tests, for the edit-test loop
#   make test-dates  the date-sensitive tests again at pinned dates (libfaketime)
#   make screenshots the portal's pages as PNGs in docs/images/

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test test-fast test-dates lint types check install clean bench debian-packages screenshots

$(STAMP): pyproject.toml shared/pyproject.toml services/*/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		-e shared -e services/ingest -e services/scoring -e services/alerts -e services/portal -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	@scripts/debian-packages run
	$(BIN)/tempen up

# Debian packages with no PyPI form (scripts/debian-packages says which and why): installed as root,
# otherwise the one command to run is printed.
debian-packages:
	@scripts/debian-packages test

# The OpenID Connect provider the portal's sign-in tests start with node: panva's oidc-provider, pinned
# in tests/oidc/package-lock.json (Debian's nodejs and npm come from scripts/debian-packages).
OIDC_PROVIDER = tests/oidc/node_modules/.package-lock.json
$(OIDC_PROVIDER): tests/oidc/package.json tests/oidc/package-lock.json | debian-packages
	npm ci --prefix tests/oidc --no-audit --no-fund --ignore-scripts --loglevel=error

# Two workers (pytest-xdist), each with its own broker and database. Most tests wait on real processes
# (broker, PostgreSQL, services, Chromium), so two workers on two cores halve the whole suite (1,514 s
# serially, 798 s on two, 2026-12-07). TEST_WORKERS=0 runs it serially in one process.
TEST_WORKERS ?= 2
test: $(STAMP) debian-packages $(OIDC_PROVIDER)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The edit-test loop: everything but the end-to-end and slow tests, in under three minutes on two cores.
test-fast: $(STAMP) debian-packages $(OIDC_PROVIDER)
	$(BIN)/python -m pytest -m "not e2e and not slow" -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-dates: $(STAMP) debian-packages $(OIDC_PROVIDER)
	PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test-at-dates $(DATES)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy shared/src services/ingest/src services/scoring/src services/alerts/src services/portal/src src

check: lint types test

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.portal $(PORTAL_BENCH_ARGS)

# The portal's pages as PNGs in docs/images/, from `tempen up` and `tempen demo` in a temporary folder.
screenshots: $(STAMP) debian-packages
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .tempen .pytest_cache .mypy_cache .ruff_cache
