package lockdown

import (
	"encoding/json"
	"fmt"
)

// PrincipalAccountVariable is the policy variable that Config.Account may be
// instead of an account ID, for a document that serves every account of an
// organization at once: the service control policy of pkg/perimeter, where
// each request's own account takes its place ("${aws:PrincipalAccount}",
// IAM User Guide, "IAM policy elements: Variables and tags"; aws:PrincipalAccount
// is "always included in the request context", IAM User Guide, "AWS global
// condition context keys"). The lockdown's resources live in the account of
// the role it binds, so the SCP keeps their scope exactly.
const PrincipalAccountVariable = "${aws:PrincipalAccount}"

// Statement is one lockdown statement, exported for documents that carry
// the lockdown's denies elsewhere (pkg/perimeter's service control policy),
// so that the statements have one source of truth. Every statement is a
// Deny.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// Statements returns the statements of the document Document builds for c,
// in its order, after the same validation; the document's own size limit is
// not checked (the caller has its own). Each call returns fresh values the
// caller may change.
func Statements(c Config) ([]Statement, error) {
	c, extras, err := normalize(c)
	if err != nil {
		return nil, err
	}
	sized := sizingConfig(c)
	if n := exemptPatternsSize(sized.ExemptRoles); n > MaxExemptPatternsSize {
		return nil, &ConfigError{Field: "ExemptRoles", Value: fmt.Sprint(c.ExemptRoles),
			Err: fmt.Errorf("become %d characters of role ARN patterns, more than the %d allowed", n, MaxExemptPatternsSize)}
	}
	if n := bucketsSize(sized.ProtectedBuckets); n > MaxBucketsSize {
		return nil, &ConfigError{Field: "ProtectedBuckets", Value: fmt.Sprint(c.ProtectedBuckets),
			Err: fmt.Errorf("become %d characters of bucket ARNs, more than the %d allowed", n, MaxBucketsSize)}
	}
	// A round trip through JSON gives the caller deep copies in the
	// document's exact shape.
	data, err := json.Marshal(statements(c, extras))
	if err != nil {
		return nil, fmt.Errorf("encode lockdown statements: %w", err)
	}
	var out []Statement
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode lockdown statements: %w", err)
	}
	return out, nil
}
