package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/internal/function"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

func TestBudget(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name                string
		left                time.Duration
		wantStart, wantStop time.Duration // before the deadline
	}{
		{"15-minute sweep keeps a minute", 15 * time.Minute, 60 * time.Second, stopMargin},
		{"5 minutes keeps a tenth", 5 * time.Minute, 30 * time.Second, stopMargin},
		{"short invocation keeps the minimum", 10 * time.Second, minStartMargin, stopMargin},
		{"almost no time: nothing starts", time.Second, minStartMargin, stopMargin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deadline := t0.Add(tc.left)
			startBy, stopAt := budget(t0, deadline)
			if got := deadline.Sub(startBy); got != tc.wantStart {
				t.Errorf("start margin %v, want %v", got, tc.wantStart)
			}
			if got := deadline.Sub(stopAt); got != tc.wantStop {
				t.Errorf("stop margin %v, want %v", got, tc.wantStop)
			}
			if startBy.After(stopAt) {
				t.Error("start deadline after the stop")
			}
		})
	}
}

type world struct {
	srv *iamtest.Server
	dep sandbox.Deployment
	h   *handler
	out *bytes.Buffer
}

func newWorld(t testing.TB, mode config.Mode) *world {
	t.Helper()
	srv, dep := sandbox.Start(t, mode)
	cfg := dep.Config
	out := &bytes.Buffer{}
	engine, err := guardrail.New(srv.Client(), cfg, guardrail.WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, dep: dep, out: out, h: newHandler(engine, cfg, out, "test")}
}

const lambdaTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// seed creates n compliant service roles (lockdown attached) and the named
// non-compliant ones.
func (w *world) seed(t testing.TB, n int, foreign ...string) {
	t.Helper()
	for i := range n {
		if _, err := w.srv.SeedRole(iamtest.Role{Name: fmt.Sprintf("app-%04d", i), Path: "/apps/", TrustPolicy: lambdaTrust,
			AttachedPolicyARNs: []string{w.dep.LockdownPolicyARN}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range foreign {
		if _, err := w.srv.SeedRole(iamtest.Role{Name: name,
			TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`}); err != nil {
			t.Fatal(err)
		}
	}
}

type output struct {
	decisions []map[string]any
	summary   map[string]any
	emf       []map[string]any
}

func (w *world) take(t testing.TB) output {
	t.Helper()
	var o output
	for _, l := range strings.Split(strings.TrimSpace(w.out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		switch {
		case m["_aws"] != nil:
			o.emf = append(o.emf, m)
		case m["msg"] == decision.Message:
			o.decisions = append(o.decisions, m)
		case m["msg"] == SummaryMessage:
			if o.summary != nil {
				t.Fatal("two summaries")
			}
			o.summary = m
		default:
			t.Fatalf("unexpected line %s", l)
		}
	}
	w.out.Reset()
	return o
}

var schedule = events.CloudWatchEvent{
	Version: "0", ID: "89d1a02d-5ec7-412e-82f5-13505f849b41", DetailType: "Scheduled Event", Source: "aws.events",
	AccountID: "111122223333", Time: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC), Region: "us-east-1",
	Resources: []string{"arn:aws:events:us-east-1:111122223333:rule/IamRoleGuardrail-Sweep"}, Detail: json.RawMessage(`{}`),
}

// TestSweep2000 sweeps 2,000 compliant roles plus a few non-compliant ones:
// every role is evaluated, the compliant ones cost only the listing calls.
func TestSweep2000(t *testing.T) {
	w := newWorld(t, config.Enforce)
	w.seed(t, 2000)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := w.h.Handle(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	o := w.take(t)
	total := 2000 + 2 + 1 // plus the guardrail's own two roles and the lockdown policy
	if len(o.decisions) != total || len(o.emf) != total {
		t.Fatalf("%d decisions and %d EMF lines, want %d of each", len(o.decisions), len(o.emf), total)
	}
	calls := len(w.srv.CallLog())
	t.Logf("2,002 roles: %d IAM calls (%d GetAccountAuthorizationDetails), summary %v", calls,
		w.srv.Calls("GetAccountAuthorizationDetails"), o.summary)
	if calls >= 25 {
		t.Errorf("%d IAM calls for 2,000 compliant roles, target under 25", calls)
	}
	if w.srv.WriteCalls() != 0 {
		t.Errorf("%d writes on compliant roles", w.srv.WriteCalls())
	}
	s := o.summary
	if s["evaluated"] != float64(total-1) || s["compliant"] != float64(2000) || s["skipped"] != float64(2) ||
		s["left"] != float64(0) || s["errors"] != float64(0) || s["api_calls"] != float64(calls) {
		t.Errorf("summary %v", s)
	}
	if s["level"] != "INFO" || s["event_id"] != schedule.ID {
		t.Errorf("summary level/event %v/%v", s["level"], s["event_id"])
	}
	for _, d := range o.decisions {
		if d["event_name"] != "Sweep" || d["delivery_lag_ms"] != nil || d["actor"] != schedule.Resources[0] {
			t.Fatalf("record not labelled as a sweep: %v", d)
		}
	}
}

func TestSweepFixes(t *testing.T) {
	w := newWorld(t, config.Enforce)
	w.seed(t, 20, "vendor-a", "vendor-b")
	if err := sandbox.SeedExisting(w.srv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.h.Handle(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	o := w.take(t)
	if o.summary["changed"].(float64) < 4 || o.summary["errors"] != float64(0) {
		t.Errorf("summary %v", o.summary)
	}
	for _, name := range []string{"vendor-a", "vendor-b", "vendor-monitoring"} {
		st, _ := w.srv.Role(name)
		if strings.Contains(st.TrustPolicy, "arn:aws:iam::999988887777") || strings.Contains(st.TrustPolicy, "754728514883") {
			t.Errorf("%s still trusts a foreign account: %s", name, st.TrustPolicy)
		}
	}
	if st, _ := w.srv.Role("breakglass-admin"); len(st.AttachedPolicyARNs) != 1 {
		t.Errorf("exempt role was changed: %v", st.AttachedPolicyARNs)
	}
	// A second sweep finds everything compliant and writes nothing.
	before := w.srv.WriteCalls()
	if err := w.h.Handle(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	if o := w.take(t); o.summary["changed"] != float64(0) || w.srv.WriteCalls() != before {
		t.Errorf("second sweep: summary %v, %d writes", o.summary, w.srv.WriteCalls()-before)
	}
}

// TestSweepTimeBudget gives the sweep less time than it needs: it stops
// early, names what it left, logs the summary and fails the invocation.
func TestSweepTimeBudget(t *testing.T) {
	w := newWorld(t, config.Enforce)
	w.seed(t, 0, "v-0", "v-1", "v-2", "v-3", "v-4", "v-5", "v-6", "v-7", "v-8", "v-9", "v-10", "v-11")
	// Every write takes a while; the listing itself is fast.
	for _, a := range []string{"GetRole", "UpdateAssumeRolePolicy", "AttachRolePolicy", "PutRolePolicy", "ListAttachedRolePolicies"} {
		if err := w.srv.SetFaults(iamtest.Faults{Action: a, Latency: 150 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	w.h.concurrency = 1
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.h.Handle(ctx, schedule)
	if err == nil || !strings.Contains(err.Error(), "sweep incomplete") {
		t.Fatalf("Handle = %v, want an incomplete sweep", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the sweep used its whole invocation (%v); no time was left to log", time.Since(start))
	}
	o := w.take(t)
	left, _ := o.summary["left"].(float64)
	roles, _ := o.summary["left_roles"].([]any)
	if left == 0 || int(left) != len(roles) || o.summary["level"] != "ERROR" {
		t.Errorf("summary %v", o.summary)
	}
	if got := len(o.decisions) + int(left); got != 14+1 {
		t.Errorf("%d records + %v left = %d, want all 14 roles and the lockdown policy accounted for", len(o.decisions), left, got)
	}
}

func TestSweepListingFails(t *testing.T) {
	w := newWorld(t, config.Enforce)
	w.seed(t, 3)
	if err := w.srv.SetFaults(iamtest.Faults{Action: "GetAccountAuthorizationDetails", ServerErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := w.h.Handle(ctx, schedule)
	if err == nil || !strings.Contains(err.Error(), "before evaluating any role") {
		t.Fatalf("Handle = %v", err)
	}
	o := w.take(t)
	// Only the lockdown policy's record, checked before the listing.
	if o.summary == nil || o.summary["error"] == nil || len(o.decisions) != 1 || o.summary["lockdown_policy"] != "present" {
		t.Errorf("summary %v, %d decisions", o.summary, len(o.decisions))
	}
}

func TestSetup(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	var out bytes.Buffer
	if _, err := function.Setup(context.Background(), func(k string) string {
		return map[string]string{config.EnvRevokeSessions: "maybe"}[k]
	}, &out, version, start); err == nil || !strings.Contains(out.String(), config.EnvRevokeSessions) {
		t.Errorf("invalid configuration: err %v, log %s", err, out.String())
	}
}

func BenchmarkSweep2000Compliant(b *testing.B) {
	w := newWorld(b, config.Enforce)
	w.seed(b, 2000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.h.Handle(ctx, schedule); err != nil {
			b.Fatal(err)
		}
		w.out.Reset()
	}
}
