# The two commands a fresh machine gets: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench matrix system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e ".[all]" --group dev
	@touch $(STAMP)

# redis-server backs the Redis store tests; CI runs as root on Debian, so apt-get it where missing.
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server (needed by the Redis store tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: install it (apt-get install redis-server), or the Redis tests will skip"; fi; }

demo: $(STAMP)
	$(BIN)/sockwise demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# As root (CI), the network-namespace scenarios must run, not skip.
pytest: $(STAMP) system-deps
	SOCKWISE_REQUIRE_NETNS=$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 ) $(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q --group bench
	$(BIN)/python -m bench

# Regenerate docs/matrix.md from real runs (as root, for the namespace rows).
matrix: $(STAMP)
	$(BIN)/python -m tests.matrix

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
