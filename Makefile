# The two commands of a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := posts/massage-for-the-mental-health-of-it.txt

.PHONY: setup tools browser spamassassin demo test lint golden screenshots bench clean

$(BIN)/newsletter: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/newsletter

demo: setup
	$(BIN)/newsletter split $(SAMPLE)
	$(BIN)/newsletter build $(SAMPLE) -o build

lint: setup
	$(BIN)/ruff check newsletter tests bench
	$(BIN)/ruff format --check newsletter tests bench
	$(BIN)/mypy

# Debian's packages the tests use: Chromium for the browser tests (Playwright drives it; nothing
# is downloaded), SpamAssassin for the spam score of every built message, and PostgreSQL for the
# outbox tests (a policy-rc.d keeps Debian from starting its service: tests/pg.py runs a throwaway
# cluster of its own).
# One apt-get update, and only for what is missing.
tools:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium chromium-driver fonts-dejavu-core"; \
	command -v spamassassin >/dev/null 2>&1 || missing="$$missing spamassassin"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's$$missing for the tests"; \
	  policy=/usr/sbin/policy-rc.d; made=""; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' >$$policy; chmod +x $$policy; made=1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  status=$$?; if [ -n "$$made" ]; then rm -f $$policy; fi; [ $$status = 0 ]; \
	else echo "note: no$$missing here; the tests that need them will be skipped" \
	  "(sudo apt-get install$$missing)"; fi

browser spamassassin: tools

test: lint tools
	$(BIN)/pytest

golden: setup
	NEWSLETTER_UPDATE_GOLDEN=1 $(BIN)/pytest tests -k golden

screenshots: setup
	$(BIN)/python bench/screenshots.py $(SAMPLE) --issue 1 --out docs

clean:
	rm -rf build .pytest_cache .mypy_cache
