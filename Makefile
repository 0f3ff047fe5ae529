# projet_spark — make demo (set-up, then the pipeline on the embedded data) and make test.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
CONFIG ?= $(ROOT)/conf/pipeline.yaml
# Driver and executors run the project's Python, whatever the current directory.
export PYSPARK_PYTHON := $(PY)
export PYSPARK_DRIVER_PYTHON := $(PY)
SPARK_SUBMIT := $(VENV)/bin/spark-submit

.PHONY: setup demo test lint format clean help mariadb-start mariadb-stop mariadb-status cluster-demo cluster-start cluster-stop bench dist

help:
	@echo "make demo    set up, then run the pipeline on the embedded 2013 data"
	@echo "make test    set up, then run the whole test suite"
	@echo "make lint    ruff check and format check"
	@echo "make cluster-demo  the pipeline on a local Spark standalone cluster"
	@echo "make bench   stage timings (SIZES=1000000,10000000 adds synthetic BTS runs)"

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) scripts/pipeline.py --config $(CONFIG)

# The shared package as one zip, shipped to cluster executors with --py-files.
dist: dist/flightpipe.zip
dist/flightpipe.zip: $(wildcard flightpipe/*.py flightpipe/*/*.py flightpipe/*/*/*.py)
	@mkdir -p dist
	@rm -f $@
	cd $(ROOT) && $(PY) -c "import zipfile, glob; z = zipfile.ZipFile('$@', 'w'); [z.write(f) for f in sorted(glob.glob('flightpipe/**/*.py', recursive=True))]; z.close()"

mariadb-start: setup
	bash scripts/mariadb.sh start --config $(CONFIG)

mariadb-stop:
	bash scripts/mariadb.sh stop --config $(CONFIG)

mariadb-status:
	bash scripts/mariadb.sh status --config $(CONFIG)

cluster-start: setup
	bash scripts/cluster.sh start

cluster-stop:
	bash scripts/cluster.sh stop

# The five stages on a local standalone cluster (one master, one worker), then stop it.
cluster-demo: setup dist
	bash scripts/cluster.sh start
	$(PY) scripts/pipeline.py --config $(CONFIG) --master spark://127.0.0.1:$${SPARK_MASTER_PORT:-7077} \
		--py-files $(ROOT)/dist/flightpipe.zip; code=$$?; bash scripts/cluster.sh stop; exit $$code

# Two pytest-xdist workers, whole files each, longest files first (tests/conftest.py): most
# tests wait on spark-submit JVMs and MariaDB, so two workers beat one process on two cores
# (14.0 min against 16.8). TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Stage timings on the embedded year; SIZES=1000000,10000000 adds synthetic BTS runs.
bench: setup
	$(PY) scripts/bench.py --config $(CONFIG) $(if $(SIZES),--sizes $(SIZES))

clean:
	rm -rf dist bronze silver-warehouse metastore_db checkpoints landing models reports var/log var/runs var/cache
