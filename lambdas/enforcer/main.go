// Command enforcer is the guardrail's event-driven Lambda function (runtime
// provided.al2023, executable "bootstrap"). EventBridge invokes it with the
// CloudTrail record of each IAM call that changed a role; it evaluates that
// role with the engine and logs one decision record (DESIGN.md §2, §7).
//
// Build it with -tags lambda.norpc (see the Makefile's build target).
package main

import (
	"io"

	"github.com/iamguardrail/guardrail/lambdas/internal/function"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// version is the build version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() { function.Main(version, start) }

// start makes the handler around the started engine.
func start(engine *guardrail.Engine, cfg config.Config, out io.Writer, version string) *handler {
	return newHandler(engine, cfg, out, version)
}
