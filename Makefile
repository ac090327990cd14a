# Two commands for a newcomer: `make demo` (build the sample comic) and `make test`
# (`make test-all` adds the slow end-to-end checks).
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

# `make test`: the fast suite a developer runs often (a few minutes on two cores);
# `make test-all`: the whole suite, slow end-to-end checks included (what CI runs).
test: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: $(VENV)/.installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check comicc tests benchmarks

schema: $(VENV)/.installed
	$(VENV)/bin/comicc schema -o schemas/comic.schema.json

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_incremental.py $(SAMPLE)

clean:
	rm -rf $(VENV) out .pytest_cache
