package guardrail

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

// MaxSessionDuration is the longest an STS session of a role can live
// (a role's MaxSessionDuration is at most 12 hours: IAM API reference,
// CreateRole, MaxSessionDuration 3600 to 43200 seconds). A session revoked
// by RevokePolicyName is expired at the latest this long after the cut-off.
const MaxSessionDuration = 12 * time.Hour

// restoreRevocation answers an event that deleted or rewrote the
// RevokePolicyName inline policy: without it, the sessions that the
// stripped principals started before the guardrail removed them work again
// until they expire (DESIGN.md §5).
//
// The cut-off is the event's time (the second after it). The original
// cut-off is not known to the guardrail at that moment in any place it can
// trust: a deleted policy is gone, a rewritten one holds the tamperer's
// text, a role tag could be rewritten by the same tamperer, and the decision
// record that holds it (revoked_sessions_before) is in CloudWatch Logs. The
// event time is safe: the original was written before it could be deleted,
// so the restored cut-off is never earlier than it. The cost is that
// legitimate sessions issued between the original revocation and the
// tampering are revoked too; their users assume the role again.
//
// The policy is restored while a session it revoked could still be valid:
// sessions last at most MaxSessionDuration, and every session the original
// revoked was issued before the event. One GetRolePolicy decides, so a
// duplicate delivery finds the restored policy (a cut-off no earlier than
// the event) and writes nothing; a policy with another document, or an
// earlier cut-off, is rewritten.
func (r *run) restoreRevocation(ctx context.Context, st *state, t Trigger) {
	cfg := r.e.cfg
	if cfg.TrustMode == config.Skip || !cfg.RevokeSessions {
		return
	}
	at := t.EventTime
	if at.IsZero() {
		at = r.now // unknown event time: now is later still, so as safe
	}
	// CloudTrail records eventTime to the second, so the call was made
	// before eventTime + 1 s, and the original cut-off (rounded up to the
	// second when written) is no later than that.
	cutoff := at.UTC().Truncate(time.Second).Add(time.Second)
	if r.e.now().Sub(cutoff) > MaxSessionDuration {
		return // every session the policy revoked has expired
	}
	if r.rec.RevokedSessionsBefore != nil && !r.rec.RevokedSessionsBefore.Before(cutoff) {
		return // this evaluation already revoked with a later cut-off
	}
	r.calls++
	out, err := r.e.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(st.name), PolicyName: aws.String(RevokePolicyName)})
	switch {
	case isNoSuchEntity(err):
		// The role was read in this evaluation, so this is the policy
		// that is missing (or a stale read of it: writing it again is
		// harmless).
	case err != nil:
		r.fail(fmt.Errorf("read the session revocation of role %s: %w", st.name, err))
		return
	default:
		if got, ok := revocationCutoff(aws.ToString(out.PolicyDocument)); ok && !got.Before(cutoff) {
			return
		}
	}
	r.rec.Findings = append(r.rec.Findings, decision.Finding{Control: decision.ControlTrust, Policy: RevokePolicyName,
		Reason: fmt.Sprintf("%s removed or rewrote the session revocation; it is restored with cut-off %s, the event's time, no earlier than the original",
			t.EventName, cutoff.Format(time.RFC3339))})
	if cfg.TrustMode != config.Enforce {
		r.action(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultWould, "")
		return
	}
	r.putRevocation(ctx, st, cutoff)
}

// revocationCutoff returns the cut-off of a revocation document: exactly
// one statement denying every action on every resource to sessions issued
// before a time (DateLessThan on aws:TokenIssueTime, the form the IAM
// console's "Revoke active sessions" writes). Anything else, however close,
// is not a revocation the guardrail relies on.
func revocationCutoff(raw string) (time.Time, bool) {
	doc, err := policy.Parse([]byte(raw))
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
