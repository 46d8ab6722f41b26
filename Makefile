# The two commands a fresh machine gets: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest pytest-oldest bench matrix system-deps clean

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

# The oldest Python we support (3.10) takes other code paths (asyncio.wait_for for per-try timeouts, no
# ExceptionGroup): the integrations and cores run there too, where that Python is installed.
OLDEST       := 3.10
OLDEST_VENV  := .venv-py310
OLDEST_STAMP := $(OLDEST_VENV)/.installed
OLDEST_PY    := $(shell for p in python$(OLDEST) $$HOME/.pyenv/versions/$(OLDEST).*/bin/python$(OLDEST); do \
                  "$$p" -c 'import sys' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

$(OLDEST_STAMP): pyproject.toml
	@test -x $(OLDEST_VENV)/bin/python || $(OLDEST_PY) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --upgrade "pip>=25.1"
	$(OLDEST_VENV)/bin/python -m pip install -q -e ".[all]" --group dev
	@touch $(OLDEST_STAMP)

ifeq ($(OLDEST_PY),)
pytest-oldest:
	@echo "python$(OLDEST) not found: the Python $(OLDEST) leg is skipped"
else
pytest-oldest: $(OLDEST_STAMP) system-deps
	$(OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/integrations tests/aiohttp tests/httpx \
	  tests/requests tests/runner tests/retry tests/classify tests/test_public_api.py
endif

test: lint typecheck pytest pytest-oldest

bench: $(STAMP)
	$(BIN)/python -m pip install -q --group bench
	$(BIN)/python -m bench

# Regenerate docs/matrix.md from real runs (as root, for the namespace rows).
matrix: $(STAMP)
	$(BIN)/python -m tests.matrix

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
