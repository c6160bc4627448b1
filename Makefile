# zaphubd: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/sh
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVICES := $(BIN)/python scripts/localservices.py
PYTEST_ARGS ?=
# make test runs the test files on this many pytest-xdist workers, each with its own Postgres,
# Redis (and cluster, browser, object store when asked for); most tests wait on daemons and
# sockets, so two workers halve the time even on two cores. TEST_WORKERS=0 runs in-process.
TEST_WORKERS ?= 2

.PHONY: install run test test-cluster test-all demo cluster-demo simnet migrate check lint format typecheck bench services-stop clean

$(STAMP): pyproject.toml scripts/system-deps
	./scripts/system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## install: create .venv with zaphubd and its development tools
install: $(STAMP)

## run: start private Postgres/Redis under .run/ (unless configured), migrate, serve
run: $(STAMP)
	$(SERVICES) exec -- $(BIN)/zaphubd serve

## test: the whole test suite against real Postgres and Redis (started by the harness)
test: $(STAMP)
	$(BIN)/pytest -q -m "not slow" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## test-cluster: the queue, messaging, webhook and crash tests on a 3-master Redis Cluster
test-cluster: $(STAMP)
	ZAPHUB_TEST_REDIS=cluster $(BIN)/pytest -q -m "not slow" tests/queue tests/messaging \
		tests/webhooks tests/chaos/test_crash.py tests/chaos/test_crash_webhooks.py \
		tests/e2e/test_cluster_send.py $(PYTEST_ARGS)

## test-all: also the slow chaos tests
test-all: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

## demo: simnet + the daemon on the simulated network, a session paired and a message sent
demo: $(STAMP)
	$(SERVICES) exec -- $(BIN)/python scripts/demo.py

## cluster-demo: 3 nodes on a Redis Cluster share 30 sessions; one is SIGKILLed, the others take over
cluster-demo: $(STAMP)
	$(SERVICES) exec -- $(BIN)/python scripts/cluster_demo.py

## migrate: apply pending database migrations and exit
migrate: $(STAMP)
	$(SERVICES) exec -- $(BIN)/zaphubd migrate

## lint / format / typecheck: the checks a change must pass
lint: $(STAMP)
	$(BIN)/ruff check zaphubd tests scripts
	$(BIN)/ruff format --check zaphubd tests scripts
format: $(STAMP)
	$(BIN)/ruff format zaphubd tests scripts
	$(BIN)/ruff check --fix zaphubd tests scripts
typecheck: $(STAMP)
	$(BIN)/mypy

## bench: the benchmarks of tests/bench (figures, not pass/fail)
bench: $(STAMP)
	$(BIN)/python tests/bench/run_all.py

## services-stop: stop the private Postgres and Redis of `make run`
services-stop:
	$(PYTHON) scripts/localservices.py stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
