# altbot — two commands: `make demo` and `make test`. See README.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint bench run clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/altbot demo

run: $(STAMP)
	$(BIN)/altbot run

# Fast suite; the slow reliability tests are marked `slow` and CI runs them too (test-slow).
test: $(STAMP)
	@. scripts/ensure_redis.sh && $(BIN)/pytest -q -m "not slow"

test-slow: $(STAMP)
	@. scripts/ensure_redis.sh && $(BIN)/pytest -q -m slow; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check bot handlers alerts tests bench fakes
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	@. scripts/ensure_redis.sh && $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
