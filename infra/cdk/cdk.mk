# ---- infra/cdk: the CDK construct EcsCapacity (docs/cdk.md). Included by the Makefile; `make
# test` runs cdk-test, `make infra-check` runs cdk-synth. Each installs what it needs: npm ci
# from the committed lock file once (stamp in node_modules), tsc only when a source changed.
CDK_DIR := infra/cdk
CDK_NPM_STAMP := $(CDK_DIR)/node_modules/.installed
CDK_BUILD_STAMP := $(CDK_DIR)/dist/.built
CDK_SOURCES := $(shell find $(CDK_DIR)/lib $(CDK_DIR)/test $(CDK_DIR)/example -name '*.ts') $(CDK_DIR)/tsconfig.json
# synth needs the three zips, not their content: placeholders stand in for `make package`.
CDK_PLACEHOLDER_ZIPS := .tmp/cdk-placeholder-lambda
CDK_OUT := .tmp/cdk.out

# cdk-test and cdk-synth are .PHONY in the Makefile, where tests/contract/tests/docs.rs looks.

$(CDK_NPM_STAMP): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	cd $(CDK_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CDK_BUILD_STAMP): $(CDK_NPM_STAMP) $(CDK_SOURCES)
	cd $(CDK_DIR) && rm -rf dist && npx tsc -p .
	touch $@

cdk-test: $(STAMP) $(CDK_BUILD_STAMP) ## the CDK construct's tests: parity with infra/template.yaml (SAM-transformed), unit tests, cdk-nag
	cd $(CDK_DIR) && ECS_CAPACITY_PYTHON=$(CURDIR)/$(PY) node --test --test-reporter=spec dist/test/*.test.js

$(CDK_PLACEHOLDER_ZIPS)/.made:
	for fn in $(LAMBDAS); do mkdir -p $(@D)/$$fn && echo "placeholder for $$fn (make package builds the real one)" > $(@D)/$$fn/bootstrap.zip; done
	touch $@

cdk-synth: $(STAMP) $(CDK_BUILD_STAMP) $(CDK_PLACEHOLDER_ZIPS)/.made ## cdk synth of infra/cdk/example in both scaling modes with cdk-nag AwsSolutions, then cfn-lint on each template
	cd $(CDK_DIR) && CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --quiet --no-notices --no-version-reporting \
	  -o $(CURDIR)/$(CDK_OUT) -c lambdaPackageDir=$(CURDIR)/$(CDK_PLACEHOLDER_ZIPS) -c nag=true
	cd $(CDK_DIR) && CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --quiet --no-notices --no-version-reporting \
	  -o $(CURDIR)/$(CDK_OUT)-capacity-provider -c lambdaPackageDir=$(CURDIR)/$(CDK_PLACEHOLDER_ZIPS) -c nag=true -c scalingMode=capacity-provider
	@# W3005: CDK's lambda.Function adds DependsOn on its role, which the Role GetAtt implies anyway.
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- $(CDK_OUT)/ecs-capacity.template.json $(CDK_OUT)-capacity-provider/ecs-capacity.template.json
	@echo "cdk-synth: example app synthesized in both scaling modes (cdk-nag AwsSolutions clean), cfn-lint clean"
