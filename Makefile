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

# Quiet, offline-friendly CDK and jsii (see ../shared/reference/toolchain.md).
export CDK_DISABLE_CLI_TELEMETRY := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# ---- tests --------------------------------------------------------------

.PHONY: test
test: tools ## run every test (unit, property, end-to-end, CDK assertions)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test ./...

.PHONY: tools
tools: ## install the pinned tools the tests need into .tools/

# ---- demo ---------------------------------------------------------------

.PHONY: demo
demo: ## run the guardrail locally on the embedded sample roles
	$(GO) run ./cmd/guardrail check --account 111122223333 --trusted-accounts 444455556666 --trusted-orgs o-a1b2c3d4e5 events/trust/*.json
