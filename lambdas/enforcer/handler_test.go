package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/internal/function"
	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// world is a sandbox account with an enforcer handler writing to out.
type world struct {
	srv *iamtest.Server
	dep sandbox.Deployment
	h   *handler
	out *bytes.Buffer
}

func newWorld(t *testing.T, mode config.Mode) *world {
	t.Helper()
	srv := iamtest.NewServer()
	t.Cleanup(srv.Close)
	dep, err := sandbox.Deploy(srv, mode)
	if err != nil {
		t.Fatal(err)
	}
	cfg := dep.Config
	engine, err := guardrail.New(srv.Client(), cfg, guardrail.WithVersion("test"),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond, 2 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	return &world{srv: srv, dep: dep, h: newHandler(engine, cfg, out, "test"), out: out}
}

// line is one decision line the handler wrote, with the fields tests read.
type line struct {
	Msg       string            `json:"msg"`
	Level     string            `json:"level"`
	EventID   string            `json:"event_id"`
	EventName string            `json:"event_name"`
	RoleName  string            `json:"role_name"`
	Class     string            `json:"class"`
	Outcome   decision.Outcome  `json:"outcome"`
	Reason    string            `json:"reason"`
	Error     string            `json:"error"`
	Lockdown  decision.Lockdown `json:"lockdown"`
	Lag       *int64            `json:"delivery_lag_ms"`
	Account   string            `json:"account"`
	PolicyARN string            `json:"policy_arn"`
	Actions   []struct {
		API    string `json:"api"`
		Result string `json:"result"`
	} `json:"actions"`
	Findings []struct {
		Principal string `json:"principal"`
		Removed   bool   `json:"removed"`
	} `json:"findings"`
}

// take parses and clears what the handler wrote: decision lines and the
// number of EMF lines.
func (w *world) take(t *testing.T) (decisions []line, emf int) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(w.out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line is not JSON: %q", l)
		}
		if _, ok := m["_aws"]; ok {
			emf++
			continue
		}
		var d line
		json.Unmarshal([]byte(l), &d)
		if d.Msg != decision.Message {
			t.Fatalf("unexpected log line %s", l)
		}
		decisions = append(decisions, d)
	}
	w.out.Reset()
	return decisions, emf
}

// handleOne runs one event and returns its single decision.
func (w *world) handleOne(t *testing.T, ev events.CloudWatchEvent) (line, error) {
	t.Helper()
	err := w.h.Handle(context.Background(), ev)
	ds, emf := w.take(t)
	if len(ds) != 1 || emf != 1 {
		t.Fatalf("wrote %d decisions and %d EMF lines, want 1 and 1", len(ds), emf)
	}
	return ds[0], err
}

