// Package cloudtrail is the guardrail's one description of the IAM events it
// handles: the event names and the EventBridge envelope values (which the
// stack's rule matches), the decoding of the CloudTrail records of IAM
// changes that EventBridge delivers to the enforcer ("AWS API Call via
// CloudTrail") into the few facts the engine needs (which role, who changed
// it, when, and what the call claims to have set), and the extraction of a
// trust document from a record (TrustDocument). Every record the enforcer
// cannot use is rejected with an *Ignored error that says why, so the caller
// can log and acknowledge it instead of retrying it.
//
// It links neither the engine nor the CDK: the stack, the decoder, `guardrail
// check` and the local replay all use it.
package cloudtrail

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The envelope and record values of an IAM API call, as documented in
// https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-iam.html.
const (
	// Source is the EventBridge source of IAM events. Custom PutEvents callers
	// cannot publish under an aws.* source, so pinning it prevents forged events
	// from driving the guardrail.
	Source = "aws.iam"
	// DetailType is the EventBridge detail-type of CloudTrail API call records.
	DetailType = "AWS API Call via CloudTrail"
	// EventSource is the CloudTrail eventSource of IAM API calls.
	EventSource = "iam.amazonaws.com"
)

// RoleEventNames are the IAM API calls that can make a role non-compliant
// or remove its lockdown (DESIGN.md §2): the stack's event rule matches
// exactly these, and the enforcer handles exactly these.
// CreateServiceLinkedRole is absent on purpose: service-linked roles are
// aws-managed and never touched.
var RoleEventNames = []string{
	"CreateRole",
	"UpdateAssumeRolePolicy",
	"AttachRolePolicy",
	"DetachRolePolicy",
	"PutRolePolicy",
	"DeleteRolePolicy",
	"PutRolePermissionsBoundary",
	"DeleteRolePermissionsBoundary",
	"UpdateRole",
}

// LockdownPolicyEventNames are the IAM API calls that change a managed
// policy's document: the rule matches them only for the lockdown policy's
// ARN, and the enforcer restores the lockdown document.
var LockdownPolicyEventNames = []string{
	"CreatePolicyVersion",
	"SetDefaultPolicyVersion",
	"DeletePolicyVersion",
}

