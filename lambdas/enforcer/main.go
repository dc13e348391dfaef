// Command enforcer is the guardrail's event-driven Lambda function (runtime
// provided.al2023, executable "bootstrap"). EventBridge invokes it with the
// CloudTrail record of each IAM call that changed a role; it evaluates that
// role with the engine and logs one decision record (DESIGN.md §2, §7).
//
// Build it with -tags lambda.norpc (see the Makefile's build target).
package main

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

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

// setup starts the engine from the environment (guardrail.Start) and builds
// the handler; on error the reason is already logged.
func setup(ctx context.Context, getenv func(string) string, out io.Writer) (*handler, error) {
	engine, cfg, err := guardrail.Start(ctx, getenv, decision.NewLogger(out), version)
	if err != nil {
		return nil, err
	}
	return newHandler(engine, cfg, out, version), nil
}
