# IAM service role guardrail — build, test, demo and deploy.
#
# Every tool a target needs is installed here at a pinned version, into .tools/
# (ignored by git and by `go ./...`), so a fresh Linux machine with Go and
# Node.js needs nothing else.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO     ?= go
TOOLS  := $(CURDIR)/.tools
GOBIN  := $(TOOLS)/bin
export PATH := $(GOBIN):$(PATH)

# The Runtime Interface Emulator for local runs of the bootstraps (make test,
# make demo). The tests find it through GUARDRAIL_RIE (or aws-lambda-rie on
# $PATH): without it they fail with a message naming it, and are left out
# only under `go test -short`.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE         := $(GOBIN)/aws-lambda-rie
export GUARDRAIL_RIE := $(RIE)

# staticcheck, pinned, run by `make test` after go vet.
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := $(GOBIN)/staticcheck

# The independent IAM policy evaluator of the attacker-request table
# (infra/stack/simulate_test.go): @cloud-copilot/iam-simulate from npm, at
# the version pinned in infra/stack/testdata/iamsim/package.json and its
# lock file (with registry URLs, so `npm ci` also works from the cache),
# installed into .tools/ where `go ./...` does not look. The test finds it
# through GUARDRAIL_IAMSIM: it fails without the variable (left out only
# under `go test -short`) and if the pinned version is not there.
IAMSIM_SRC := infra/stack/testdata/iamsim
IAMSIM_DIR := $(TOOLS)/iamsim
IAMSIM     := $(IAMSIM_DIR)/node_modules/@cloud-copilot/iam-simulate/package.json
export GUARDRAIL_IAMSIM := $(IAMSIM_DIR)/node_modules

# Quiet, offline-friendly CDK and jsii (see ../shared/reference/toolchain.md).
export CDK_DISABLE_CLI_TELEMETRY := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# ---- tests --------------------------------------------------------------

# The end-to-end tests run the real bootstraps under the Runtime Interface
# Emulator, which `make test` installs; the IAM stand-in is also run under the
# race detector, since every other test leans on it.
.PHONY: test
test: $(RIE) $(STATICCHECK) $(IAMSIM) ## run every test (unit, property, fuzz seeds, end-to-end, CDK assertions)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test ./...
	$(GO) test -race -short ./pkg/iamtest/... ./pkg/guardrail/...

.PHONY: tools
tools: ## install every pinned tool (emulator, staticcheck, IAM policy evaluator, CDK CLI) into .tools/

# The tests read the corpus of real CloudTrail records and trust policies
# from the repository's copy in testdata/corpus, so any clone tests the same;
# this refreshes it from the workspace's shared corpus (a test fails when the
# two differ).
.PHONY: corpus
corpus: ## refresh testdata/corpus from ../shared/corpus
	rm -rf testdata/corpus && mkdir -p testdata && cp -r ../shared/corpus testdata/corpus && chmod -R u+w testdata/corpus

# ---- build --------------------------------------------------------------

# The Lambda packages: dist/<function>.zip holding a linux/arm64 `bootstrap`
# for the provided.al2023 runtime. Reproducible: no VCS stamp, no build ID,
# no local paths, and a zip with fixed times, order and permissions, so the
# same commit gives the same bytes (`make build-check` proves it).
LAMBDAS        := enforcer sweeper
LAMBDA_ARCH    ?= arm64
ifeq ($(origin VERSION),undefined)
VERSION        := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
endif
BOOTSTRAP_ENV   = CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH)
BOOTSTRAP_FLAGS = -trimpath -buildvcs=false -tags lambda.norpc \
                  -ldflags='-s -w -buildid= -X main.version=$(VERSION)'

.PHONY: build
build: $(LAMBDAS:%=dist/%.zip) ## build dist/enforcer.zip and dist/sweeper.zip (linux/arm64, reproducible)

