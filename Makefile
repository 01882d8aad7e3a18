# The two commands: `make demo` and `make test`. Everything else is listed by `make help`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MOTO_PYTHON := $(CURDIR)/$(PY)

.PHONY: help test lint bench demo venv clean

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

venv: $(STAMP) ## install the test tools (moto, cfn-lint) into .venv

test: $(STAMP) ## run every test (unit, property, doc, integration against moto)
	cargo test --workspace --all-targets
	cargo test --workspace --doc

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: ## criterion benchmarks of the capacity math
	cargo bench -p capacity-core --bench capacity

demo: ## print a capacity report for an embedded example cluster
	cargo run --quiet -p capacity-core --example demo

clean: ## remove build output and the venv
	cargo clean
	rm -rf $(VENV)
