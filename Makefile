# Everything a fresh machine with Python 3.11+, pip and make needs.
# uv is bootstrapped into .tools/ and installs the locked dependencies into .venv/.

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
# pytest-xdist workers: one per CPU; TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= logical

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install bytecode run test lint fmt typecheck bench clean

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

test: install ## The whole test suite
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

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
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
