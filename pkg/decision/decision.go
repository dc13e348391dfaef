// Package decision provides the guardrail's decision record (DESIGN.md §7):
// one JSON object per evaluated role that says what the guardrail found, what
// it changed or would change, why, who caused it and how to undo it, written
// as one log/slog JSON line, plus its CloudWatch Embedded Metric Format counters.
//
// The JSON field names are a contract with operators' saved Logs Insights
// queries, metric filters and alarms: they are snake_case and are never
// renamed once shipped. New fields may be added.
package decision

import (
	"encoding/json"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Message is the slog message of every decision line, so a Logs Insights
// query can select decisions with `filter msg = "decision"`.
const Message = "decision"

// Outcome is the one-word summary of an evaluation.
type Outcome string

// The outcomes of a role the controls apply to.
const (
	// OutcomeCompliant: the role already satisfied every control that applies.
	OutcomeCompliant Outcome = "compliant"
	// OutcomeChanged: the guardrail wrote at least one change and none failed.
	OutcomeChanged Outcome = "changed"
	// OutcomeWouldChange: a control in check mode found something to change
	// and nothing was written.
	OutcomeWouldChange Outcome = "would-change"
)

// The outcomes of an evaluation that decided nothing about the controls.
const (
	// OutcomeSkipped: no control applies (the role's class is not "service",
	// or both controls are in skip mode).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeRoleGone: the role no longer exists (NoSuchEntity); a normal
	// outcome, not an error (DESIGN.md §8).
	OutcomeRoleGone Outcome = "role-gone"
	// OutcomeError: the evaluation or a write failed; Error says why.
	OutcomeError Outcome = "error"
	// OutcomeDeferred: a re-check read a trust policy that a guardrail
	// write in progress may have torn from its marker; nothing was decided,
	// and the event is looked at again at RecheckAt (README "Consistency").
	OutcomeDeferred Outcome = "deferred"
	// OutcomeIgnored: the caller decided the event needs no evaluation
	// (wrong source, failed call, the guardrail's own change…); set by the
	// Lambda, never by the engine.
	OutcomeIgnored Outcome = "ignored"
)

// Lockdown is the state of the lockdown control after an evaluation.
type Lockdown string

// The lockdown states of a role where the lockdown is in place.
const (
	// LockdownAttached: the guardrail attached the managed lockdown policy.
	LockdownAttached Lockdown = "attached"
	// LockdownPresent: the managed lockdown policy was already attached.
	LockdownPresent Lockdown = "present"
	// LockdownInline: the role carries the lockdown document inline, because
	// it had the maximum number of managed policies (LimitExceeded).
	LockdownInline Lockdown = "inline"
)

// The lockdown states of a role where it is not.
const (
	// LockdownWouldAttach: check mode found the lockdown missing.
	LockdownWouldAttach Lockdown = "would-attach"
	// LockdownSkipped: the control does not apply (skip mode, or a role
	// class that is never touched).
	LockdownSkipped Lockdown = "skipped"
	// LockdownFailed: the lockdown is missing and putting it in place
	// failed (on the lockdown policy's record: restoring it failed).
	LockdownFailed Lockdown = "failed"
)

// The lockdown states of the lockdown policy itself (its record, PolicyARN
// set); present, skipped and failed apply too.
const (
	// LockdownRestored: the lockdown policy's default version had another
	// document and the guardrail made the configured one the default again
	// (records of the lockdown policy itself, PolicyARN set).
	LockdownRestored Lockdown = "restored"
	// LockdownWouldRestore: check mode found the lockdown policy's default
	// version changed.
	LockdownWouldRestore Lockdown = "would-restore"
)

// Result is what became of one action.
type Result string

// Result values.
const (
	// ResultDone: the call was made and succeeded.
	ResultDone Result = "done"
	// ResultWould: the call would be made in enforce mode (check mode).
	ResultWould Result = "would"
	// ResultSkipped: the call was needed but deliberately not made; Error
	// says why (e.g. the trust write before it failed).
	ResultSkipped Result = "skipped"
	// ResultFailed: the call was made and failed; Error holds the API error.
	ResultFailed Result = "failed"
)

// Controls named in findings and actions.
const (
	ControlTrust    = trust.ControlTrust
	ControlLockdown = "lockdown"
)

// Modes holds the mode each control ran in.
type Modes struct {
	Trust    config.Mode `json:"trust"`
	Lockdown config.Mode `json:"lockdown"`
}

// Principal is one principal of the trust policy with the verdict of the
// trust engine, so a reviewer sees what the policy admits and why. It is
// trust.Principal: `guardrail check` prints the same type, so a check and
// a decision record describe a principal in the same JSON shape.
type Principal = trust.Principal

// Finding is one thing a control found wrong: an untrusted principal, a
// service principal without a source condition, a missing lockdown policy.
// It is trust.Finding, shared with `guardrail check`; the engine's findings
// about a policy set Policy instead of Principal, Kind and Statement.
type Finding = trust.Finding

// Action is one IAM write the evaluation made, would make, or skipped.
type Action struct {
	Control string `json:"control"`          // "trust" or "lockdown"
	API     string `json:"api"`              // IAM action, e.g. UpdateAssumeRolePolicy
	Target  string `json:"target,omitempty"` // policy ARN or inline policy name, when the API takes one
	Result  Result `json:"result"`           // done, would, skipped or failed
	Error   string `json:"error,omitempty"`  // the API error (failed) or the reason (skipped)
}

// Record is the decision record of one evaluation of one role. Records are
// plain data: the engine fills them, the caller logs them with Log and
// EmitMetrics. Pointer and RawMessage fields are null/absent when unknown.
type Record struct {
	EventID   string    `json:"event_id"`   // CloudTrail eventID; "" for the sweeper and scan
	EventName string    `json:"event_name"` // CloudTrail eventName, or "Sweep"/"Scan"
	EventTime time.Time `json:"event_time"` // CloudTrail eventTime; zero (omitted in logs) for the sweeper
	Actor     string    `json:"actor"`      // ARN of the caller who caused the event

	Account  string `json:"account"`   // account of the role (from its ARN)
	RoleARN  string `json:"role_arn"`  // the role's ARN; "" when the role could not be read (gone)
	RoleName string `json:"role_name"` // the role's name
	RolePath string `json:"role_path"` // the role's path, e.g. "/" or "/aws-service-role/x/"

	Class       string `json:"class"`        // aws-managed, guardrail, exempt or service
	ClassReason string `json:"class_reason"` // why the role has that class
	Mode        Modes  `json:"mode"`         // mode of each control

	Outcome    Outcome     `json:"outcome"`    // see the Outcome constants
	Principals []Principal `json:"principals"` // every principal of the trust policy with its verdict
	Findings   []Finding   `json:"findings"`   // what the controls found
	Actions    []Action    `json:"actions"`    // writes done, would be done, skipped or failed

	// TrustPolicyBefore is the trust document as read (decoded JSON
	// object); TrustPolicyAfter is the document written (or that would be
	// written in check mode), nil when unchanged.
	TrustPolicyBefore json.RawMessage `json:"trust_policy_before"`
	TrustPolicyAfter  json.RawMessage `json:"trust_policy_after"`

	Lockdown              Lockdown   `json:"lockdown"`                // see the Lockdown constants
	RevokedSessionsBefore *time.Time `json:"revoked_sessions_before"` // sessions issued before this time were revoked
	// Undo lists AWS CLI commands that reverse every write the evaluation
	// made. Running them while the guardrail enforces re-triggers it; set the
	// role exempt first.
	Undo []string `json:"undo"`

	ReadConsistent bool `json:"read_consistent"` // reads agreed with the event's claimed change (always true without a claim)
	StaleReads     int  `json:"stale_reads"`     // reads that disagreed with the claim before one agreed
	// Recheck is true on the re-check of an event (delivered again from the
	// re-check queue after IAM's consistency window); RecheckAt is when the
	// re-check of this event is due, set when one was scheduled (README
	// "Consistency").
	Recheck       bool       `json:"recheck,omitempty"`
	RecheckAt     *time.Time `json:"recheck_at,omitempty"`
	DeliveryLagMS *int64     `json:"delivery_lag_ms"` // receive time minus eventTime; nil without an event
	DurationMS    int64      `json:"duration_ms"`     // wall time of the evaluation
	APICalls      int        `json:"api_calls"`       // IAM calls the evaluation made (SDK retries not counted)
	Version       string     `json:"version"`         // build version of the guardrail
	Error         string     `json:"error,omitempty"` // why the evaluation failed, when it did
	// Reason says why an event was acknowledged without evaluation
	// (outcome ignored); "" otherwise.
	Reason string `json:"reason,omitempty"`

	// PolicyARN is set on the record of the lockdown policy itself (its
	// default version checked, and restored when changed); RoleARN is then
	// empty. PolicyBefore is the default version's document as read, and
	// PolicyVersionAfter the version the guardrail created, if it did.
	PolicyARN          string          `json:"policy_arn,omitempty"`
	PolicyBefore       json.RawMessage `json:"policy_before,omitempty"`
	PolicyVersionAfter string          `json:"policy_version_after,omitempty"`
}