// TestHandleEventsStory replays every event in events/ in event-time order
// against one sandbox account (the IAM call, then its delivery, then a
// duplicate delivery) and checks each decision, that duplicates write
// nothing, and that every service role ends compliant.
func TestHandleEventsStory(t *testing.T) {
	type want struct {
		outcome decision.Outcome
		removed string // a principal the decision removes
		reason  string // for ignored events
	}
	wants := map[string]want{
		"CreateServiceLinkedRole-ecs.json":                  {outcome: "ignored", reason: "service-linked"},
		"CreateRole-lambda-execution-role.json":             {outcome: "changed"},
		"AttachRolePolicy-basic-execution.json":             {outcome: "compliant"},
		"PutRolePolicy-inline.json":                         {outcome: "compliant"},
		"CreateRole-foreign-account.json":                   {outcome: "changed", removed: "arn:aws:iam::999988887777:root"},
		"ignored-guardrail-own-change.json":                 {outcome: "ignored", reason: "guardrail's own role"},
		"CreateRole-org-restricted.json":                    {outcome: "changed"},
		"CreateRole-github-oidc-no-subject.json":            {outcome: "changed", removed: "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
		"CreateRole-github-oidc-tenants.json":               {outcome: "changed", removed: "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
		"UpdateAssumeRolePolicy-principal-star.json":        {outcome: "changed", removed: "*"},
		"ignored-forged-source.json":                        {outcome: "ignored", reason: "source"},
		"UpdateAssumeRolePolicy-trusted-account.json":       {outcome: "compliant"},
		"DetachRolePolicy-lockdown.json":                    {outcome: "changed"},
		"DeleteRolePolicy-inline.json":                      {outcome: "compliant"},
		"PutRolePermissionsBoundary.json":                   {outcome: "compliant"},
		"DeleteRolePermissionsBoundary.json":                {outcome: "compliant"},
		"UpdateRole-max-session.json":                       {outcome: "compliant"},
		"ignored-UpdateAssumeRolePolicy-access-denied.json": {outcome: "ignored", reason: "AccessDenied"},
		"ignored-TagRole.json":                              {outcome: "ignored", reason: "TagRole"},
	}
	files, err := fixtures.Events()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(wants) {
		t.Errorf("%d files in events/, %d expectations", len(files), len(wants))
	}
	sort.SliceStable(files, func(i, j int) bool { return eventTime(files[i]).Before(eventTime(files[j])) })

	w := newWorld(t, config.Enforce)
	if _, err := w.srv.SeedRole(sandbox.ExistingRoles[0]); err != nil { // legacy-batch
		t.Fatal(err)
	}
	ctx := context.Background()
	client := w.srv.Client()
	for _, f := range files {
		wt, ok := wants[f.Name]
		if !ok {
			t.Errorf("no expectation for %s", f.Name)
			continue
		}
		if _, err := replay.Apply(ctx, client, f.Event); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		d, err := w.handleOne(t, f.Event)
		if err != nil {
			t.Fatalf("%s: Handle: %v", f.Name, err)
		}
		if d.Outcome != wt.outcome {
			t.Errorf("%s: outcome %q (error %q), want %q", f.Name, d.Outcome, d.Error, wt.outcome)
		}
		if wt.reason != "" && !strings.Contains(d.Reason, wt.reason) {
			t.Errorf("%s: reason %q, want it to mention %q", f.Name, d.Reason, wt.reason)
		}
		if wt.outcome != "ignored" && d.Reason != "" {
			t.Errorf("%s: evaluated record carries an ignore reason %q", f.Name, d.Reason)
		}
		if wt.removed != "" && !slices.ContainsFunc(d.Findings, func(fd struct {
			Principal string `json:"principal"`
			Removed   bool   `json:"removed"`
		}) bool {
			return fd.Removed && (fd.Principal == wt.removed || strings.HasSuffix(fd.Principal, ":"+wt.removed))
		}) {
			t.Errorf("%s: findings %+v do not remove %s", f.Name, d.Findings, wt.removed)
		}
		if f.Name == "CreateRole-github-oidc-tenants.json" {
			// Issue 22: the STS claim key and the immutable subject name a
			// trusted tenant and stay; the statement naming another owner goes.
			g, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("github-release")})
			if err != nil {
				t.Fatal(err)
			}
			doc, _ := url.QueryUnescape(aws.ToString(g.Role.AssumeRolePolicyDocument))
			if !strings.Contains(doc, "ReleaseFromOwnerById") || !strings.Contains(doc, "DeployFromImmutableSubject") || strings.Contains(doc, "ContractorRepository") {
				t.Errorf("%s: trust policy after the guardrail: %s", f.Name, doc)
			}
		}
		if d.EventID == "" || d.Lag == nil && f.Name != "ignored-forged-source.json" {
			t.Errorf("%s: record lacks event_id or delivery_lag_ms: %+v", f.Name, d)
		}

		// EventBridge delivers at least once: a duplicate changes nothing.
		before := w.srv.WriteCalls()
		dup, err := w.handleOne(t, f.Event)
		if err != nil {
			t.Fatalf("%s: duplicate: %v", f.Name, err)
		}
		writes := w.srv.WriteCalls() - before
		if f.Name == "DetachRolePolicy-lockdown.json" {
			// A claimed detach of the lockdown is answered by attaching it
			// whatever the read shows, since the read may predate the
			// detach; AttachRolePolicy is idempotent, so this costs one call.
			if writes > 1 {
				t.Errorf("%s: duplicate delivery wrote %d times, want at most the idempotent re-attach", f.Name, writes)
			}
			continue
		}
		if writes != 0 {
			t.Errorf("%s: duplicate delivery wrote %d times", f.Name, writes)
		}
		if dup.Outcome == "changed" {
			t.Errorf("%s: duplicate delivery changed the role again", f.Name)
		}
	}

	// End state: a check-mode sweep finds nothing left to change.
	cfg, _ := config.FromEnv(func(k string) string {
		if k == config.EnvMode {
			return "check"
		}
		return w.dep.Env[k]
	})
	engine, err := guardrail.New(w.srv.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := engine.Sweep(ctx, guardrail.SweepOptions{}, func(rec decision.Record) {
		if rec.Outcome != decision.OutcomeCompliant && rec.Outcome != decision.OutcomeSkipped {
			t.Errorf("after the story, role %s is %s: %+v", rec.RoleName, rec.Outcome, rec.Findings)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Evaluated < 7 {
		t.Errorf("final sweep evaluated %d roles", sum.Evaluated)
	}
}

func eventTime(f fixtures.File) time.Time {
	c, _ := cloudtrail.Decode(f.Event)
	if c.EventTime.IsZero() {
		return f.Event.Time
	}
	return c.EventTime
}

// TestHandleCorpus delivers every real CloudTrail record of the shared corpus
// (wrapped in an envelope where it is bare) to the handler, with the role it
// names present in the account as the call left it: each is evaluated or
// ignored with a reason, and none fails.
func TestHandleCorpus(t *testing.T) {
	files, err := fixtures.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[decision.Outcome]int{}
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			w := newWorld(t, config.Enforce)
			c, derr := cloudtrail.Decode(f.Event)
			if derr == nil {
				trust := c.TrustPolicy
				if trust == "" {
					trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
				}
				if _, err := w.srv.SeedRole(iamtest.Role{Name: c.RoleName, TrustPolicy: trust}); err != nil {
					t.Fatalf("seed %s: %v", c.RoleName, err)
				}
			}
			d, err := w.handleOne(t, f.Event)
			if err != nil {
				t.Fatalf("Handle: %v (record %+v)", err, d)
			}
			counts[d.Outcome]++
			switch d.Outcome {
			case "ignored":
				if d.Reason == "" {
					t.Error("ignored without a reason")
				}
			case "changed", "compliant", "skipped":
				if d.RoleName != c.RoleName {
					t.Errorf("evaluated role %q, event names %q", d.RoleName, c.RoleName)
				}
			default:
				t.Errorf("outcome %q (error %q)", d.Outcome, d.Error)
			}
		})
	}
	t.Logf("corpus outcomes: %v", counts)
}

// fakeEngine returns a fixed record and error.
type fakeEngine struct {
	rec   decision.Record
	err   error
	calls int
	role  string
	claim guardrail.Claim
	ev    guardrail.Event
}

func (f *fakeEngine) HandleEvent(_ context.Context, ev guardrail.Event) (decision.Record, error) {
	f.calls++
	f.role, f.claim, f.ev = ev.RoleName, guardrail.ClaimOf(ev), ev
	return f.rec, f.err
}

// RecheckDue is the real engine's with the default window: 2×2m + 60s + 1s.
func (f *fakeEngine) RecheckDue(eventTime time.Time) time.Time {
	return eventTime.Add(5*time.Minute + time.Second)
}

type apiErr struct{ code string }

func (e apiErr) Error() string                 { return e.code }
func (e apiErr) ErrorCode() string             { return e.code }
func (e apiErr) ErrorMessage() string          { return e.code }
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

func TestHandleErrors(t *testing.T) {
	ev, err := fixtures.Event("CreateRole-foreign-account.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{TrustMode: config.Enforce, LockdownMode: config.Enforce, MetricsNamespace: "Test",
		ProtectedRoleARNs: []string{"arn:aws:iam::111122223333:role/IamRoleGuardrail-*"}}
	tests := []struct {
		name        string
		rec         decision.Record
		err         error
		wantErr     string // substring; "" for nil
		wantOutcome decision.Outcome
	}{
		{name: "throttled: retried", rec: decision.Record{Outcome: "error", Error: "Throttling"},
			err: fmt.Errorf("get role: %w", apiErr{"Throttling"}), wantErr: "transient failure", wantOutcome: "error"},
		{name: "stale read: retried", rec: decision.Record{Outcome: "error"},
			err: fmt.Errorf("x: %w", guardrail.ErrStaleRead), wantErr: "transient failure", wantOutcome: "error"},
		{name: "permanent: fails too, so the event reaches the failure queue", rec: decision.Record{Outcome: "error", Error: "AccessDenied"},
			err: fmt.Errorf("update: %w", apiErr{"AccessDenied"}), wantErr: "permanent failure", wantOutcome: "error"},
		{name: "error without error outcome is recorded as error", rec: decision.Record{Outcome: "changed"},
			err: errors.New("half done"), wantErr: "half done", wantOutcome: "error"},
		{name: "role gone: acknowledged", rec: decision.Record{Outcome: "role-gone"}, wantOutcome: "role-gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fe := &fakeEngine{rec: tc.rec, err: tc.err}
			out := &bytes.Buffer{}
			w := &world{h: newHandler(fe, cfg, out, "test"), out: out}
			d, err := w.handleOne(t, ev.Event)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Handle = %v, want error containing %q", err, tc.wantErr)
			}
			if d.Outcome != tc.wantOutcome {
				t.Errorf("outcome %q, want %q", d.Outcome, tc.wantOutcome)
			}
			if tc.wantErr != "" && (d.Error == "" || d.Level != "ERROR") {
				t.Errorf("failed evaluation logged without error text or at level %s", d.Level)
			}
			if fe.role != "partner-reporting" || !strings.Contains(fe.claim.TrustPolicy, "999988887777") {
				t.Errorf("engine called with role %q claim %+v", fe.role, fe.claim)
			}
		})
	}
}