// Change is one IAM change as the enforcer received it: the facts the
// CloudTrail record holds, decoded once by Decode. The enforcer hands it to
// the engine whole (guardrail.Event is this type), so nothing the engine
// needs, such as the account or the event time, is lost copying fields.
// Decode fills as many fields as the record allows, also when it rejects the
// record, so the caller's log line says which event was ignored.
type Change struct {
	// EventID is CloudTrail's record ID (detail.eventID).
	EventID string
	// EventName is the IAM API action, e.g. "UpdateAssumeRolePolicy".
	EventName string
	// EventTime is when IAM accepted the call; zero when unknown.
	EventTime time.Time
	// ReceivedAt is when the enforcer received the event (set by the
	// handler); with EventTime it gives delivery_lag_ms.
	ReceivedAt time.Time
	// Recheck is set by the enforcer when the event comes back from its
	// re-check queue, after IAM's consistency window (README
	// "Consistency"); CloudTrail never sets it.
	Recheck bool
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

// Ignored is the error Decode returns for a record the enforcer must not act
// on. Such records are acknowledged, not retried: retrying cannot make them
// usable.
type Ignored struct {
	// Reason says in one sentence why the record is not evaluated.
	Reason string
}

func (e *Ignored) Error() string { return "event ignored: " + e.Reason }

// IsIgnored reports whether err is (or wraps) an *Ignored and returns it.
func IsIgnored(err error) (*Ignored, bool) {
	var ig *Ignored
	ok := errors.As(err, &ig)
	return ig, ok
}

func ignore(format string, args ...any) error {
	return &Ignored{Reason: fmt.Sprintf(format, args...)}
}

// roleNameRE is IAM's RoleName pattern ([\w+=,.@-]+, 1 to 64 characters;
// IAM API reference, CreateRole). Names outside it cannot be a real role, and
// we never send them to the API.
var roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// Decode extracts the role change from an EventBridge envelope. It returns an
// *Ignored error for events of another source or type, failed calls (a call
// that failed changed nothing), API calls the guardrail does not handle, and
// records without a usable role name. Malformed fields are reasons to ignore
// the record, never a panic.
func Decode(ev events.CloudWatchEvent) (Change, error) {
	c := Change{Account: ev.AccountID}
	var d map[string]json.RawMessage
	detailErr := json.Unmarshal(ev.Detail, &d)

	// Fields that only label the record (also an ignored one, so its log
	// line can be traced): a malformed one is left empty rather than
	// rejecting an otherwise usable record.
	c.EventID, _ = stringField(d, "eventID")
	c.EventName, _ = stringField(d, "eventName")
	if acct, _ := stringField(d, "recipientAccountId"); acct != "" {
		c.Account = acct
	}
	if s, _ := stringField(d, "eventTime"); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			c.EventTime = t
		}
	}
	c.Actor, c.SessionIssuer = identity(d["userIdentity"])

	if ev.Source != Source {
		return c, ignore("source %q is not %q", ev.Source, Source)
	}
	if ev.DetailType != DetailType {
		return c, ignore("detail-type %q is not %q", ev.DetailType, DetailType)
	}
	if detailErr != nil || d == nil {
		return c, ignore("detail is not a JSON object")
	}

	src, err := stringField(d, "eventSource")
	if err != nil {
		return c, ignore("eventSource: %v", err)
	}
	if src != EventSource {
		return c, ignore("eventSource %q is not %q", src, EventSource)
	}
	// A failed call changed nothing. Only a readable error code counts: when
	// unsure, evaluating is the safe side (the engine reads the current state,
	// so a needless evaluation costs two reads and changes nothing).
	if code, _ := stringField(d, "errorCode"); code != "" {
		return c, ignore("the call failed with %s, so it changed nothing", code)
	}
	if !handled(c.EventName) {
		if c.EventName == "CreateServiceLinkedRole" {
			// Service-linked roles are created, trusted and permissioned by their
			// AWS service and cannot be modified by customers (UnmodifiableEntity);
			// they classify aws-managed and are never touched (DESIGN.md §3). The
			// sweeper still records them.
			return c, ignore("service-linked roles are managed by AWS and never touched")
		}
		if c.EventName == "" {
			return c, ignore("the record has no eventName")
		}
		return c, ignore("%s does not change what the guardrail controls", c.EventName)
	}

	req, err := object(d["requestParameters"])
	if err != nil {
		return c, ignore("requestParameters: %v", err)
	}
	if slices.Contains(LockdownPolicyEventNames, c.EventName) {
		return decodePolicyEvent(c, req, d["responseElements"])
	}
	name, err := stringField(req, "roleName")
	if err != nil {
		return c, ignore("requestParameters.roleName: %v", err)
	}
	if name == "" {
		// CreateRole records also name the role in responseElements.role.
		name = responseRoleName(d["responseElements"])
	}
	if name == "" {
		return c, ignore("the record names no role")
	}
	if !roleNameRE.MatchString(name) {
		return c, ignore("role name %q is not a valid IAM role name", name)
	}
	c.RoleName = name

	switch c.EventName {
	case "CreateRole", "UpdateAssumeRolePolicy":
		c.TrustPolicy, err = trustDocument(c.EventName, req)
	case "AttachRolePolicy":
		c.AttachedPolicyARN, err = stringField(req, "policyArn")
	case "DetachRolePolicy":
		c.DetachedPolicyARN, err = stringField(req, "policyArn")
	case "PutRolePolicy", "DeleteRolePolicy":
		c.PolicyName, err = stringField(req, "policyName")
	}
	if err != nil {
		// The claim only guards against stale reads; the engine decides from
		// the role's current state. A claim we cannot read is dropped, not
		// guessed, and the role is still evaluated.
		c.TrustPolicy, c.AttachedPolicyARN, c.DetachedPolicyARN, c.PolicyName = "", "", "", ""
	}
	return c, nil
}

// policyARNRe is a managed policy ARN (IAM API reference, policy ARNs).
var policyARNRe = regexp.MustCompile(`^arn:aws(?:-[a-z]+)*:iam::(?:[0-9]{12}|aws):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$`)

// decodePolicyEvent reads a CreatePolicyVersion, SetDefaultPolicyVersion or
// DeletePolicyVersion record: the policy (requestParameters.policyArn) and
// the version it made the default, if any (SetDefaultPolicyVersion's
// versionId; CreatePolicyVersion's new version, responseElements
// .policyVersion.versionId, when setAsDefault was true). Which policy the
// guardrail cares about is the caller's decision.
func decodePolicyEvent(c Change, req map[string]json.RawMessage, resp json.RawMessage) (Change, error) {
	arn, err := stringField(req, "policyArn")
	if err != nil {
		return c, ignore("requestParameters.policyArn: %v", err)
	}
	if !policyARNRe.MatchString(arn) {
		return c, ignore("the record names no managed policy")
	}
	c.PolicyARN = arn
	switch c.EventName {
	case "SetDefaultPolicyVersion":
		c.DefaultVersionID, _ = stringField(req, "versionId")
	case "CreatePolicyVersion":
		var setDefault bool
		if raw, ok := req["setAsDefault"]; ok && json.Unmarshal(raw, &setDefault) == nil && setDefault {
			if re, err := object(resp); err == nil && re != nil {
				if pv, err := object(re["policyVersion"]); err == nil && pv != nil {
					c.DefaultVersionID, _ = stringField(pv, "versionId")
				}
			}
		}
	}
	return c, nil
}

