// Command sweeper is the guardrail's scheduled Lambda function (runtime
// provided.al2023, executable "bootstrap"). On each run it lists every role
// of the account with GetAccountAuthorizationDetails, evaluates each with the
// engine within the function's time budget, and logs one decision record per
// role and a summary record (DESIGN.md §2). It catches roles that existed
// before the guardrail was deployed and any event that was missed.
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
		// Exit before lambda.Start: Lambda reports the init failure on every
		// invocation instead of sweeping with a guessed configuration.
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
