// Command enforcer is the guardrail's event-driven Lambda function (runtime
// provided.al2023, executable "bootstrap"). EventBridge invokes it with the
// CloudTrail record of each IAM call that changed a role; it evaluates that
// role with the engine and logs one decision record (DESIGN.md §2, §7).
//
// Build it with -tags lambda.norpc (see the Makefile's build target).
package main

import "github.com/iamguardrail/guardrail/lambdas/internal/function"

// version is the build version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() { function.Main(version, start, startHub) }
