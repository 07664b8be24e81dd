# The two commands of a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := posts/massage-for-the-mental-health-of-it.txt

.PHONY: setup demo test lint golden screenshots bench clean

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

test: lint
	$(BIN)/pytest

golden: setup
	NEWSLETTER_UPDATE_GOLDEN=1 $(BIN)/pytest tests -k golden

screenshots: setup
	$(BIN)/python bench/screenshots.py $(SAMPLE) --issue 3 --out docs

clean:
	rm -rf build .pytest_cache .mypy_cache
