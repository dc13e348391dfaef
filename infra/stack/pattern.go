package stack

import "github.com/iamguardrail/guardrail/pkg/guardrail"

// EventNames are the IAM API calls the rule matches: the engine's list, so
// the rule and the enforcer cannot drift apart.
var EventNames = guardrail.EventNames

// Event envelope values of CloudTrail-recorded IAM calls (EventBridge
// reference, "AWS API Call via CloudTrail" events of aws.iam).
const (
	EventSource     = "aws.iam"
	EventDetailType = "AWS API Call via CloudTrail"
	IAMEventSource  = "iam.amazonaws.com"
)

// EventPatternDetail returns the "detail" part of the rule's event pattern:
// successful IAM calls of EventNames that were not made by one of
// ownRoleARNs (the guardrail's own roles, whose writes would otherwise
// trigger it again: Lambda's recursion detection does not follow
// IAM → CloudTrail → EventBridge).
//
// Successful calls only: CloudTrail also records denied and failed calls,
// with an errorCode, and such a call changed nothing.
//
// The own-role exclusion needs "$or": EventBridge matches a field's
// condition only when the event has the field (except exists:false), and
// only AssumedRole identities have userIdentity.sessionContext.sessionIssuer.
// An anything-but alone would therefore silently drop every call made by an
// IAM user, the root user or an AWS service. The first branch admits those;
// the second admits every role session except the guardrail's own.
func EventPatternDetail(ownRoleARNs []string) map[string]any {
	issuerARN := func(cond any) map[string]any {
		return map[string]any{"userIdentity": map[string]any{"sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": []any{cond}}}}}
	}
	own := make([]any, len(ownRoleARNs))
	for i, a := range ownRoleARNs {
		own[i] = a
	}
	names := make([]any, len(EventNames))
	for i, n := range EventNames {
		names[i] = n
	}
	return map[string]any{
		"eventSource": []any{IAMEventSource},
		"eventName":   names,
		"errorCode":   []any{map[string]any{"exists": false}},
		"$or": []any{
			issuerARN(map[string]any{"exists": false}),
			issuerARN(map[string]any{"anything-but": own}),
		},
	}
}
