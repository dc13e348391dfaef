package guardrail

import (
	"context"
	"slices"

	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

// Event is one IAM change as the enforcer received it, decoded once by
// pkg/cloudtrail (cloudtrail.Change): the enforcer hands it to HandleEvent
// whole.
type Event = cloudtrail.Change

// triggerOf returns the part of ev that labels the decision record.
func triggerOf(ev Event) Trigger {
	return Trigger{EventID: ev.EventID, EventName: ev.EventName, Actor: ev.Actor, Account: ev.Account,
		EventTime: ev.EventTime, ReceivedAt: ev.ReceivedAt, Recheck: ev.Recheck}
}

// ClaimOf returns what a role event claims it changed.
func ClaimOf(ev Event) Claim {
	return Claim{
		TrustPolicy:       ev.TrustPolicy,
		AttachedPolicyARN: ev.AttachedPolicyARN,
		DetachedPolicyARN: ev.DetachedPolicyARN,
		RevocationChanged: (ev.EventName == "PutRolePolicy" || ev.EventName == "DeleteRolePolicy") && ev.PolicyName == RevokePolicyName,
	}
}

// HandleEvent evaluates what one IAM event changed: the lockdown policy's
// document for cloudtrail.LockdownPolicyEventNames (EvaluateLockdownPolicy),
// else the role it names (Evaluate). The caller has already dropped events
// that are not the guardrail's business (another policy's versions, its own
// changes).
func (e *Engine) HandleEvent(ctx context.Context, ev Event) (decision.Record, error) {
	if slices.Contains(cloudtrail.LockdownPolicyEventNames, ev.EventName) {
		return e.EvaluateLockdownPolicy(ctx, triggerOf(ev), ev.DefaultVersionID)
	}
	return e.Evaluate(ctx, ev.RoleName, triggerOf(ev), ClaimOf(ev))
}
