package iamtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The STS query protocol: the same form-encoded POST and XML envelope as
// IAM, API version 2011-06-15, its own namespace (STS API reference,
// AssumeRole and GetCallerIdentity response samples).
const (
	stsAPIVersion = "2011-06-15"
	stsNamespace  = "https://sts.amazonaws.com/doc/2011-06-15/"
)

var (
	// RoleSessionName: 2 to 64 of [\w+=,.@-] (STS API reference,
	// AssumeRole, RoleSessionName: "Length Constraints: Minimum length of
	// 2. Maximum length of 64. Pattern: [\w+=,.@-]*").
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	// A role ARN: partition, 12-digit account, optional path, name.
	roleARNRe = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::([0-9]{12}):role(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,64})$`)
)

// Session durations (STS API reference, AssumeRole, DurationSeconds: 900 s
// up to the role's maximum session duration, default 3600; role chaining
// limits a session to one hour).
const (
	minSessionSeconds     = 900
	defaultSessionSeconds = 3600
	chainedSessionSeconds = 3600
)

// serveSTS answers one STS request (AssumeRole, GetCallerIdentity).
func (s *Server) serveSTS(r *http.Request, id identity) (func(*xmlWriter), *apiError) {
	if v := r.Form.Get("Version"); v != stsAPIVersion {
		return nil, newErr(http.StatusBadRequest, codeInvalidAction, "Could not find operation %s for version %s", r.Form.Get("Action"), v)
	}
	switch r.Form.Get("Action") {
	case "GetCallerIdentity":
		return func(w *xmlWriter) {
			w.elem("Arn", id.arn)
			w.elem("UserId", id.userID)
			w.elem("Account", id.account)
		}, nil
	case "AssumeRole":
		sess, err := s.assumeRole(params(r.Form), id)
		if err != nil {
			return nil, err
		}
		return func(w *xmlWriter) {
			w.open("Credentials")
			w.elem("AccessKeyId", sess.key)
			w.elem("SecretAccessKey", sess.secret)
			w.elem("SessionToken", sess.token)
			w.timestamp("Expiration", sess.expires)
			w.close("Credentials")
			w.open("AssumedRoleUser")
			w.elem("AssumedRoleId", sess.userID)
			w.elem("Arn", sess.arn)
			w.close("AssumedRoleUser")
		}, nil
	}
	return nil, newErr(http.StatusBadRequest, codeInvalidAction, "Could not find operation %s for version %s", r.Form.Get("Action"), stsAPIVersion)
}

// issued is a session as AssumeRole returns it.
type issued struct {
	session
	key string
}

// assumeRole validates an AssumeRole request from caller and issues a
// session. Called with mu held.
func (s *Server) assumeRole(p params, caller identity) (issued, *apiError) {
	for _, unsupported := range []string{"Policy", "PolicyArns.member.1.arn", "Tags.member.1.Key", "SerialNumber", "SourceIdentity"} {
		if p.has(unsupported) {
			// Refused rather than ignored: a session that ignored its session
			// policy would be allowed more than STS allows it.
			return issued{}, errValidation("the local stand-in does not support AssumeRole parameter %s", strings.Split(unsupported, ".")[0])
		}
	}
	roleARN, name := p.str("RoleArn"), p.str("RoleSessionName")
	if !sessionNameRe.MatchString(name) {
		return issued{}, constraintErr(name, "roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]* and have length between 2 and 64`)
	}
	m := roleARNRe.FindStringSubmatch(roleARN)
	if len(roleARN) < 20 || len(roleARN) > 2048 || m == nil {
		return issued{}, errValidation("%s is invalid", roleARN)
	}
	duration := defaultSessionSeconds
	if v := p.str("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minSessionSeconds || n > 43200 {
			return issued{}, constraintErr(v, "durationSeconds", "Member must have value between 900 and 43200")
		}
		duration = n
	}
	denied := newErr(http.StatusForbidden, codeAccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.arn, roleARN)
	a := s.in(m[2])
	if a == nil || m[1] != a.st.partition {
		return issued{}, denied
	}
	rl := a.st.roles[strings.ToLower(m[4])]
	if rl == nil || rl.path != m[3] {
		return issued{}, denied // STS does not tell a missing role from a refused one
	}
	if !admits(a.st.renderTrust(rl), caller) {
		return issued{}, denied
	}
	if caller.roleARN != "" && duration > chainedSessionSeconds {
		return issued{}, errValidation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if duration > rl.maxSession {
		return issued{}, errValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return s.issue(a.st, rl, name, time.Duration(duration)*time.Second, caller.roleARN != ""), nil
}

// issue records and returns a new session for role rl of st.
func (s *Server) issue(st *state, rl *role, name string, d time.Duration, chained bool) issued {
	const keyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	rnd := func(chars string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[s.keyRand.IntN(len(chars))]
		}
		return string(b)
	}
	key := "ASIA" + rnd(keyChars, 16)
	for s.sessions[key] != nil {
		key = "ASIA" + rnd(keyChars, 16)
	}
	sess := &session{
		identity: identity{
			account: st.account,
			arn:     "arn:" + st.partition + ":sts::" + st.account + ":assumed-role/" + rl.name + "/" + name,
			userID:  rl.id + ":" + name,
			roleARN: st.roleARN(rl),
			chained: chained,
		},
		secret:  rnd(secretChars, 40),
		token:   "IQoJb3JpZ2luX2VjE" + rnd(secretChars, 120),
		expires: s.opts.clock().UTC().Add(d).Truncate(time.Second),
	}
	s.sessions[key] = sess
	return issued{session: *sess, key: key}
}