# Always delegate to `go build`: its cache knows the real dependencies.
.PHONY: $(LAMBDAS:%=dist/%.zip)
$(LAMBDAS:%=dist/%.zip): dist/%.zip:
	@mkdir -p dist/$*
	$(BOOTSTRAP_ENV) $(GO) build $(BOOTSTRAP_FLAGS) -o dist/$*/bootstrap ./lambdas/$*
	$(GO) run ./lambdas/internal/mkzip -o $@ dist/$*/bootstrap
	@printf '%s  %s bytes (bootstrap %s bytes)\n' $@ $$(wc -c <$@) $$(wc -c <dist/$*/bootstrap)

.PHONY: build-check
build-check: build ## rebuild from scratch and verify the zips are byte-identical
	@sha256sum $(LAMBDAS:%=dist/%.zip) >dist/SHA256SUMS.first
	@GOFLAGS=-a $(MAKE) --no-print-directory build VERSION=$(VERSION) >/dev/null
	@sha256sum -c dist/SHA256SUMS.first && echo "build is reproducible"

tools: $(RIE) $(STATICCHECK) $(IAMSIM)
$(STATICCHECK):
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(RIE):
	GOBIN=$(GOBIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
$(IAMSIM): $(IAMSIM_SRC)/package.json $(IAMSIM_SRC)/package-lock.json
	rm -rf $(IAMSIM_DIR) && mkdir -p $(IAMSIM_DIR)
	cp $(IAMSIM_SRC)/package.json $(IAMSIM_SRC)/package-lock.json $(IAMSIM_DIR)/
	npm ci --prefix $(IAMSIM_DIR) --prefer-offline --no-audit --no-fund
	@touch $@

# ---- chaos --------------------------------------------------------------

# The whole product under the conditions it meets in production at once
# (issue 14): the enforcer bootstrap under several emulator processes, a
# seeded burst of role changes delivered late, duplicated and out of order,
# against the IAM stand-in with 30 % throttling, 5 % 5xx, 20 ms latency and
# stale reads; then one sweeper run. A benchmark, not part of `make test`
# (which runs a short version). SEED=n picks the scenario.
SEED ?= 1
CHAOS_ARGS ?=

.PHONY: chaos
chaos: $(RIE) ## run the chaos and load scenario locally (SEED=n, CHAOS_ARGS=...), report in .chaos/
	@mkdir -p .chaos/bin/enforcer .chaos/bin/sweeper
	@for fn in $(LAMBDAS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(DEMO_ARCH) $(GO) build $(BOOTSTRAP_FLAGS) -o .chaos/bin/$$fn/bootstrap ./lambdas/$$fn; \
	done
	$(GO) run ./cmd/guardrail chaos --rie $(RIE) --enforcer .chaos/bin/enforcer/bootstrap --sweeper .chaos/bin/sweeper/bootstrap \
	  --out .chaos --seed $(SEED) $(CHAOS_ARGS)

# ---- cdk ----------------------------------------------------------------

# The CDK CLI at a pinned version, from npm, under .tools/ where `go ./...`
# does not look (the package ships Go template files that break go vet).
# Telemetry and notices are off (CDK_DISABLE_CLI_TELEMETRY above, cdk.json),
# and neither the app nor the CLI needs the network: once the Go module and
# npm caches are filled, `make synth` works offline.
CDK_VERSION := 2.1148.1
CDK_DIR     := $(TOOLS)/cdk-$(CDK_VERSION)
CDK         := $(CDK_DIR)/node_modules/.bin/cdk
# `make deploy`/`make diff` act on STACK: IamRoleGuardrail, or in
# organization mode IamRoleGuardrailHub and IamRoleGuardrailMembers.
STACK       ?= IamRoleGuardrail
# `make deploy PROFILE=prod-admin` deploys with that AWS CLI profile;
# CDK_ARGS passes more, e.g. CDK_ARGS='-c mode=check --require-approval never'.
PROFILE     ?=
CDK_ARGS    ?=
# ORGANIZATION='{"organizationId":"o-…","hubAccount":"…","memberOUs":[…]}'
# sets the "organization" context for one command (README, Organization);
# it reaches the shell through the environment, so its JSON needs no
# further quoting.
ORGANIZATION ?=
export ORGANIZATION
CDK_FLAGS    = --no-notices $(if $(PROFILE),--profile $(PROFILE)) $(if $(ORGANIZATION),-c "organization=$$ORGANIZATION") $(CDK_ARGS)

tools: $(CDK)
$(CDK):
	npm install --prefix $(CDK_DIR) --prefer-offline --no-audit --no-fund --no-package-lock --save-exact aws-cdk@$(CDK_VERSION)
	@$(CDK) --version

# Every stack of the app: IamRoleGuardrail, and with ORGANIZATION (or the
# "organization" key of cdk.json) IamRoleGuardrailHub and
# IamRoleGuardrailMembers, whose StackSet embeds the member template.
.PHONY: synth
synth: build $(CDK) ## synthesize every stack into cdk.out/*.template.json (offline, cdk-nag checked)
	@rm -f cdk.out/*.template.json
	$(CDK) synth $(CDK_FLAGS) --quiet
	@for f in cdk.out/*.template.json; do \
	  node -e 'const f = process.argv[1], r = Object.values(require("./" + f).Resources), sets = r.filter(x => x.Type === "AWS::CloudFormation::StackSet"); console.log(`$${f}: $${r.length} resources` + sets.map(x => `, member template $${Buffer.byteLength(x.Properties.TemplateBody)} of 51200 bytes`).join(""))' "$$f"; \
	done

.PHONY: diff
diff: build $(CDK) ## show what `make deploy` would change in the selected account
	$(CDK) diff $(CDK_FLAGS) $(STACK)

.PHONY: deploy
deploy: build $(CDK) ## build, then deploy to us-east-1 of the selected account (PROFILE=…)
	$(CDK) deploy $(CDK_FLAGS) $(STACK)

# ---- demo ---------------------------------------------------------------

# The whole product on a laptop: the local IAM endpoint, the enforcer and the
# sweeper bootstraps (built for this machine with the release flags) under
# the Runtime Interface Emulator, the events of events/. Records go to .demo/,
# and `guardrail report` turns them into .demo/report.html (one page, no
# external assets: open it in any browser).
DEMO_ARCH := $(shell $(GO) env GOARCH)

.PHONY: demo
demo: $(RIE) ## run both Lambdas locally under the emulator on the sample events
	@mkdir -p .demo/enforcer .demo/sweeper
	@for fn in $(LAMBDAS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(DEMO_ARCH) $(GO) build $(BOOTSTRAP_FLAGS) -o .demo/$$fn/bootstrap ./lambdas/$$fn; \
	done
	$(GO) run ./cmd/guardrail demo --rie $(RIE) --enforcer .demo/enforcer/bootstrap --sweeper .demo/sweeper/bootstrap --out .demo
	$(GO) run ./cmd/guardrail report --format html --out .demo/report.html .demo/decisions.jsonl

# Organization mode (DESIGN.md §11) on a laptop: one local endpoint playing an
# organization (IAM, STS and Organizations), the hub's enforcer and sweeper
# bootstraps under the emulator with the hub roles' credentials, three member
# accounts and one without the member stack. Records go to .demo-org/.
.PHONY: demo-org
demo-org: $(RIE) ## run the hub's Lambdas locally against an organization of three member accounts
	@mkdir -p .demo-org/enforcer .demo-org/sweeper
	@for fn in $(LAMBDAS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(DEMO_ARCH) $(GO) build $(BOOTSTRAP_FLAGS) -o .demo-org/$$fn/bootstrap ./lambdas/$$fn; \
	done
	$(GO) run ./cmd/guardrail demo-org --rie $(RIE) --enforcer .demo-org/enforcer/bootstrap --sweeper .demo-org/sweeper/bootstrap --out .demo-org
