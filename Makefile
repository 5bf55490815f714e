# Everything a fresh machine with Python 3.11+, pip and make needs.
# uv is bootstrapped into .tools/ and installs the locked dependencies into .venv/.

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
NPM ?= npm
# pytest-xdist workers: one per CPU; TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= logical

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install bytecode run test test-web lint fmt typecheck bench web web-check clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Bytecode is compiled at install time, so no start pays for compiling (and with
# PYTHONDONTWRITEBYTECODE set, Python would otherwise recompile at every start).
$(VENV)/.installed: $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

# The project is installed editable: its own sources (and the migration scripts Alembic
# loads) are compiled here; compileall skips what is up to date, so this is cheap.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q src migrations

install: bytecode ## Install the locked dependencies into .venv

run: install ## Migrate the embedded SQLite database and serve on http://127.0.0.1:8000
	$(BIN)/prodlens serve

test: install ## The whole test suite (the dashboard's own tests too when Node.js is here)
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
	@if command -v $(NPM) >/dev/null 2>&1; then $(MAKE) --no-print-directory test-web; \
	elif [ -n "$$CI" ]; then echo "make test: CI needs Node.js for the dashboard's tests"; exit 1; \
	else echo "make test: Node.js not found, the dashboard's own tests (vitest) were not run"; fi

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund

test-web: web/node_modules/.package-lock.json ## The dashboard's unit tests (vitest) and type check
	cd web && $(NPM) run --silent typecheck && $(NPM) run --silent test

# The dashboard (needs Node.js; `make run` and `make test` do not): the API client from
# the OpenAPI document, then the assets into src/prodlens/web/dist/, which is committed.
web: install web/node_modules/.package-lock.json ## Rebuild the dashboard and its API client
	$(BIN)/prodlens openapi --output web/src/api/openapi.json
	cd web && $(NPM) run --silent gen:api && $(NPM) run --silent build

# CI: a build that differs from the committed one means the sources changed without it.
web-check: web
	@stale="$$(git status --porcelain --untracked-files=all -- web/src/api src/prodlens/web/dist)"; \
	if [ -n "$$stale" ]; then echo "$$stale"; \
		echo "web-check: the committed dashboard build is stale: run make web and commit"; exit 1; fi

lint: typecheck ## ruff (lint + format check), mypy and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install ## mypy (strict) over src/ and tests/
	$(BIN)/mypy

fmt: install ## Format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## Benchmarks at a small size (BENCH_FULL=1 for the large sizes)
	@for script in bench/bench_*.py; do \
		[ -e "$$script" ] || { echo "no benchmarks yet"; break; }; \
		$(BIN)/python "$$script" || exit 1; \
	done

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache web/node_modules
