// Command sweeper is the guardrail's scheduled Lambda function (runtime
// provided.al2023, executable "bootstrap"). On each run it lists every role
// of the account with GetAccountAuthorizationDetails, evaluates each with the
// engine within the function's time budget, and logs one decision record per
// role and a summary record (DESIGN.md §2). It catches roles that existed
// before the guardrail was deployed and any event that was missed.
//
// Build it with -tags lambda.norpc (see the Makefile's build target).
package main

import "github.com/iamguardrail/guardrail/lambdas/internal/function"

// version is the build version, set with -ldflags "-X main.version=...".
var version = "dev"

func main() { function.Main(version, start, startHub) }
