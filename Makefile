# Two commands for a newcomer: `make demo` (build the sample comic) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE ?= samples/lighthouse

.PHONY: demo test test-all lint schema bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The book, its report and its build cache all go to out/: the sample folder stays as committed.
demo: $(VENV)/.installed
	$(VENV)/bin/comicc build $(SAMPLE) -o out/$(notdir $(SAMPLE)).pdf --cache-dir out/.comicc/$(notdir $(SAMPLE))
	@echo "open out/$(notdir $(SAMPLE)).pdf (and out/$(notdir $(SAMPLE)).report.html)"

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check comicc tests benchmarks

schema: $(VENV)/.installed
	$(VENV)/bin/comicc schema -o schemas/comic.schema.json

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_incremental.py $(SAMPLE)

clean:
	rm -rf $(VENV) out .pytest_cache
