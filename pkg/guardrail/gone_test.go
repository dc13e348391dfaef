package guardrail_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

// fakeTime is a clock that moves only when the engine waits, so waits of
// minutes take no time and are exact.
type fakeTime struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (f *fakeTime) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	f.slept += d
	return ctx.Err()
}

func (v *env) timedEngine(ft *fakeTime, mods ...func(*config.Config)) *guardrail.Engine {
	return v.newEngine(v.client, v.config(mods...), guardrail.WithVersion("test"),
		guardrail.WithClock(ft.now), guardrail.WithSleep(ft.sleep),
		guardrail.WithStaleReadBackoff([]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}))
}

// A role that GetRole does not show is role-gone once IAM's consistency
// window, measured from the event time, has passed: at once for a late
// event whatever it claimed, after waiting for a fresh one, and a retryable
// error when the invocation's time ends first (issue 10, item 9).
func TestEvaluateRoleNotVisible(t *testing.T) {
	const window = 2 * time.Minute
	tests := []struct {
		name      string
		stale     int           // reads of "new" that still miss it after CreateRole (-1: all)
		create    bool          // the role exists (else it was deleted: every read misses)
		eventAge  time.Duration // event time before the evaluation; -1: no event time
		eventName string
		deadline  time.Duration // 0: none
		wantErr   error
		outcome   decision.Outcome
		minWait   time.Duration
		maxCalls  int
	}{
		{name: "late event, deleted role: at once, whatever it claimed", eventAge: 15 * time.Minute, eventName: "CreateRole",
			outcome: decision.OutcomeRoleGone, maxCalls: 1},
		{name: "fresh event, deleted role: waits out the window", eventAge: time.Second, eventName: "CreateRole",
			outcome: decision.OutcomeRoleGone, minWait: window - time.Second, maxCalls: 40},
		{name: "no event time: taken as fresh", eventAge: -1, eventName: "CreateRole",
			outcome: decision.OutcomeRoleGone, minWait: window, maxCalls: 40},
		{name: "fresh event, deadline first: retried", eventAge: time.Second, eventName: "UpdateAssumeRolePolicy", deadline: 50 * time.Second,
			wantErr: guardrail.ErrStaleRead, outcome: decision.OutcomeError, minWait: 40 * time.Second},
		{name: "fresh event, role appears", create: true, stale: 3, eventAge: time.Second, eventName: "CreateRole",
			outcome: decision.OutcomeChanged},
		{name: "sweep: no event to wait for", eventAge: 0, eventName: "Sweep", outcome: decision.OutcomeRoleGone, maxCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			ctx := context.Background()
			if tc.create {
				v.srv.SetStaleReads("new", tc.stale)
				if _, err := v.client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("new"), AssumeRolePolicyDocument: aws.String(foreignTrust)}); err != nil {
					t.Fatal(err)
				}
				v.srv.ResetCalls()
			}
			start := time.Now()
			ft := &fakeTime{t: start}
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, start.Add(tc.deadline))
				defer cancel()
			}
			trig := guardrail.Trigger{EventID: "ev", EventName: tc.eventName, Account: account}
			if tc.eventAge >= 0 {
				trig.EventTime = start.Add(-tc.eventAge)
			}
			rec, err := v.timedEngine(ft, func(c *config.Config) { c.ConsistencyWindow = window }).
				Evaluate(ctx, "new", trig, guardrail.Claim{TrustPolicy: foreignTrust})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil && !guardrail.IsRetryable(err) {
				t.Errorf("error not retryable: %v", err)
			}
			if rec.Outcome != tc.outcome || rec.Account != account {
				t.Errorf("outcome %s account %q, want %s %s", rec.Outcome, rec.Account, tc.outcome, account)
			}
			if ft.slept < tc.minWait {
				t.Errorf("waited %s, want at least %s", ft.slept, tc.minWait)
			}
			if tc.deadline > 0 && ft.now().After(start.Add(tc.deadline)) {
				t.Errorf("waited past the deadline: %s", ft.now().Sub(start))
			}
			if tc.maxCalls > 0 && v.srv.Calls("") > tc.maxCalls {
				t.Errorf("%d calls, want at most %d", v.srv.Calls(""), tc.maxCalls)
			}
			if !tc.create && v.srv.WriteCalls() != 0 {
				t.Errorf("%d writes", v.srv.WriteCalls())
			}
			if tc.create && admits(t, v.role(t, "new").TrustPolicy, foreignAccount) {
				t.Errorf("foreign account not stripped: %s", v.role(t, "new").TrustPolicy)
			}
		})
	}
}

// staleAttached answers NoSuchEntity to the first n ListAttachedRolePolicies
// calls, as a read API that lags behind GetRole does.
type staleAttached struct {
	*iam.Client
	mu sync.Mutex
	n  int
}

func (s *staleAttached) ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	s.mu.Lock()
	stale := s.n > 0
	if stale {
		s.n--
	}
	s.mu.Unlock()
	if stale {
		return nil, &types.NoSuchEntityException{Message: aws.String("The role with name " + aws.ToString(in.RoleName) + " cannot be found.")}
	}
	return s.Client.ListAttachedRolePolicies(ctx, in, optFns...)
}

// Issue 19, defect 1: once a read of the invocation has seen the role, a
// NoSuchEntity from another read API is staleness: re-read, and if it
// persists fail for a retry; never role-gone for a role that exists.
func TestEvaluateSeenRoleIsNeverGone(t *testing.T) {
	star := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	for _, tc := range []struct {
		name       string
		staleLists int
		wantErr    error
		outcome    decision.Outcome
	}{
		{"list catches up", 2, nil, decision.OutcomeChanged},
		{"list stays stale", 100, guardrail.ErrStaleRead, decision.OutcomeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			ctx := context.Background()
			v.srv.SetStaleReads("open", 2) // GetRole misses it twice
			if _, err := v.client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("open"), AssumeRolePolicyDocument: aws.String(star)}); err != nil {
				t.Fatal(err)
			}
			ft := &fakeTime{t: time.Now()}
			client := &staleAttached{Client: v.client, n: tc.staleLists}
			e := v.newEngine(client, v.config(), guardrail.WithClock(ft.now), guardrail.WithSleep(ft.sleep),
				guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}))
			rec, err := e.Evaluate(ctx, "open", guardrail.Trigger{EventName: "CreateRole", EventTime: ft.now(), Account: account}, guardrail.Claim{TrustPolicy: star})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !guardrail.IsRetryable(err)) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if rec.Outcome != tc.outcome {
				t.Errorf("outcome %s, want %s (error %s)", rec.Outcome, tc.outcome, rec.Error)
			}
			if tc.wantErr != nil && !strings.Contains(rec.Error, "stale read, not a deletion") {
				t.Errorf("error %q does not say why", rec.Error)
			}
			if tc.wantErr == nil && (admits(t, v.role(t, "open").TrustPolicy, foreignAccount) || !slicesContains(v.role(t, "open").AttachedPolicyARNs, v.lockdownARN)) {
				t.Errorf("role left open: %+v", v.role(t, "open"))
			}
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
