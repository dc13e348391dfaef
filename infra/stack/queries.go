package stack

// Query is a CloudWatch Logs Insights query saved with the stack for
// reviewing decision records (DESIGN.md §7). The field names are the
// decision record's (pkg/decision), which are never renamed once shipped.
type Query struct {
	// Name is the saved query's name; the part before '/' is the folder
	// the console shows it in.
	Name string
	// String is the Logs Insights query.
	String string
}

// RoleNamePlaceholder is the text a reviewer replaces in the "history of
// one role" query (saved queries take no parameters).
const RoleNamePlaceholder = "REPLACE-WITH-ROLE-NAME"

// Queries returns the saved queries, each run against both functions' log
// groups. folder is the console folder (the stack's name prefix).
func Queries(folder string) []Query {
	return []Query{
		{
			Name: folder + "/All changes",
			// Every evaluation that changed a role or, in check mode,
			// would have: what the actor did, what the guardrail did.
			String: `fields @timestamp, event_name, actor, role_arn, mode.trust, mode.lockdown, outcome, lockdown, revoked_sessions_before
| filter msg = "decision" and outcome in ["changed", "would-change"]
| sort @timestamp desc
| limit 500`,
		},
		{
			Name: folder + "/History of one role",
			// Every decision about one role, with the documents needed to
			// undo a change (trust_policy_before) and the undo commands.
			String: `fields @timestamp, event_name, actor, class, outcome, lockdown, read_consistent, trust_policy_before, trust_policy_after, undo.0, undo.1
| filter msg = "decision" and role_name = "` + RoleNamePlaceholder + `"
| sort @timestamp desc
| limit 200`,
		},
		{
			Name: folder + "/Principals removed",
			// Decisions whose trust findings removed (or in check mode
			// would remove) a principal. Logs Insights flattens arrays
			// into numbered fields, so the first findings are shown;
			// the full list is in the record.
			String: `fields @timestamp, role_arn, mode.trust, outcome, findings.0.principal, findings.0.kind, findings.0.reason, findings.1.principal, findings.1.kind, findings.2.principal, revoked_sessions_before
| filter msg = "decision" and @message like /"removed":true/
| sort @timestamp desc
| limit 500`,
		},
		{
			Name: folder + "/Failures",
			// Failed evaluations and writes, configuration errors at
			// start, and Lambda-reported failures (timeouts, crashes).
			String: `fields @timestamp, @log, event_id, event_name, role_arn, outcome, lockdown, error, msg, @message
| filter outcome = "error" or lockdown = "failed" or level = "ERROR" or @message like /"result":"failed"|Task timed out|Runtime\.\w+Error|"status":"(error|failure|timeout)"/
| sort @timestamp desc
| limit 500`,
		},
	}
}