func TestHandleIgnoresWithoutEvaluating(t *testing.T) {
	own, err := fixtures.Event("ignored-guardrail-own-change.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		ev        events.CloudWatchEvent
		protected []string
		reason    string
	}{
		{name: "guardrail's own role by pattern", ev: own.Event, protected: []string{"arn:aws:iam::111122223333:role/IamRoleGuardrail-*"}, reason: "guardrail's own role"},
		{name: "guardrail's own role by ARN", ev: own.Event, protected: []string{"arn:aws:iam::111122223333:role/IamRoleGuardrail-EnforcerRole"}, reason: "guardrail's own role"},
		{name: "garbage detail", ev: events.CloudWatchEvent{Source: "aws.iam", DetailType: cloudtrail.DetailType, Detail: json.RawMessage(`"x"`)}, reason: "not a JSON object"},
		{name: "empty event", ev: events.CloudWatchEvent{}, reason: "source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fe := &fakeEngine{}
			out := &bytes.Buffer{}
			cfg := config.Config{TrustMode: config.Check, LockdownMode: config.Enforce, MetricsNamespace: "Test", ProtectedRoleARNs: tc.protected}
			w := &world{h: newHandler(fe, cfg, out, "v1"), out: out}
			d, err := w.handleOne(t, tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if fe.calls != 0 {
				t.Error("ignored event was evaluated")
			}
			if d.Outcome != "ignored" || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("outcome %q reason %q, want ignored with %q", d.Outcome, d.Reason, tc.reason)
			}
		})
	}
	// Without the guardrail's ARNs configured the same event is evaluated.
	fe := &fakeEngine{rec: decision.Record{Outcome: "compliant"}}
	out := &bytes.Buffer{}
	w := &world{h: newHandler(fe, config.Config{MetricsNamespace: "T"}, out, "v1"), out: out}
	if _, err := w.handleOne(t, own.Event); err != nil || fe.calls != 1 {
		t.Errorf("unprotected issuer: err %v, %d evaluations", err, fe.calls)
	}
}

