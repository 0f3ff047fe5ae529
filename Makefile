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

.PHONY: setup demo test lint format ingest clean help

help:
	@echo "make demo    set up, then run the pipeline on the embedded 2013 data"
	@echo "make test    set up, then run the whole test suite"
	@echo "make lint    ruff check and format check"

setup:
	@bash scripts/setup.sh

demo: setup
	$(SPARK_SUBMIT) ingest.py --config $(CONFIG) --flights

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf bronze silver-warehouse metastore_db checkpoints landing models reports var/log var/runs var/cache
