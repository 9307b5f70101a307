# FitStream: `make demo` runs the whole pipeline, `make test` runs the suite.
# Both set up what they need first (the app venv, the Flink venv, and for tests Debian's
# clickhouse-server).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: flink-venv sdk-venv sdk setup demo test test-fast bench bench-peers lint clickhouse-server chromium s3-server clean feature-repo

setup: $(STAMP) feature-repo flink-venv

# Register the Feast repo (entity, views, push source, feature services) in the default
# registry (.state/feast); processes with other settings run `fitstream features apply`.
feature-repo: $(STAMP)
	@mkdir -p .state/feast
	cd feature_repo && ../$(BIN)/feast apply >/dev/null

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check pip==25.3
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# Debian's ClickHouse 18.16 for the server-backend tests; the tests start it themselves.
clickhouse-server:
	@command -v clickhouse-server >/dev/null 2>&1 || ( \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     clickhouse-server clickhouse-client docker-compose >/dev/null) \
	  || echo "clickhouse-server could not be installed: its tests will skip" )

# Debian's chromium and its chromedriver for the dashboard's browser test
# (tests/integration/test_dashboard.py), which fails, not skips, without them.
chromium:
	@(command -v chromium >/dev/null 2>&1 && test -x /usr/bin/chromedriver) || ( \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	     chromium chromium-driver >/dev/null) \
	  || echo "chromium could not be installed: the dashboard's browser test will fail" )

# A local S3 for the lakehouse jobs' tests (moto's server; MinIO's binary is not
# installable here), in its own venv: its botocore needs python-dateutil < 3.
S3_VENV := .venv-s3
s3-server: $(S3_VENV)/.installed

$(S3_VENV)/.installed: requirements-s3.lock
	@test -x $(S3_VENV)/bin/python || $(PYTHON) -m venv $(S3_VENV)
	$(S3_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-s3.lock
	@touch $@

# The Flink processor's venv (streams/flink): apache-flink pins numpy < 2.2, pyarrow < 17,
# pandas < 2.3, protobuf < 6 and cloudpickle 2.2, so it cannot share the app venv. Our
# package goes in without its deps: the job needs only the library (pinned in the lock).
FLINK_VENV := .venv-flink
flink-venv: $(FLINK_VENV)/.installed

$(FLINK_VENV)/.installed: requirements-flink.lock pyproject.toml
	@test -x $(FLINK_VENV)/bin/python || $(PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/pip install --quiet --disable-pip-version-check pip==25.3
	$(FLINK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-flink.lock
	$(FLINK_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# The client SDK (clients/python), generated from the API's OpenAPI document by
# openapi-python-client in a venv of its own: it pins typer < 0.28, the app has 0.29.
# `make sdk` rewrites clients/openapi.json and clients/python (commit both); the tests
# import the committed client from clients/python, not an installed copy.
SDK_VENV := .venv-sdk
sdk-venv: $(SDK_VENV)/.installed

$(SDK_VENV)/.installed: requirements-sdk.lock
	@test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install --quiet --disable-pip-version-check pip==25.3
	$(SDK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sdk.lock
	@touch $@

sdk: $(STAMP) sdk-venv
	$(BIN)/python clients/generate.py clients

demo: setup
	$(BIN)/fitstream demo  # DEMO_ONCE=1 exits after the summary

test: setup clickhouse-server chromium s3-server sdk-venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports  # the layer contracts in pyproject.toml
	$(BIN)/pytest -q --durations=25  # the slowest tests, to keep the suite within its budget

test-fast: setup
	$(BIN)/pytest -q -m "not e2e and not clickhouse_server"

bench: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,bench]'
	$(BIN)/python -m bench.run

# The race against the peers (issue 13, bench/peers): Quix Streams and Bytewax in a venv of
# their own (quixstreams pins confluent-kafka < 2.13 and pydantic < 2.14), our package
# without its deps; FitStream's engine and the harness run in the app venv.
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.installed: bench/peers/requirements.lock pyproject.toml
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check pip==25.3
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/peers/requirements.lock
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

bench-peers: $(STAMP) $(PEERS_VENV)/.installed
	$(BIN)/python -m bench.peers.run

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf .state .pytest_cache .ruff_cache .import_linter_cache