func handled(name string) bool {
	return slices.Contains(RoleEventNames, name) || slices.Contains(LockdownPolicyEventNames, name)
}

// identity returns the caller and its session issuer from detail.userIdentity.
// Identity types (IAMUser, AssumedRole, Root, AWSService, FederatedUser, ...)
// carry different fields; see the CloudTrail userIdentity element reference.
func identity(raw json.RawMessage) (actor, issuer string) {
	ui, err := object(raw)
	if err != nil || ui == nil {
		return "", ""
	}
	actor, _ = stringField(ui, "arn")
	if actor == "" {
		actor, _ = stringField(ui, "invokedBy")
	}
	if actor == "" {
		actor, _ = stringField(ui, "principalId")
	}
	if actor == "" {
		actor, _ = stringField(ui, "type")
	}
	if sc, err := object(ui["sessionContext"]); err == nil && sc != nil {
		if si, err := object(sc["sessionIssuer"]); err == nil && si != nil {
			issuer, _ = stringField(si, "arn")
		}
	}
	return actor, issuer
}

func responseRoleName(raw json.RawMessage) string {
	// Some captured records carry responseElements as the string "None"; only
	// an object can hold a role.
	re, err := object(raw)
	if err != nil || re == nil {
		return ""
	}
	role, err := object(re["role"])
	if err != nil || role == nil {
		return ""
	}
	name, _ := stringField(role, "roleName")
	return name
}

// Record is what TrustDocument reads from a CloudTrail record.
type Record struct {
	EventName string // eventName
	RoleName  string // requestParameters.roleName
	// TrustPolicy is the trust document the call set, as JSON text: "" for
	// a call that sets none.
	TrustPolicy string
}

// TrustDocument reads the trust document a CloudTrail record's call set:
// requestParameters.policyDocument of UpdateAssumeRolePolicy, else
// requestParameters.assumeRolePolicyDocument (CreateRole; IAM API
// reference, CreateRole and UpdateAssumeRolePolicy request parameters, which
// CloudTrail records in lowerCamelCase). data is a bare CloudTrail record or
// the EventBridge envelope that carries it as its detail.
func TrustDocument(data []byte) (Record, error) {
	var d map[string]json.RawMessage
	if err := json.Unmarshal(data, &d); err != nil || d == nil {
		return Record{}, errors.New("not a CloudTrail record (a JSON object)")
	}
	if inner, err := object(d["detail"]); err == nil && inner != nil {
		d = inner
	}
	var rec Record
	var err error
	if rec.EventName, err = stringField(d, "eventName"); err != nil {
		return rec, err
	}
	req, err := object(d["requestParameters"])
	if err != nil {
		return rec, fmt.Errorf("requestParameters: %w", err)
	}
	if rec.RoleName, err = stringField(req, "roleName"); err != nil {
		return rec, fmt.Errorf("requestParameters.%w", err)
	}
	rec.TrustPolicy, err = trustDocument(rec.EventName, req)
	return rec, err
}

// trustDocument returns the trust document parameter of a call's
// requestParameters (see TrustDocument).
func trustDocument(eventName string, req map[string]json.RawMessage) (string, error) {
	if eventName == "UpdateAssumeRolePolicy" {
		return document(req, "policyDocument")
	}
	return document(req, "assumeRolePolicyDocument")
}

// document returns a policy document parameter as JSON text. CloudTrail
// records it as a JSON string exactly as submitted; some tools re-emit the
// record with the document as a nested object, which is accepted as is.
func document(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || isAbsent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("%s is neither a JSON string nor an object", key)
	}
	return string(raw), nil
}

// object decodes a JSON object; null or absent gives a nil map and no error.
func object(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if isAbsent(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// stringField reads a string member; absent or null gives "" and no error.
func stringField(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || isAbsent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", key)
	}
	return strings.TrimSpace(s), nil
}

func isAbsent(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t == "" || t == "null"
}
