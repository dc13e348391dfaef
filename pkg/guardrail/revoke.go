package guardrail

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/iamguardrail/guardrail/pkg/policy"
)

// RevokePolicyName is the inline policy that revokes a role's older sessions
// after an external principal was removed from its trust policy (DESIGN.md §5).
const RevokePolicyName = "GuardrailRevokeOlderSessions"

// MaxSessionDuration is the longest an STS session of a role can live
// (a role's MaxSessionDuration is at most 12 hours: IAM API reference,
// CreateRole, MaxSessionDuration 3600 to 43200 seconds). A session revoked
// by RevokePolicyName is expired at the latest this long after the cut-off.
const MaxSessionDuration = 12 * time.Hour

// ceilSecond rounds t up to the second, in UTC: the revocation's
// aws:TokenIssueTime has second precision, and rounding down could spare a
// session issued in the same second.
func ceilSecond(t time.Time) time.Time {
	return t.UTC().Add(time.Second - 1).Truncate(time.Second)
}

// revocationDocument is the RevokePolicyName document for a cut-off.
func revocationDocument(before time.Time) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":%q,"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":%q}}}]}`,
		RevokePolicyName, before.UTC().Format(time.RFC3339))
}

// revocationCutoff returns the cut-off of a revocation document: exactly
// one statement denying every action on every resource to sessions issued
// before a time (DateLessThan on aws:TokenIssueTime, the form the IAM
// console's "Revoke active sessions" writes). Anything else, however close,
// is not a revocation the guardrail relies on.
func (r *run) revocationCutoff(raw string) (time.Time, bool) {
	doc, err := r.parse(raw)
	if err != nil || len(doc.Statements) != 1 {
		return time.Time{}, false
	}
	s := doc.Statements[0]
	if s.Effect != policy.Deny || s.NotAction != nil || s.NotResource != nil || s.Principal != nil || s.NotPrincipal != nil ||
		!only(s.Action, "*") || !only(s.Resource, "*") || len(s.Condition) != 1 {
		return time.Time{}, false
	}
	op := s.Condition[0]
	if !strings.EqualFold(op.Operator, "DateLessThan") || len(op.Keys) != 1 ||
		!strings.EqualFold(op.Keys[0].Key, "aws:TokenIssueTime") || len(op.Keys[0].Values) != 1 {
		return time.Time{}, false
	}
	v := op.Keys[0].Values[0]
	var s2 string
	if json.Unmarshal([]byte(v), &s2) == nil { // a JSON literal kept as text
		v = s2
	}
	ts, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false
	}
	return ts, true
}

func only(v *policy.Values, item string) bool {
	return v != nil && len(v.Items) == 1 && v.Items[0] == item
}