func TestSetup(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "valid", env: map[string]string{config.EnvLockdownPolicyARN: "arn:aws:iam::111122223333:policy/GuardrailLockdown", "AWS_REGION": "us-east-1"}},
		{name: "bad mode", env: map[string]string{config.EnvMode: "audit", config.EnvLockdownPolicyARN: "arn:aws:iam::111122223333:policy/GuardrailLockdown"}, wantErr: config.EnvMode},
		{name: "no lockdown policy", env: map[string]string{}, wantErr: config.EnvLockdownPolicyARN},
		{name: "bad account", env: map[string]string{config.EnvTrustedAccounts: "12345", config.EnvLockdownPolicyARN: "arn:aws:iam::111122223333:policy/GuardrailLockdown"}, wantErr: "12345"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_CONFIG_FILE", "/dev/null")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
			var out bytes.Buffer
			h, err := function.Setup(context.Background(), func(k string) string { return tc.env[k] }, &out, version, start)
			if tc.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("setup: %v", err)
				}
				if !strings.Contains(out.String(), `"msg":"configuration"`) {
					t.Errorf("configuration not logged: %s", out.String())
				}
				return
			}
			if err == nil {
				t.Fatal("invalid configuration accepted")
			}
			if !strings.Contains(out.String(), "invalid configuration") || !strings.Contains(out.String(), tc.wantErr) {
				t.Errorf("log does not name the problem %q: %s", tc.wantErr, out.String())
			}
		})
	}
}
