# Two commands set everything up on a fresh machine:
#   make demo   - create .venv, install, ingest the bundled demo corpus and search it
#   make test   - create .venv, install, run lint, type checks and the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install system-deps demo serve test gate lint typecheck bench api-docs eval-scifact eval-nfcorpus clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "ragline needs Python 3.11 ($(PY) not found); set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[export,dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

demo: install
	$(BIN)/python demo/run_demo.py

lint: install
	$(BIN)/ruff check src tests bench demo
	$(BIN)/mypy

api-docs: install
	$(BIN)/python -m ragline.server.apidoc > docs/api.md

serve: install
	$(BIN)/ragline serve

test: install system-deps lint gate
	$(BIN)/python -m pytest -q

# The quality gate on a 20-query SciFact slice with the default settings (bench/gate; ~30 s of
# CPU): fails when a metric falls more than its tolerance below bench/gate/baseline.json.
gate: install
	tmp=$$(mktemp -d) && env -u RAGLINE_CONFIG $(BIN)/ragline eval gate bench/gate/scifact-slice \
		--baseline bench/gate/baseline.json --data-dir $$tmp; rc=$$?; rm -rf $$tmp; exit $$rc

bench: install
	$(BIN)/python bench/latency.py

eval-scifact: install
	$(BIN)/ragline eval beir ../shared/datasets/scifact

eval-nfcorpus: install
	$(BIN)/ragline eval beir ../shared/datasets/nfcorpus

clean:
	rm -rf .ragline .pytest_cache .mypy_cache .ruff_cache
