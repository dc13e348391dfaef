package guardrail_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

const (
	account        = iamtest.DefaultAccount // 111122223333
	trustedAccount = "444455556666"
	foreignAccount = "999988887777"
)

var evalTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// Trust documents used across the tests.
const (
	lambdaTrust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	foreignTrust = `{"Version":"2012-10-17","Statement":[{"Sid":"App","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"},` +
		`{"Sid":"Backdoor","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + foreignAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	trustedTrust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + trustedAccount + `:root"},"Action":"sts:AssumeRole"}]}`
	wildcardTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	danglingTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},` +
		`{"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEDELETED01"},"Action":"sts:AssumeRole"}]}`
)

// The test deployment's lockdown policy name and exemptions.
const lockdownName = "IamRoleGuardrail-Lockdown"

var exemptRoles = []string{"breakglass-*", "/exempt/"}

// env is one stand-in IAM account with the lockdown policy deployed and an
// engine factory.
type env struct {
	t           testing.TB
	srv         *iamtest.Server
	client      *iam.Client
	lockdownARN string
}

func newEnv(t testing.TB, opts ...iamtest.Option) *env {
	t.Helper()
	srv := iamtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	// The document the engine expects: built from the same configuration.
	lc, err := guardrail.LockdownConfig(config.Config{
		LockdownPolicyARN: "arn:aws:iam::" + srv.Account() + ":policy/" + lockdownName, ExemptRoles: exemptRoles})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := lockdown.Document(lc)
	if err != nil {
		t.Fatalf("lockdown document: %v", err)
	}
	arn, err := srv.SeedPolicy(lockdownName, string(doc))
	if err != nil {
		t.Fatalf("seed lockdown policy: %v", err)
	}
	client := srv.Client(func(o *iam.Options) {
		// The production retryer with short backoffs, so fault tests stay fast.
		o.Retryer = retry.AddWithMaxBackoffDelay(guardrail.NewRetryer(), 20*time.Millisecond)
	})
	return &env{t: t, srv: srv, client: client, lockdownARN: arn}
}

func (v *env) config(mods ...func(*config.Config)) config.Config {
	c := config.Config{
		TrustMode:         config.Enforce,
		LockdownMode:      config.Enforce,
		TrustedAccounts:   []string{trustedAccount},
		ExemptRoles:       exemptRoles,
		ProtectedRoleARNs: []string{"arn:aws:iam::" + account + ":role/IamRoleGuardrail-*"},
		LockdownPolicyARN: v.lockdownARN,
		RevokeSessions:    true,
		MetricsNamespace:  config.DefaultMetricsNamespace,
	}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func (v *env) engine(mods ...func(*config.Config)) *guardrail.Engine {
	return v.newEngine(v.client, v.config(mods...),
		guardrail.WithVersion("test"),
		guardrail.WithClock(func() time.Time { return evalTime }),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}))
}

// newEngine is guardrail.New for a configuration the test expects valid.
func (v *env) newEngine(client guardrail.IAM, cfg config.Config, opts ...guardrail.Option) *guardrail.Engine {
	v.t.Helper()
	e, err := guardrail.New(client, cfg, opts...)
	if err != nil {
		v.t.Fatalf("guardrail.New: %v", err)
	}
	return e
}

func (v *env) seed(t testing.TB, r iamtest.Role) {
	t.Helper()
	if _, err := v.srv.SeedRole(r); err != nil {
		t.Fatal(err)
	}
}

func (v *env) role(t testing.TB, name string) iamtest.RoleState {
	t.Helper()
	st, ok := v.srv.Role(name)
	if !ok {
		t.Fatalf("role %s does not exist", name)
	}
	return st
}

func checkMode(c *config.Config) { c.TrustMode, c.LockdownMode = config.Check, config.Check }

func mustParse(t testing.TB, doc string) *policy.Document {
	t.Helper()
	d, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return d
}

func admits(t testing.TB, doc, principal string) bool {
	t.Helper()
	return strings.Contains(mustParse(t, doc).String(), principal)
}

func actionsOf(rec decision.Record) []string {
	var out []string
	for _, a := range rec.Actions {
		out = append(out, a.API+":"+string(a.Result))
	}
	return out
}

func writesInOrder(srv *iamtest.Server) []string {
	var out []string
	for _, c := range srv.CallLog() {
		if iamtest.IsWriteAction(c.Action) && c.ErrorCode == "" {
			out = append(out, c.Action)
		}
	}
	return out
}

// A role created with a foreign principal ends with it stripped, the
// lockdown attached and older sessions revoked; the decision names both,
// holds the before/after documents and the actor.
func TestEvaluateStripsForeignPrincipal(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	if _, err := v.client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("orders-api"), AssumeRolePolicyDocument: aws.String(foreignTrust)}); err != nil {
		t.Fatal(err)
	}
	v.srv.ResetCalls()
	actor := "arn:aws:sts::" + account + ":assumed-role/Dev/mallory"
	received := evalTime.Add(-time.Second)
	rec, err := v.engine().Evaluate(ctx, "orders-api", guardrail.Trigger{
		EventID: "ev-1", EventName: "CreateRole", Actor: actor,
		EventTime: received.Add(-1500 * time.Millisecond), ReceivedAt: received,
	}, guardrail.Claim{TrustPolicy: foreignTrust})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}

	st := v.role(t, "orders-api")
	if admits(t, st.TrustPolicy, foreignAccount) {
		t.Errorf("foreign principal still trusted: %s", st.TrustPolicy)
	}
	if !admits(t, st.TrustPolicy, "lambda.amazonaws.com") {
		t.Errorf("service principal lost: %s", st.TrustPolicy)
	}
	if !slices.Contains(st.AttachedPolicyARNs, v.lockdownARN) {
		t.Errorf("lockdown not attached: %v", st.AttachedPolicyARNs)
	}
	revoke, ok := st.InlinePolicies[guardrail.RevokePolicyName]
	if !ok || !strings.Contains(revoke, `"aws:TokenIssueTime":"2026-03-14T15:09:26Z"`) {
		t.Errorf("revocation policy missing or without the evaluation time: %q", revoke)
	}
	if got, want := writesInOrder(v.srv), []string{"TagRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "AttachRolePolicy"}; !slices.Equal(got, want) {
		t.Errorf("writes = %v, want %v (trust's marker and trust, then revocation, then lockdown)", got, want)
	}

	if rec.Outcome != decision.OutcomeChanged || rec.Class != "service" || rec.Lockdown != decision.LockdownAttached {
		t.Errorf("outcome/class/lockdown = %s/%s/%s", rec.Outcome, rec.Class, rec.Lockdown)
	}
	if rec.Actor != actor || rec.EventID != "ev-1" || rec.Account != account || rec.RoleARN != st.ARN {
		t.Errorf("identity fields wrong: %+v", rec)
	}
	if rec.DeliveryLagMS == nil || *rec.DeliveryLagMS != 1500 {
		t.Errorf("delivery lag = %v, want 1500", rec.DeliveryLagMS)
	}
	var removed []string
	for _, f := range rec.Findings {
		if f.Removed {
			removed = append(removed, f.Principal)
		}
	}
	if len(removed) != 1 || !strings.Contains(removed[0], foreignAccount) {
		t.Errorf("removed findings = %v, want the foreign root", removed)
	}
	if !slices.ContainsFunc(rec.Findings, func(f decision.Finding) bool {
		return f.Control == decision.ControlLockdown && f.Policy == v.lockdownARN
	}) {
		t.Errorf("no lockdown finding: %+v", rec.Findings)
	}
	if !policy.Equivalent(mustParse(t, string(rec.TrustPolicyBefore)), mustParse(t, foreignTrust)) {
		t.Errorf("trust_policy_before = %s", rec.TrustPolicyBefore)
	}
	if !policy.Equivalent(mustParse(t, string(rec.TrustPolicyAfter)), mustParse(t, st.TrustPolicy)) {
		t.Errorf("trust_policy_after = %s, IAM holds %s", rec.TrustPolicyAfter, st.TrustPolicy)
	}
	if rec.RevokedSessionsBefore == nil || !rec.RevokedSessionsBefore.Equal(evalTime) {
		t.Errorf("revoked_sessions_before = %v", rec.RevokedSessionsBefore)
	}
	if len(rec.Undo) != 3 {
		t.Errorf("undo = %q, want one command per write", rec.Undo)
	}
	if !rec.ReadConsistent || rec.APICalls != 7 {
		t.Errorf("read_consistent=%v api_calls=%d, want true and 7 (3 reads, 3 writes and the trust write's marker)", rec.ReadConsistent, rec.APICalls)
	}
	if n := v.srv.Calls(""); n != rec.APICalls {
		t.Errorf("server saw %d calls, record says %d", n, rec.APICalls)
	}
}

// A compliant role costs exactly GetRole and ListAttachedRolePolicies, and a
// just-fixed role evaluated again (even with the same event's claim, as on a
// duplicate delivery) is not written again.
func TestEvaluateCompliantAndIdempotent(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.seed(t, iamtest.Role{Name: "worker", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	v.seed(t, iamtest.Role{Name: "open", TrustPolicy: wildcardTrust})
	e := v.engine()

	v.srv.ResetCalls()
	rec, err := e.Evaluate(ctx, "worker", guardrail.Trigger{}, guardrail.Claim{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != decision.OutcomeCompliant || rec.Lockdown != decision.LockdownPresent {
		t.Errorf("outcome %s lockdown %s, want compliant/present", rec.Outcome, rec.Lockdown)
	}
	if v.srv.Calls("") != 2 || v.srv.Calls("GetRole") != 1 || v.srv.Calls("ListAttachedRolePolicies") != 1 {
		t.Errorf("calls: %+v, want exactly GetRole + ListAttachedRolePolicies", v.srv.CallLog())
	}

	claim := guardrail.Claim{TrustPolicy: wildcardTrust}
	if _, err := e.Evaluate(ctx, "open", guardrail.Trigger{}, claim); err != nil {
		t.Fatal(err)
	}
	v.srv.ResetCalls()
	rec, err = e.Evaluate(ctx, "open", guardrail.Trigger{}, claim)
	if err != nil {
		t.Fatal(err)
	}
	if w := v.srv.WriteCalls(); w != 0 {
		t.Errorf("second evaluation wrote %d times: %v", w, v.srv.CallLog())
	}
	if rec.Outcome != decision.OutcomeCompliant || !rec.ReadConsistent || v.srv.Calls("GetRole") != 1 {
		t.Errorf("second evaluation: outcome %s, read_consistent %v, GetRole calls %d; want compliant, true, 1 (no waiting for the remediated claim)",
			rec.Outcome, rec.ReadConsistent, v.srv.Calls("GetRole"))
	}
	if got := v.role(t, "open").TrustPolicy; !strings.Contains(got, "GuardrailNoTrustedPrincipals") {
		t.Errorf("wildcard-only role should end with the deny-all statement, got %s", got)
	}
}

// Service-linked, reserved, guardrail and exempt roles are never written to,
// whatever their trust policy admits, and their records still list it. A
// guardrail-class role that trusts outsiders is an error record
// (TestEvaluateGuardrailClassTrustingOutsiders), still without a write.
func TestEvaluateNeverTouches(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	roles := []struct {
		name, path, class string
	}{
		{"AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/", "aws-managed"},
		{"AWSReservedSSO_Admin_0123456789abcdef", "/aws-reserved/sso.amazonaws.com/", "aws-managed"},
		{"IamRoleGuardrail-Enforcer", "/", "guardrail"},
		{"breakglass-admin", "/", "exempt"},
		{"legacy", "/exempt/", "exempt"},
	}
	for _, r := range roles {
		v.seed(t, iamtest.Role{Name: r.name, Path: r.path, TrustPolicy: foreignTrust})
	}
	for _, mode := range []config.Mode{config.Enforce, config.Check} {
		e := v.engine(func(c *config.Config) { c.TrustMode, c.LockdownMode = mode, mode })
		for _, r := range roles {
			t.Run(string(mode)+"/"+r.name, func(t *testing.T) {
				v.srv.ResetCalls()
				rec, err := e.Evaluate(ctx, r.name, guardrail.Trigger{}, guardrail.Claim{TrustPolicy: foreignTrust})
				wantOutcome := decision.OutcomeSkipped
				if r.class == "guardrail" {
					wantOutcome = decision.OutcomeError
					if !errors.Is(err, guardrail.ErrProtectedRoleUntrusted) {
						t.Errorf("err = %v, want ErrProtectedRoleUntrusted", err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if w := v.srv.WriteCalls(); w != 0 {
					t.Errorf("%d writes", w)
				}
				if v.srv.Calls("") != 1 {
					t.Errorf("calls %v, want GetRole only", v.srv.CallLog())
				}
				if rec.Class != r.class || rec.Outcome != wantOutcome || rec.Lockdown != decision.LockdownSkipped || len(rec.Actions) != 0 {
					t.Errorf("class %s outcome %s lockdown %s actions %v", rec.Class, rec.Outcome, rec.Lockdown, rec.Actions)
				}
				if len(rec.Principals) != 2 || slices.ContainsFunc(rec.Findings, func(f decision.Finding) bool { return f.Removed }) {
					t.Errorf("principals %v findings %v: want both listed, nothing removed", rec.Principals, rec.Findings)
				}
			})
		}
	}
}

// Each control's mode is independent; check writes nothing and marks the
// actions "would"; skip neither reads nor writes for its control.
func TestEvaluateModes(t *testing.T) {
	tests := []struct {
		trust, lockdown config.Mode
		wantActions     []string
		wantLockdown    decision.Lockdown
		wantOutcome     decision.Outcome
		wantCalls       []string // actions the server saw, in order
	}{
		{config.Enforce, config.Enforce, []string{"UpdateAssumeRolePolicy:done", "PutRolePolicy:done", "AttachRolePolicy:done"}, "attached", "changed",
			[]string{"GetRole", "ListAttachedRolePolicies", "ListRolePolicies", "TagRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "AttachRolePolicy"}},
		{config.Check, config.Check, []string{"UpdateAssumeRolePolicy:would", "PutRolePolicy:would", "AttachRolePolicy:would"}, "would-attach", "would-change",
			[]string{"GetRole", "ListAttachedRolePolicies", "ListRolePolicies"}},
		{config.Enforce, config.Check, []string{"UpdateAssumeRolePolicy:done", "PutRolePolicy:done", "AttachRolePolicy:would"}, "would-attach", "changed",
			[]string{"GetRole", "ListAttachedRolePolicies", "ListRolePolicies", "TagRole", "UpdateAssumeRolePolicy", "PutRolePolicy"}},
		{config.Skip, config.Enforce, []string{"AttachRolePolicy:done"}, "attached", "changed",
			[]string{"GetRole", "ListAttachedRolePolicies", "ListRolePolicies", "AttachRolePolicy"}},
		{config.Enforce, config.Skip, []string{"UpdateAssumeRolePolicy:done", "PutRolePolicy:done"}, "skipped", "changed",
			[]string{"GetRole", "TagRole", "UpdateAssumeRolePolicy", "PutRolePolicy"}},
		{config.Skip, config.Skip, nil, "skipped", "skipped", []string{"GetRole"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("trust=%s,lockdown=%s", tc.trust, tc.lockdown), func(t *testing.T) {
			v := newEnv(t)
			v.seed(t, iamtest.Role{Name: "app", TrustPolicy: foreignTrust})
			e := v.engine(func(c *config.Config) { c.TrustMode, c.LockdownMode = tc.trust, tc.lockdown })
			rec, err := e.Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
			if err != nil {
				t.Fatal(err)
			}
			if got := actionsOf(rec); !slices.Equal(got, tc.wantActions) {
				t.Errorf("actions = %v, want %v", got, tc.wantActions)
			}
			if rec.Lockdown != tc.wantLockdown || rec.Outcome != tc.wantOutcome {
				t.Errorf("lockdown %s outcome %s, want %s %s", rec.Lockdown, rec.Outcome, tc.wantLockdown, tc.wantOutcome)
			}
			var calls []string
			for _, c := range v.srv.CallLog() {
				calls = append(calls, c.Action)
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Errorf("calls = %v, want %v", calls, tc.wantCalls)
			}
			if tc.trust == config.Check && len(rec.TrustPolicyAfter) == 0 {
				t.Error("check mode must still show the document it would write")
			}
		})
	}
}

// Stale reads that converge: the stand-in serves the previous (compliant)
// trust policy for two reads after the foreign principal was written; the
// engine re-reads and still removes it.
func TestEvaluateStaleReadConverges(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	v.srv.SetStaleReads("app", 2)
	if _, err := v.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(foreignTrust)}); err != nil {
		t.Fatal(err)
	}
	rec, err := v.engine().Evaluate(ctx, "app", guardrail.Trigger{EventName: "UpdateAssumeRolePolicy"}, guardrail.Claim{TrustPolicy: foreignTrust})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if admits(t, v.role(t, "app").TrustPolicy, foreignAccount) {
		t.Error("foreign principal survived a stale read")
	}
	if !rec.ReadConsistent || rec.StaleReads == 0 || rec.Outcome != decision.OutcomeChanged {
		t.Errorf("read_consistent %v stale_reads %d outcome %s", rec.ReadConsistent, rec.StaleReads, rec.Outcome)
	}
}

// Stale reads that never converge, with a non-compliant claim: a retryable
// ErrStaleRead and no write at all. With a compliant claim the engine
// evaluates what it read (documented in converge).
func TestEvaluateStaleReadNeverConverges(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust})
	v.srv.SetStaleReads("app", -1)
	if _, err := v.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(foreignTrust)}); err != nil {
		t.Fatal(err)
	}
	v.srv.ResetCalls()
	// An invocation that ends inside IAM's consistency window cannot
	// re-check after it: it fails for Lambda's retry (issue 19).
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	e := v.newEngine(v.client, v.config(), guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}))
	rec, err := e.Evaluate(ctx, "app", guardrail.Trigger{EventTime: time.Now()}, guardrail.Claim{TrustPolicy: foreignTrust})
	if !errors.Is(err, guardrail.ErrStaleRead) || !guardrail.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable ErrStaleRead", err)
	}
	if w := v.srv.WriteCalls(); w != 0 {
		t.Errorf("%d writes based on a stale copy", w)
	}
	if rec.Outcome != decision.OutcomeError || rec.ReadConsistent || rec.Error == "" || len(rec.Actions) != 0 {
		t.Errorf("record: outcome %s read_consistent %v error %q actions %v", rec.Outcome, rec.ReadConsistent, rec.Error, rec.Actions)
	}
	if got := v.srv.Calls("GetRole"); got != 5 {
		t.Errorf("GetRole calls = %d, want 1 + one per backoff step (4)", got)
	}

	// A compliant claim that never shows up: which document is newer
	// decides what to restrict, and only a read after IAM's consistency
	// window can tell; before it, nothing is written either.
	rec, err = e.Evaluate(ctx, "app", guardrail.Trigger{EventTime: time.Now()}, guardrail.Claim{TrustPolicy: trustedTrust})
	if !errors.Is(err, guardrail.ErrStaleRead) || rec.ReadConsistent || v.srv.WriteCalls() != 0 {
		t.Errorf("compliant claim: err %v read_consistent %v writes %d", err, rec.ReadConsistent, v.srv.WriteCalls())
	}
}

// A claimed detach of the lockdown re-attaches it even when the read still
// shows it attached (AttachRolePolicy is idempotent).
func TestEvaluateLockdownDetached(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	v.srv.SetStaleReads("app", -1)
	if _, err := v.client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(v.lockdownARN)}); err != nil {
		t.Fatal(err)
	}
	rec, err := v.engine().Evaluate(ctx, "app", guardrail.Trigger{EventName: "DetachRolePolicy"}, guardrail.Claim{DetachedPolicyARN: v.lockdownARN})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(v.role(t, "app").AttachedPolicyARNs, v.lockdownARN) {
		t.Error("lockdown not re-attached")
	}
	if rec.Lockdown != decision.LockdownAttached || rec.ReadConsistent {
		t.Errorf("lockdown %s read_consistent %v", rec.Lockdown, rec.ReadConsistent)
	}
}

// Revocation comes only with the removal of an external principal, and only
// when configured.
func TestEvaluateRevocation(t *testing.T) {
	tests := []struct {
		name   string
		trust  string
		revoke bool
		want   bool
	}{
		{"foreign account removed", foreignTrust, true, true},
		{"wildcard removed", wildcardTrust, true, true},
		{"revocation turned off", foreignTrust, false, false},
		{"only the lockdown was missing", lambdaTrust, true, false},
		{"only a dangling ID removed", danglingTrust, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			v.seed(t, iamtest.Role{Name: "app", TrustPolicy: tc.trust})
			rec, err := v.engine(func(c *config.Config) { c.RevokeSessions = tc.revoke }).Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
			if err != nil {
				t.Fatal(err)
			}
			_, got := v.role(t, "app").InlinePolicies[guardrail.RevokePolicyName]
			if got != tc.want || (rec.RevokedSessionsBefore != nil) != tc.want {
				t.Errorf("revocation policy %v, record %v; want %v", got, rec.RevokedSessionsBefore, tc.want)
			}
			if !slices.Contains(v.role(t, "app").AttachedPolicyARNs, v.lockdownARN) {
				t.Error("lockdown not attached")
			}
		})
	}
}

// The 11th managed policy fails with LimitExceeded: the same document goes
// inline, and the next evaluation sees it in place without writing.
func TestEvaluateInlineFallback(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	var attached []string
	for i := range iamtest.DefaultManagedPoliciesPerRole {
		arn, err := v.srv.SeedPolicy(fmt.Sprintf("p%d", i), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
		if err != nil {
			t.Fatal(err)
		}
		attached = append(attached, arn)
	}
	v.seed(t, iamtest.Role{Name: "full", TrustPolicy: lambdaTrust, AttachedPolicyARNs: attached})
	e := v.engine()
	rec, err := e.Evaluate(ctx, "full", guardrail.Trigger{}, guardrail.Claim{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Lockdown != decision.LockdownInline {
		t.Fatalf("lockdown = %s, want inline; actions %v", rec.Lockdown, rec.Actions)
	}
	managed, _ := v.srv.PolicyDocument(v.lockdownARN)
	inline := v.role(t, "full").InlinePolicies[lockdown.PolicyName]
	if !policy.Equivalent(mustParse(t, managed), mustParse(t, inline)) {
		t.Errorf("inline lockdown differs from the managed one:\n%s\n%s", inline, managed)
	}
	if got, want := actionsOf(rec), []string{"AttachRolePolicy:failed", "PutRolePolicy:done"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}

	v.srv.ResetCalls()
	rec, err = e.Evaluate(ctx, "full", guardrail.Trigger{}, guardrail.Claim{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != decision.OutcomeCompliant || rec.Lockdown != decision.LockdownInline || v.srv.WriteCalls() != 0 {
		t.Errorf("second evaluation: outcome %s lockdown %s writes %d", rec.Outcome, rec.Lockdown, v.srv.WriteCalls())
	}

	// An inline policy that only borrows the name is no lockdown.
	v.seed(t, iamtest.Role{Name: "imposter", TrustPolicy: lambdaTrust, InlinePolicies: map[string]string{
		lockdown.PolicyName: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"nothing:Nothing","Resource":"*"}]}`}})
	rec, err = e.Evaluate(ctx, "imposter", guardrail.Trigger{}, guardrail.Claim{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Lockdown != decision.LockdownAttached {
		t.Errorf("imposter: lockdown %s, want attached", rec.Lockdown)
	}
}

// A deleted role is a recorded outcome, not an error.
func TestEvaluateRoleGone(t *testing.T) {
	v := newEnv(t)
	rec, err := v.engine().Evaluate(context.Background(), "deleted", guardrail.Trigger{EventID: "ev", Account: account}, guardrail.Claim{AttachedPolicyARN: v.lockdownARN})
	if err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
	if rec.Outcome != decision.OutcomeRoleGone || rec.RoleName != "deleted" || rec.EventID != "ev" || rec.Account != account || v.srv.Calls("") != 1 {
		t.Errorf("record %+v", rec)
	}
}

// With a permanent 500 on a write the error is returned for the Lambda to
// retry, and the record says what was done before and what failed.
func TestEvaluatePermanentServerError(t *testing.T) {
	tests := []struct {
		action      string
		wantActions []string
		wantWrites  []string
	}{
		{"GetRole", nil, nil},
		{"UpdateAssumeRolePolicy",
			[]string{"UpdateAssumeRolePolicy:failed", "PutRolePolicy:skipped", "AttachRolePolicy:done"},
			[]string{"TagRole", "AttachRolePolicy"}}, // the marker precedes the trust write
		{"AttachRolePolicy",
			[]string{"UpdateAssumeRolePolicy:done", "PutRolePolicy:done", "AttachRolePolicy:failed"},
			[]string{"TagRole", "UpdateAssumeRolePolicy", "PutRolePolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			v := newEnv(t)
			v.seed(t, iamtest.Role{Name: "app", TrustPolicy: foreignTrust})
			if err := v.srv.SetFaults(iamtest.Faults{Action: tc.action, ServerErrorRate: 1, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			rec, err := v.engine().Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
			if err == nil || !guardrail.IsRetryable(err) {
				t.Fatalf("err = %v, want a retryable error", err)
			}
			if rec.Outcome != decision.OutcomeError || !strings.Contains(rec.Error, "ServiceFailure") {
				t.Errorf("outcome %s error %q", rec.Outcome, rec.Error)
			}
			if got := actionsOf(rec); !slices.Equal(got, tc.wantActions) {
				t.Errorf("actions %v, want %v", got, tc.wantActions)
			}
			if got := writesInOrder(v.srv); !slices.Equal(got, tc.wantWrites) {
				t.Errorf("successful writes %v, want %v", got, tc.wantWrites)
			}
			if tc.action != "GetRole" && v.srv.Calls(tc.action) != guardrail.MaxAttempts {
				t.Errorf("%s tried %d times, want %d (SDK retries)", tc.action, v.srv.Calls(tc.action), guardrail.MaxAttempts)
			}
		})
	}
}

// A misconfigured lockdown ARN is an error that retrying cannot fix.
func TestEvaluateLockdownPolicyMissing(t *testing.T) {
	v := newEnv(t)
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust})
	e := v.engine(func(c *config.Config) { c.LockdownPolicyARN = "arn:aws:iam::" + account + ":policy/Nope" })
	rec, err := e.Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
	if !errors.Is(err, guardrail.ErrLockdownPolicyMissing) || guardrail.IsRetryable(err) {
		t.Fatalf("err = %v, want a permanent ErrLockdownPolicyMissing", err)
	}
	if rec.Lockdown != decision.LockdownFailed || rec.Outcome != decision.OutcomeError {
		t.Errorf("lockdown %s outcome %s", rec.Lockdown, rec.Outcome)
	}
}

// A trust policy the engine cannot read is never rewritten and never
// declared compliant; the lockdown still goes on.
func TestEvaluateUnreadableTrustPolicy(t *testing.T) {
	v := newEnv(t)
	v.seed(t, iamtest.Role{Name: "odd", TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`})
	rec, err := v.engine().Evaluate(context.Background(), "odd", guardrail.Trigger{}, guardrail.Claim{})
	if err == nil || guardrail.IsRetryable(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	if rec.Outcome != decision.OutcomeError || rec.Lockdown != decision.LockdownAttached {
		t.Errorf("outcome %s lockdown %s", rec.Outcome, rec.Lockdown)
	}
	if v.srv.Calls("UpdateAssumeRolePolicy") != 0 {
		t.Error("an unreadable trust policy was rewritten")
	}
}

func TestRecordJSONShape(t *testing.T) {
	v := newEnv(t)
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: foreignTrust})
	rec, err := v.engine().Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["trust_policy_before"].(map[string]any); !ok {
		t.Errorf("trust_policy_before is %T, want an object", m["trust_policy_before"])
	}
}

// One pass through the engine parses each policy document once: one
// policy.Parse per document read (each GetRole's trust policy, each inline
// or managed policy document fetched, a snapshot's trust policy) or claimed
// by the event, whatever the path. The expected count is derived from the
// stand-in's call log, and written out as a number for each path.
func TestOneParsePerDocument(t *testing.T) {
	snapshot := func(v *env, trustDoc string, attached ...string) guardrail.Role {
		return guardrail.Role{Name: "app", Path: "/", ARN: "arn:aws:iam::" + account + ":role/app",
			TrustPolicy: trustDoc, AttachedPolicyARNs: attached, InlinePolicies: map[string]string{}}
	}
	tests := []parseCase{
		{name: "compliant", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker}},
			outcome: decision.OutcomeCompliant, want: 1},
		{name: "compliant, claimed", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker}},
			claim: guardrail.Claim{TrustPolicy: lambdaTrust}, outcome: decision.OutcomeCompliant, want: 2},
		{name: "non-compliant", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			outcome: decision.OutcomeChanged, want: 1},
		{name: "non-compliant, claimed", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			claim: guardrail.Claim{TrustPolicy: foreignTrust}, outcome: decision.OutcomeChanged, want: 2},
		{name: "non-compliant, check mode", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			mods: []func(*config.Config){checkMode}, outcome: decision.OutcomeWouldChange, want: 1},
		{name: "inline lockdown read", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, InlinePolicies: map[string]string{lockdown.PolicyName: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`}},
			outcome: decision.OutcomeChanged, want: 2},
		{name: "stale reads", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker}},
			stale: 1, claim: guardrail.Claim{TrustPolicy: foreignTrust}, outcome: decision.OutcomeChanged, want: 1 + 2},
		{name: "revocation restored", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker},
			InlinePolicies: map[string]string{guardrail.RevokePolicyName: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`}},
			claim: guardrail.Claim{RevocationChanged: true}, outcome: decision.OutcomeChanged, want: 2},
		{name: "exempt", role: iamtest.Role{Name: "breakglass-admin", TrustPolicy: foreignTrust},
			outcome: decision.OutcomeSkipped, want: 1},
		{name: "sweeper snapshot, compliant", snap: func(v *env) *guardrail.Role { r := snapshot(v, lambdaTrust, v.lockdownARN); return &r },
			outcome: decision.OutcomeCompliant, want: 1},
		{name: "sweeper snapshot, check mode", snap: func(v *env) *guardrail.Role { r := snapshot(v, foreignTrust); return &r },
			mods: []func(*config.Config){checkMode}, outcome: decision.OutcomeWouldChange, want: 1},
		{name: "sweeper snapshot, re-read for a write", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			snap: func(v *env) *guardrail.Role { r := snapshot(v, foreignTrust); return &r }, outcome: decision.OutcomeChanged, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t) })
	}
}

// parseCase is one path through the engine and the parses it may make.
type parseCase struct {
	name    string
	role    iamtest.Role
	stale   int // stale GetRole reads after the event's change
	claim   guardrail.Claim
	snap    func(v *env) *guardrail.Role
	mods    []func(*config.Config)
	outcome decision.Outcome
	// want is the number of parses: documents read plus claimed.
	want int
}

func (tc parseCase) run(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	if tc.role.Name != "" {
		tc.role.AttachedPolicyARNs = slices.Clone(tc.role.AttachedPolicyARNs)
		for i, a := range tc.role.AttachedPolicyARNs {
			if a == lockdownARNMarker {
				tc.role.AttachedPolicyARNs[i] = v.lockdownARN
			}
		}
		v.seed(t, tc.role)
	}
	if tc.stale > 0 {
		v.srv.SetStaleReads("app", tc.stale)
		if _, err := v.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(foreignTrust)}); err != nil {
			t.Fatal(err)
		}
	}
	var parses atomic.Int64
	e := v.newEngine(v.client, v.config(tc.mods...), guardrail.WithClock(func() time.Time { return evalTime }),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}),
		guardrail.WithPolicyParser(func(b []byte) (*policy.Document, error) {
			parses.Add(1)
			return policy.Parse(b)
		}))
	v.srv.ResetCalls()
	var rec decision.Record
	var err error
	trig := guardrail.Trigger{EventName: "UpdateAssumeRolePolicy", EventTime: evalTime.Add(-time.Minute)}
	if tc.snap != nil {
		rec, err = e.EvaluateRole(ctx, *tc.snap(v), guardrail.Trigger{EventName: "Sweep"})
	} else {
		rec, err = e.Evaluate(ctx, tc.role.Name, trig, tc.claim)
	}
	if err != nil || rec.Outcome != tc.outcome {
		t.Fatalf("outcome %s, error %v; want %s", rec.Outcome, err, tc.outcome)
	}
	// Documents read: every GetRole's trust policy, every inline
	// document fetched, the snapshot's trust policy; documents
	// claimed: the event's trust policy.
	read := v.srv.Calls("GetRole") + v.srv.Calls("GetRolePolicy")
	if tc.snap != nil {
		read++
	}
	if tc.claim.TrustPolicy != "" {
		read++
	}
	if got := int(parses.Load()); got != tc.want || got != read {
		t.Errorf("%d parses, want %d (%d documents read or claimed; calls %v)", got, tc.want, read, v.srv.CallLog())
	}
}

// lockdownARNMarker stands for the env's lockdown policy ARN in the table.
const lockdownARNMarker = "lockdown"