// ServiceCredentials returns temporary credentials for the role roleARN of
// one of the server's accounts, as an AWS service obtains them when it
// assumes a role for a resource: Lambda gives a function its execution
// role's credentials this way, with the function name as session name. The
// role's trust policy must admit the service principal (for example
// "lambda.amazonaws.com"), or it is an error. The demo and the end-to-end
// tests hand the result to a function's bootstrap, as Lambda would.
func (s *Server) ServiceCredentials(servicePrincipal, roleARN, sessionName string) (aws.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := roleARNRe.FindStringSubmatch(roleARN)
	if m == nil || !sessionNameRe.MatchString(sessionName) {
		return aws.Credentials{}, fmt.Errorf("iamtest: service credentials: invalid role ARN %q or session name %q", roleARN, sessionName)
	}
	a := s.in(m[2])
	if a == nil {
		return aws.Credentials{}, fmt.Errorf("iamtest: service credentials: the server does not play account %s", m[2])
	}
	rl := a.st.roles[strings.ToLower(m[4])]
	if rl == nil || rl.path != m[3] {
		return aws.Credentials{}, fmt.Errorf("iamtest: service credentials: role %s does not exist", roleARN)
	}
	if !admits(a.st.renderTrust(rl), identity{service: servicePrincipal}) {
		return aws.Credentials{}, fmt.Errorf("iamtest: service credentials: the trust policy of %s does not admit %s", roleARN, servicePrincipal)
	}
	is := s.issue(a.st, rl, sessionName, time.Duration(rl.maxSession)*time.Second, false)
	return aws.Credentials{AccessKeyID: is.key, SecretAccessKey: is.secret, SessionToken: is.token,
		CanExpire: true, Expires: is.expires, AccountID: is.account, Source: "iamtest"}, nil
}

// admits reports whether the trust policy doc lets who assume the role
// (sts:AssumeRole). It is a minimal evaluator that fails closed: an Allow
// statement admits only when its Principal names who (or "*"), its Action
// names sts:AssumeRole and it has no Condition (conditions are not
// evaluated, so a conditional Allow admits nobody); any Deny statement
// that may apply to who (a Condition or NotPrincipal counts as applying)
// refuses. It does not model the caller's identity policies: a principal
// of another account is taken to be allowed by its own account (IAM User
// Guide, "Policy evaluation logic", cross-account requests need both).
func admits(doc string, who identity) bool {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return false
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(d.Statement, &stmts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(d.Statement, &one) != nil {
			return false
		}
		stmts = []map[string]json.RawMessage{one}
	}
	allowed := false
	for _, st := range stmts {
		var effect string
		if json.Unmarshal(st["Effect"], &effect) != nil {
			return false
		}
		switch effect {
		case "Deny":
			if deniesAssume(st, who) {
				return false
			}
		case "Allow":
			if _, cond := st["Condition"]; cond {
				continue
			}
			if _, np := st["NotPrincipal"]; np {
				continue
			}
			if actionNames(st["Action"], "sts:AssumeRole") && principalNames(st["Principal"], who) {
				allowed = true
			}
		default:
			return false
		}
	}
	return allowed
}

// deniesAssume reports whether a Deny statement may refuse who
// sts:AssumeRole: yes unless it clearly names neither who nor the action.
func deniesAssume(st map[string]json.RawMessage, who identity) bool {
	if _, ok := st["NotPrincipal"]; ok {
		return true
	}
	if _, ok := st["NotAction"]; ok {
		return true
	}
	return actionNames(st["Action"], "sts:AssumeRole") && principalNames(st["Principal"], who)
}

// actionNames reports whether an Action value (string or list, IAM's
// wildcards allowed) covers action, case-insensitively as IAM compares
// actions.
func actionNames(raw json.RawMessage, action string) bool {
	for _, a := range stringsOf(raw) {
		if ok, _ := path.Match(strings.ToLower(a), strings.ToLower(action)); ok {
			return true
		}
	}
	return false
}

// principalNames reports whether a Principal value names who: "*" (or
// {"AWS":"*"}) names anyone; an AWS account ID or its root ARN names every
// principal of that account; a role ARN names that role's sessions; an
// assumed-role ARN names that session; {"Service": x} names service x.
// Unique IDs (a deleted principal) and users name no caller here.
func principalNames(raw json.RawMessage, who identity) bool {
	if len(raw) == 0 {
		return false
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	if who.service != "" {
		for _, v := range stringsOf(m["Service"]) {
			if v == who.service {
				return true
			}
		}
		return false
	}
	for _, v := range stringsOf(m["AWS"]) {
		switch {
		case v == "*":
			return true
		case v == who.account, v == "arn:aws:iam::"+who.account+":root":
			return true
		case who.roleARN != "" && (v == who.roleARN || v == who.arn):
			return true
		}
	}
	return false
}

// stringsOf returns a string-or-list JSON value's strings.
func stringsOf(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var list []string
	_ = json.Unmarshal(raw, &list)
	return list
}

// stsSuccessBody wraps an STS result in its response envelope.
func stsSuccessBody(action, requestID string, result func(*xmlWriter)) string {
	return strings.Replace(successBody(action, requestID, result), iamNamespace, stsNamespace, 1)
}

// stsErrorBody renders an STS <ErrorResponse>.
func stsErrorBody(e *apiError, requestID string) string {
	return strings.Replace(errorBody(e, requestID), iamNamespace, stsNamespace, 1)
}
