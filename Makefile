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

demo: $(VENV)/.installed
	$(VENV)/bin/comicc build $(SAMPLE) -o out/lighthouse.pdf
	@echo "open out/lighthouse.pdf (and out/lighthouse.report.html)"

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
