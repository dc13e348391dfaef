// Package e2e holds the end-to-end tests of the Lambdas: the real enforcer
// and sweeper bootstraps, built for this machine, run under the AWS Lambda
// Runtime Interface Emulator and talk through the real AWS SDK to the local
// IAM endpoint (pkg/iamtest) on a loopback port. Events from events/ are
// replayed (the IAM call, then its delivery) and the tests check the
// resulting IAM state.
//
// The tests need the emulator: `make test` installs it and sets
// GUARDRAIL_RIE; without it they fail with a message naming it (they are
// left out only under `go test -short`).
package e2e
