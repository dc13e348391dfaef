package trust

import "github.com/iamguardrail/guardrail/pkg/policy"

// Common returns a document that admits no principal that either a or b
// leaves out: a's Allow statements, each keeping only the principal values
// that some Allow statement of b names too, plus the Deny statements of
// both. The engine writes it when two trust policies were set in the same
// second and nothing tells which one is newer (CloudTrail's eventTime has
// whole seconds): whichever is the owner's latest, the result admits no
// principal that it did not (issue 19, "newer intent wins").
//
// Common only removes Allow principals and adds Deny statements, so its
// result is inside the zone when a is; but a principal that b keeps only
// under its own condition stays under a's, so restrict the result before
// writing it unless a is known to be restricted. Values are compared as
// written, so a
// principal that b spells differently is removed: a removal is the safe
// side. An Allow statement with NotPrincipal admits everyone but the listed
// values and is dropped. When no Allow statement remains, the result is the
// single deny-all statement Restrict writes (FallbackSid), since IAM refuses
// a trust policy without statements.
func Common(a, b *policy.Document) *policy.Document {
	named := map[[2]string]bool{}
	for _, s := range b.Statements {
		if s.Effect != policy.Allow || s.Principal == nil {
			continue
		}
		eachValue(s.Principal, func(typ, val string) { named[[2]string{typ, val}] = true })
	}
	var allows, denies []*policy.Statement
	for _, s := range a.Statements {
		switch {
		case s.Effect != policy.Allow:
			denies = append(denies, s)
		case s.Principal == nil:
			// NotPrincipal (or no principal at all): dropped.
		default:
			if p := s.Principal.Filter(func(typ, val string) bool { return named[[2]string{typ, val}] }); p != nil {
				allows = append(allows, s.WithPrincipal(p))
			}
		}
	}
	if len(allows) == 0 {
		return a.WithStatements([]*policy.Statement{fallback})
	}
	for _, s := range b.Statements {
		if s.Effect == policy.Deny && !containsStatement(a, denies, s) {
			denies = append(denies, s)
		}
	}
	return a.WithStatements(append(allows, denies...))
}

// containsStatement reports whether stmts holds a statement equivalent to
// s, comparing them as one-statement documents of d's version.
func containsStatement(d *policy.Document, stmts []*policy.Statement, s *policy.Statement) bool {
	one := d.WithStatements([]*policy.Statement{s})
	for _, t := range stmts {
		if policy.Equivalent(d.WithStatements([]*policy.Statement{t}), one) {
			return true
		}
	}
	return false
}
