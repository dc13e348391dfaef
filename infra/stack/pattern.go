package stack

import (
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// EventPatternDetail returns the "detail" part of the rule's event pattern:
// successful IAM calls that were not made by one of ownRoleARNs (the
// guardrail's own roles, whose writes would otherwise trigger it again:
// Lambda's recursion detection does not follow IAM → CloudTrail →
// EventBridge), of either kind:
//
//   - a role change (cloudtrail.RoleEventNames);
//   - a change of the lockdown policy's document (cloudtrail.LockdownPolicyEventNames
//     with detail.requestParameters.policyArn equal to lockdownPolicyARN):
//     a new default version without the lockdown's statements would free
//     every service role, and other managed policies are no concern of the
//     guardrail. CloudTrail records the API's PolicyArn parameter as
//     requestParameters.policyArn (IAM API reference, CreatePolicyVersion,
//     SetDefaultPolicyVersion, DeletePolicyVersion).
//
// Successful calls only: CloudTrail also records denied and failed calls,
// with an errorCode, and such a call changed nothing.
//
// The own-role exclusion needs "$or": EventBridge matches a field's
// condition only when the event has the field (except exists:false), and
// only AssumedRole identities have userIdentity.sessionContext.sessionIssuer.
// An anything-but alone would therefore silently drop every call made by an
// IAM user, the root user or an AWS service. One branch admits those; the
// other admits every role session except the guardrail's own. A pattern has
// one "$or" per object, so the two kinds and the two identity branches are
// spelled out as their four combinations, each an ordinary AND of fields
// (EventBridge user guide, "Comparison operators", $or).
func EventPatternDetail(ownRoleARNs []string, lockdownPolicyARN string) map[string]any {
	own := make([]any, len(ownRoleARNs))
	for i, a := range ownRoleARNs {
		own[i] = a
	}
	return eventPatternDetail(own, lockdownPolicyARN)
}

// HubEventPatternDetail returns the "detail" part of the hub's rule, which
// receives the events every member account's rule forwards (DESIGN.md §11):
// the same calls as EventPatternDetail, from any account, so the exact
// ARNs become suffixes that hold in every account and partition:
//
//   - sessions of the member role (":role/" + MemberRoleName, at path "/",
//     the only path whose ARN ends so) are left out, as each member's rule
//     already does by exact ARN: the hub's own writes in a member account
//     run as that role;
//   - lockdown policy changes are those of a policy named lockdown.PolicyName
//     at path "/" in the account that made the call.
//
// EventBridge supports suffix and anything-but suffix on event buses
// (EventBridge user guide, "Comparison operators for use in event patterns",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
func HubEventPatternDetail() map[string]any {
	return eventPatternDetail(map[string]any{"suffix": ":role/" + MemberRoleName},
		map[string]any{"suffix": ":policy/" + lockdown.PolicyName})
}

// eventPatternDetail builds the detail pattern: own is the argument of the
// session issuer's anything-but, lockdownPolicy the condition on
// requestParameters.policyArn.
func eventPatternDetail(own, lockdownPolicy any) map[string]any {
	issuerARN := func(cond any) map[string]any {
		return map[string]any{"sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": []any{cond}}}}
	}
	list := func(names []string) []any {
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = n
		}
		return out
	}
	kinds := []map[string]any{
		{"eventName": list(cloudtrail.RoleEventNames)},
		{"eventName": list(cloudtrail.LockdownPolicyEventNames), "requestParameters": map[string]any{"policyArn": []any{lockdownPolicy}}},
	}
	identities := []map[string]any{
		issuerARN(map[string]any{"exists": false}),
		issuerARN(map[string]any{"anything-but": own}),
	}
	var branches []any
	for _, k := range kinds {
		for _, id := range identities {
			b := map[string]any{"userIdentity": id}
			for f, v := range k {
				b[f] = v
			}
			branches = append(branches, b)
		}
	}
	return map[string]any{
		"eventSource": []any{cloudtrail.EventSource},
		"errorCode":   []any{map[string]any{"exists": false}},
		"$or":         branches,
	}
}
