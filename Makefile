# The two commands: `make demo` and `make test`. Everything else is listed by `make help`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MOTO_PYTHON := $(CURDIR)/$(PY)

.PHONY: help test lint fmt-check bench demo venv clean

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

venv: $(STAMP) ## install the test tools (moto, cfn-lint) into .venv

# The tests are built with clippy as the compiler of our own crates (RUSTC_WORKSPACE_WRAPPER and
# CLIPPY_ARGS, which is how `cargo clippy` runs it), warnings as errors: the lint and the test
# build are one compilation, so the dependencies are compiled once, not once checked for clippy
# and once built for the tests. Dependencies are compiled by plain rustc either way.
CLIPPY_DRIVER := $(shell command -v clippy-driver 2>/dev/null)
LINTED := RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

test: $(STAMP) infra-check cdk-test ## run every test (unit, property, doc, integration against moto), linted by clippy as it builds
	@test -n "$(CLIPPY_DRIVER)" || { echo "make test lints as it builds: clippy-driver not found (rustup component add clippy)" >&2; exit 2; }
	$(LINTED) cargo test --workspace --all-targets
	$(LINTED) cargo test --workspace --doc

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt-check: ## cargo fmt --check (CI: clippy runs inside make test's build)
	cargo fmt --all -- --check

bench: $(STAMP) ## criterion benchmark of the math; cold/warm start and RSS of the calculator and the scale-in chooser as Lambda runs them
	cargo bench -p capacity-core --bench capacity
	cargo build --release -p capacity-calculator -p scale-in-chooser
	$(PY) tests/bench_lambda.py target/release/capacity-calculator --runs 20 --instances 100
	$(PY) tests/bench_lambda.py target/release/scale-in-chooser --runs 20 --instances 100

.PHONY: fuzz
FUZZ_CASES ?= 200000
MODEL_CASES ?= 100000
# The same packages for both runs, so the second reuses the first's build.
FUZZ_CRATES := -p capacity-calculator -p lifecycle-drainer -p ecs-capacity
fuzz: ## long run of the input fuzzing (promise 4) and the drain model (promises 1, 2), in release: [FUZZ_CASES=200000] [MODEL_CASES=100000]
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release $(FUZZ_CRATES) --test fuzz
	PROPTEST_CASES=$(MODEL_CASES) cargo test --release $(FUZZ_CRATES) --test model

demo: ## simulate a production-shaped day (three zones, a daemon, jobs): capacity provider + consolidation beside managed scaling alone, hosts-to-add and the book, chart in out/demo.svg
	cargo run --quiet -p ecs-capacity -- simulate production --compare --with-consolidation --chart out/demo.svg

clean: ## remove build output and the venv
	cargo clean
	rm -rf $(VENV)

# ---- infra/: template checks, Lambda packages, deployment (see README "Deploying")
TOOLS := .tools
CFN_GUARD := $(TOOLS)/bin/cfn-guard
LAMBDA_TOOLS := $(VENV)/.lambda-tools
SAM := $(TOOLS)/sam/bin/sam
LAMBDAS := capacity-calculator lifecycle-drainer scale-in-chooser
STACK ?= ecs-capacity
TEMPLATES := infra/template.yaml infra/example-stack.yaml

.PHONY: infra-check package deploy deploy-example

$(CFN_GUARD): infra/install-cfn-guard.sh
	infra/install-cfn-guard.sh $(TOOLS)

infra-check: $(STAMP) $(CFN_GUARD) cdk-synth ## cfn-lint and the cfn-guard rules on the infra/ templates, cdk synth of the CDK example (part of make test)
	$(VENV)/bin/cfn-lint $(TEMPLATES)
	$(CFN_GUARD) validate --rules infra/rules $(addprefix --data ,$(TEMPLATES)) --show-summary fail
	for rules in infra/rules/*.guard; do \
	  tests=infra/rules/tests/$$(basename $$rules .guard)_tests.yaml; \
	  out=$$($(CFN_GUARD) test --rules-file $$rules --test-data $$tests 2>&1) || { echo "$$out"; exit 1; }; \
	done
	@echo "infra-check: cfn-lint clean, cfn-guard rules pass on the templates and on their own tests"

$(LAMBDA_TOOLS): $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2 ziglang==0.17.1
	touch $@

package: $(LAMBDA_TOOLS) ## build the three functions for arm64 into target/lambda/<name>/bootstrap.zip
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip $(addprefix --bin ,$(LAMBDAS))
	@ls -l $(foreach l,$(LAMBDAS),target/lambda/$(l)/bootstrap.zip)

$(SAM):
	python3 -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0

deploy: ## sam deploy (AWS account needed): CLUSTER=name ASG=name [STACK=] [REGION=] [PARAMS='Key=Value ...']
	@test -n "$(CLUSTER)" && test -n "$(ASG)" || { echo "usage: make deploy CLUSTER=<ECS cluster name> ASG=<Auto Scaling group name> [STACK=ecs-capacity] [REGION=eu-west-1] [PARAMS='ScaleOutHeadroom=2 ...']" >&2; exit 2; }
	$(MAKE) --no-print-directory package $(SAM)
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --template-file infra/template.yaml --stack-name $(STACK) $(if $(REGION),--region $(REGION)) \
	  --resolve-s3 --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
	  --parameter-overrides ClusterName=$(CLUSTER) AutoScalingGroupName=$(ASG) $(PARAMS)

deploy-example: ## new cluster, hosts, example service and this loop: VPC=vpc-.. SUBNETS=subnet-a,subnet-b [STACK=] [REGION=] [PARAMS=]
	@test -n "$(VPC)" && test -n "$(SUBNETS)" || { echo "usage: make deploy-example VPC=<vpc id> SUBNETS=<subnet id>,<subnet id> [STACK=ecs-capacity-example] [REGION=eu-west-1] [PARAMS='InstanceType=t4g.small ...']" >&2; exit 2; }
	$(MAKE) --no-print-directory package $(SAM)
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --template-file infra/example-stack.yaml \
	  --stack-name $(if $(filter command line,$(origin STACK)),$(STACK),ecs-capacity-example) $(if $(REGION),--region $(REGION)) \
	  --resolve-s3 --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	  --parameter-overrides VpcId=$(VPC) SubnetIds=$(SUBNETS) $(PARAMS)

# The CDK construct's targets (infra/cdk/cdk.mk); named here so that the docs' contract test sees them.
.PHONY: cdk-test cdk-synth
include infra/cdk/cdk.mk
