# Vigil: `make run` starts the product on SQLite; `make test` proves it on SQLite and PostgreSQL.

SHELL := /bin/bash
CARGO ?= cargo
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL

.PHONY: run test lint deny compose-check unit fuzz-check fuzz tools openapi openapi-check migrate build postgres-check system-deps clean help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: system-deps ## Build and start Vigil on SQLite (data/vigil.db) at http://127.0.0.1:8080
	$(CARGO) run --release --bin vigil -- serve

build: system-deps ## Build the release binary (target/release/vigil)
	$(CARGO) build --release --bin vigil

test: system-deps tools postgres-check lint deny compose-check unit fuzz-check ## Everything CI runs: format, lints, licenses, all tests on both databases, a fuzz pass

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
	$(VENV)/bin/python tools/fuzz/fuzz.py --binary target/debug/vigil --examples 15 --seed $(FUZZ_SEED)

fuzz: tools ## A long Schemathesis run (300 examples per operation)
	$(CARGO) build --locked --bin vigil
	$(VENV)/bin/python tools/fuzz/fuzz.py --binary target/debug/vigil --examples 300 --seed $(FUZZ_SEED)

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

openapi: ## Regenerate openapi/openapi.json from the code
	$(CARGO) run --quiet --bin vigil -- openapi --output openapi/openapi.json

openapi-check: ## Fail when openapi/openapi.json is stale
	$(CARGO) run --quiet --bin vigil -- openapi --check openapi/openapi.json

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

clean: ## Remove build output, the test tools and the local SQLite database
	$(CARGO) clean
	rm -rf data $(VENV)
