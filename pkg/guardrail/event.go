package guardrail

import (
	"context"
	"slices"
	"time"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// Event is one IAM change as the enforcer received it: the facts the
// CloudTrail record holds, decoded once (lambdas/internal/cloudtrail fills
// it). The enforcer hands it to HandleEvent whole, so nothing the engine
// needs, such as the account or the event time, is lost copying fields.
type Event struct {
	// EventID is CloudTrail's record ID (detail.eventID).
	EventID string
	// EventName is the IAM API action, e.g. "UpdateAssumeRolePolicy".
	EventName string
	// EventTime is when IAM accepted the call; zero when unknown.
	EventTime time.Time
	// ReceivedAt is when the enforcer received the event (set by the
	// handler); with EventTime it gives delivery_lag_ms.
	ReceivedAt time.Time
	// Account is the account the event happened in (recipientAccountId).
	Account string
	// Actor names the caller (userIdentity.arn or the best substitute).
	Actor string
	// SessionIssuer is the ARN of the role whose session made the call.
	SessionIssuer string
	// RoleName is the role a role event changed; "" for policy events.
	RoleName string
	// TrustPolicy is the trust document CreateRole/UpdateAssumeRolePolicy set.
	TrustPolicy string
	// AttachedPolicyARN / DetachedPolicyARN: the managed policy an
	// AttachRolePolicy / DetachRolePolicy event attached or detached.
	AttachedPolicyARN, DetachedPolicyARN string
	// PolicyName is the inline policy a PutRolePolicy or DeleteRolePolicy
	// event wrote or deleted.
	PolicyName string
	// PolicyARN is the managed policy a LockdownPolicyEventNames event
	// changed.
	PolicyARN string
	// DefaultVersionID is the version a policy event made the default
	// (SetDefaultPolicyVersion, CreatePolicyVersion with SetAsDefault);
	// "" when it claims none.
	DefaultVersionID string
}

// Trigger returns the part of ev that labels the decision record.
func (ev Event) Trigger() Trigger {
	return Trigger{EventID: ev.EventID, EventName: ev.EventName, Actor: ev.Actor, Account: ev.Account,
		EventTime: ev.EventTime, ReceivedAt: ev.ReceivedAt}
}

// Claim returns what a role event claims it changed.
func (ev Event) Claim() Claim {
	return Claim{
		TrustPolicy:       ev.TrustPolicy,
		AttachedPolicyARN: ev.AttachedPolicyARN,
		DetachedPolicyARN: ev.DetachedPolicyARN,
		RevocationChanged: (ev.EventName == "PutRolePolicy" || ev.EventName == "DeleteRolePolicy") && ev.PolicyName == RevokePolicyName,
	}
}

// HandleEvent evaluates what one IAM event changed: the lockdown policy's
// document for LockdownPolicyEventNames (EvaluateLockdownPolicy), else the
// role it names (Evaluate). The caller has already dropped events that are
// not the guardrail's business (another policy's versions, its own changes).
func (e *Engine) HandleEvent(ctx context.Context, ev Event) (decision.Record, error) {
	if slices.Contains(LockdownPolicyEventNames, ev.EventName) {
		return e.EvaluateLockdownPolicy(ctx, ev.Trigger(), ev.DefaultVersionID)
	}
	return e.Evaluate(ctx, ev.RoleName, ev.Trigger(), ev.Claim())
}
