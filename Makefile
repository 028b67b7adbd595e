# The project's commands. `make test` and `make demo` set everything up themselves.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Test files run side by side, each whole on one worker (its module fixtures start once; session
# fixtures once per worker): most of the suite's time is waiting for SLO windows and site syncs,
# not CPU. TEST_WORKERS=0 runs them one after another.
TEST_WORKERS ?= 2

.PHONY: install lint test demo down bench clean env

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check wheel==0.48.0
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

demo: install
	$(PY) -m include.demo $(if $(KEEP),--keep,) $(if $(EXECUTOR),--executor $(EXECUTOR),)

down: install
	$(PY) -m include.demo --down

# .env for docker-compose.yaml, with fresh random secrets; never overwrites an existing .env.
env: install
	$(PY) deploy/make_env.py

bench: install
	$(PY) bench/compile.py --update
	$(PY) bench/pipeline.py --update
	$(PY) bench/rollback.py --update
	$(PY) bench/scale.py --update
	$(PY) bench/rollout.py --update
	$(PY) bench/intake.py --update
	$(PY) bench/faults.py --update
	$(PY) bench/load.py --update
	$(PY) bench/load.py --executor celery --update

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache
