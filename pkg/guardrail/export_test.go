package guardrail

import "github.com/iamguardrail/guardrail/pkg/policy"

// WithPolicyParser replaces policy.Parse for every document the engine
// parses, so a test can count the parses (parse_test.go). Test builds only.
func WithPolicyParser(parse func([]byte) (*policy.Document, error)) Option {
	return func(e *Engine) { e.parse = parse }
}
