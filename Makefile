# Vigil: `make run` starts the product on SQLite; `make test` proves it on SQLite and PostgreSQL.

SHELL := /bin/bash
CARGO ?= cargo
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL
# Where cargo puts binaries (CARGO_TARGET_DIR when set); the tests that run the real binary take it from here.
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
# The web app's packages, installed again only when web/package-lock.json changes.
WEB_INSTALLED := web/node_modules/.installed

.PHONY: run demo test lint deny compose-check unit fuzz-check fuzz tools web web-test chromium openapi openapi-check \
	migrate build postgres-check system-deps clean help bench bench-smoke bench-deps

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: system-deps web ## Build the web app, seed the demo company (once) and start Vigil on SQLite at http://127.0.0.1:8080
	$(CARGO) run --release --bin vigil -- demo
	$(CARGO) run --release --bin vigil -- serve

demo: system-deps ## Seed the demo company into DATABASE_URL (default data/vigil.db) and print its sign-in
	$(CARGO) run --release --bin vigil -- demo

build: system-deps ## Build the release binary (target/release/vigil)
	$(CARGO) build --release --bin vigil

test: system-deps tools postgres-check lint deny compose-check unit fuzz-check web-test bench-smoke ## Everything CI runs: format, lints, licenses, all tests on both databases, a fuzz pass, the web app's checks and browser tests, and the benchmark's smoke run

lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

unit: ## All Rust tests (unit and integration, SQLite and PostgreSQL)
	$(CARGO) test --locked --all-targets -- --test-threads=4

# Schemathesis against the real binary on a fresh SQLite database (tools/fuzz/fuzz.py): a bounded pass with a
# fixed seed in `make test`, many more examples in `make fuzz`. FUZZ_SEED=n reproduces another run.
FUZZ_SEED ?= 1
fuzz-check: tools ## Fuzz every operation from the OpenAPI document (bounded, fixed seed)
	$(CARGO) build --locked --bin vigil
	$(VENV)/bin/python tools/fuzz/fuzz.py --binary $(TARGET_DIR)/debug/vigil --examples 15 --seed $(FUZZ_SEED)

fuzz: tools ## A long Schemathesis run (300 examples per operation)
	$(CARGO) build --locked --bin vigil
	$(VENV)/bin/python tools/fuzz/fuzz.py --binary $(TARGET_DIR)/debug/vigil --examples 300 --seed $(FUZZ_SEED)

# cargo-deny's offline checks against deny.toml. Installed once when missing (it takes a few minutes to
# compile on 2 cores); the version is pinned so every machine judges alike.
CARGO_DENY_VERSION := 0.20.2
deny: ## Licenses, banned crates and sources of every dependency (cargo-deny, deny.toml)
	@command -v cargo-deny >/dev/null || $(CARGO) install --locked cargo-deny@$(CARGO_DENY_VERSION)
	$(CARGO) deny check licenses bans sources

compose-check: ## docker-compose.yml is a valid Compose file (no engine needed)
	@if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	else command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }; \
	docker-compose -f docker-compose.yml config -q; fi
	@echo "docker-compose.yml: valid"

VENV := tools/.venv
tools: $(VENV)/.installed ## Python test tools (localstripe, schemathesis) in tools/.venv

$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

openapi: $(WEB_INSTALLED) ## Regenerate openapi/openapi.json from the code, and the web app's typed client from it
	$(CARGO) run --quiet --bin vigil -- openapi --output openapi/openapi.json
	cd web && npm run --silent gen

openapi-check: ## Fail when openapi/openapi.json is stale
	$(CARGO) run --quiet --bin vigil -- openapi --check openapi/openapi.json

$(WEB_INSTALLED): web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web: $(WEB_INSTALLED) ## Install the web app's packages when needed and build it into web/dist (the API serves it)
	cd web && npm run build

web-test: system-deps tools chromium web ## The web app: ESLint, Prettier, typecheck, client freshness, Vitest, and the browser tests
	cd web && npm run lint && npm run typecheck && npm run gen:check && npm test
	$(CARGO) build --bin vigil
	cd web && VIGIL_BIN=$(TARGET_DIR)/debug/vigil npm run e2e

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work offline).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium (needed by the browser tests)…"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; \
	fi

migrate: ## Apply pending migrations to DATABASE_URL (default sqlite://data/vigil.db)
	$(CARGO) run --quiet --bin vigil -- migrate

# libpq and SQLite headers for diesel; installed from Debian's packages when missing.
system-deps:
	@if ! pkg-config --exists libpq sqlite3 2>/dev/null; then \
		echo "Installing libpq-dev and libsqlite3-dev (needed to build diesel)…"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libpq-dev libsqlite3-dev pkg-config; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq libpq-dev libsqlite3-dev pkg-config; fi; \
	fi

postgres-check:
	@if [ "$$VIGIL_SKIP_POSTGRES" = 1 ]; then \
		echo "!!!!! VIGIL_SKIP_POSTGRES=1: the PostgreSQL half of the tests will be SKIPPED (CI never does this) !!!!!"; \
	elif ! pg_isready -q -d "$(TEST_DATABASE_URL)" 2>/dev/null && ! psql "$(TEST_DATABASE_URL)" -qAtc 'select 1' >/dev/null 2>&1; then \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL)."; \
		echo "Start it: 'docker compose up -d postgres', or on a Debian machine"; \
		echo "  'pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start';"; \
		echo "or point TEST_DATABASE_URL at a server where you may create databases;"; \
		echo "or, on a laptop only, set VIGIL_SKIP_POSTGRES=1 to skip the PostgreSQL half."; \
		exit 1; \
	fi


bench: system-deps bench-deps postgres-check ## Load-test the hot paths on PostgreSQL and SQLite; writes bench/results/latest.json and BENCHMARKS.md
	$(CARGO) build --release --locked --bin vigil
	python3 tools/bench.py --binary $(TARGET_DIR)/release/vigil

# A few seconds with tiny data through every scenario (and its pgbench twin), failing on any error, so that
# `make test` notices when the benchmark rots. The debug binary is the one `make unit` built already.
bench-smoke: system-deps bench-deps postgres-check ## Every benchmark scenario once, briefly (part of `make test`)
	$(CARGO) build --locked --bin vigil
	python3 tools/bench.py --smoke --binary $(TARGET_DIR)/debug/vigil

# wrk drives the HTTP load, pgbench the database's own, psql loads the data; from Debian's packages when
# missing. Debian 12 ships pgbench in the server package (`postgresql`), later releases in the client.
bench-deps:
	@missing=""; command -v wrk >/dev/null || missing="wrk"; \
	psql --version >/dev/null 2>&1 || missing="$$missing postgresql-client"; \
	pgbench --version >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "Installing $$missing (the benchmark's load generators)…"; \
		if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi; \
		$$sudo apt-get update -qq && $$sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq $$missing; \
	fi

clean: ## Remove build output, the test tools, the web app's packages and the local SQLite database
	$(CARGO) clean
	rm -rf data $(VENV) web/node_modules web/dist web/e2e/artifacts
