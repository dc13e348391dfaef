// Command enforcer is the guardrail's event-driven Lambda function (runtime
// provided.al2023, executable "bootstrap"). EventBridge invokes it with the
// CloudTrail record of each IAM call that changed a role; it evaluates that
// role with the engine and logs one decision record (DESIGN.md §2, §7).
//
// Build it with -tags lambda.norpc (see the Makefile's build target).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// version is the build version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	h, err := setup(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		// Exit before lambda.Start: Lambda reports the init failure
		// (Runtime.ExitError) on every invocation instead of running with a
		// configuration it would have to guess at.
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// setup reads and validates the configuration once, builds the IAM client and
// the engine, and logs the configuration. On error it has already logged a
// message naming every invalid setting.
func setup(ctx context.Context, getenv func(string) string, out io.Writer) (*handler, error) {
	log := decision.NewLogger(out)
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		log.Error("invalid configuration, not starting", "error", err.Error(), "version", version)
		return nil, fmt.Errorf("configuration: %w", err)
	}
	client, err := guardrail.NewIAMClient(ctx)
	if err != nil {
		log.Error("cannot build the IAM client, not starting", "error", err.Error(), "version", version)
		return nil, err
	}
	log.Info("configuration", "config", cfg, "version", version)
	engine := guardrail.New(client, cfg, guardrail.WithVersion(version))
	return newHandler(engine, cfg, out, version), nil
}
