package guardrail_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// callClock is a clock that advances by perCall for every request the
// stand-in has received: a sweep's time goes into IAM calls (a compliant role
// costs none), so its budget runs out after a number of calls that does not
// depend on the machine.
type callClock struct {
	srv     *iamtest.Server
	start   time.Time
	perCall time.Duration
}

func (c *callClock) now() time.Time {
	return c.start.Add(time.Duration(c.srv.Calls("")) * c.perCall)
}

// TestSweepUnderPressure sweeps 2,000 roles, 300 of them open to a foreign
// account, with 30 % of IAM calls throttled (issue 14, item 4). Each run has
// a time budget too short for the whole account: it must account for every
// role (a record, or its name in LeftRoles, never both), and the next run,
// given those names as First, must start with them. Runs repeat until one
// finishes; then every role is compliant.
func TestSweepUnderPressure(t *testing.T) {
	v := newEnv(t)
	const total, open = 2000, 300
	for i := range total {
		r := iamtest.Role{Name: fmt.Sprintf("app-%04d", i), TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}}
		if i%(total/open) == 0 {
			r.TrustPolicy, r.AttachedPolicyARNs = foreignTrust, nil
		}
		v.seed(t, r)
	}
	if err := v.srv.SetFaults(iamtest.Faults{ThrottleRate: 0.3, Seed: 14}); err != nil {
		t.Fatal(err)
	}
	// The product's retry policy (guardrail.MaxAttempts attempts) without
	// the waits, which the stepping clock stands in for.
	client := iam.NewFromConfig(v.srv.Config(), func(o *iam.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = guardrail.MaxAttempts
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			so.RateLimiter = noRateLimit{}
		})
	})
	clock := &callClock{srv: v.srv, start: evalTime, perCall: 50 * time.Millisecond}
	e, err := guardrail.New(client, v.config(), guardrail.WithVersion("test"), guardrail.WithClock(clock.now),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}

	var first []string
	for run := 1; ; run++ {
		if run > 40 {
			t.Fatal("40 sweeps and still roles left")
		}
		var order []string
		seen := map[string]bool{}
		opts := guardrail.SweepOptions{Concurrency: 1, First: first,
			// A budget of 400 IAM calls, throttled ones included.
			Deadline: clock.now().Add(20 * time.Second)}
		sum, err := e.Sweep(context.Background(), opts, func(r decision.Record) {
			if r.RoleName == "" {
				return // the lockdown policy's record
			}
			order = append(order, r.RoleName)
			seen[r.RoleName] = true
		})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		// Precisely the roles left: every listed role has a record or is
		// named as left, never both, and the count matches.
		if sum.Listed != total || sum.Evaluated+sum.Left != total || len(sum.LeftRoles) != sum.Left {
			t.Fatalf("run %d: summary %+v does not account for %d roles", run, sum, total)
		}
		for _, name := range sum.LeftRoles {
			if seen[name] {
				t.Fatalf("run %d: %s both evaluated and left", run, name)
			}
		}
		// The run started with the roles the previous one left, in order.
		if n := min(len(first), len(order)); !slices.Equal(order[:n], first[:n]) {
			t.Fatalf("run %d did not start with the %d roles the previous run left:\nfirst %v\ngot   %v", run, len(first), first[:min(n, 5)], order[:min(n, 5)])
		}
		if run == 1 && sum.Left == 0 {
			t.Fatal("the first run finished: the budget is too generous to test anything")
		}
		t.Logf("run %d: %d evaluated (%d changed, %d errors), %d left, %d IAM calls", run, sum.Evaluated, sum.Changed, sum.Errors, sum.Left, sum.APICalls)
		if sum.Left == 0 && sum.Errors == 0 {
			break
		}
		first = sum.LeftRoles
		if sum.Left == 0 {
			first = nil
		}
	}
	throttled := 0
	for _, c := range v.srv.CallLog() {
		if c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no call was throttled; the test proves nothing")
	}
	v.srv.ClearFaults()
	for i := 0; i < total; i += total / open {
		st := v.role(t, fmt.Sprintf("app-%04d", i))
		if !slices.Contains(st.AttachedPolicyARNs, v.lockdownARN) || st.TrustPolicy == foreignTrust {
			t.Errorf("app-%04d not compliant after the sweeps: %+v", i, st)
		}
	}
}

// A sweep given First evaluates those roles first, in that order, skipping
// names the account does not hold; the others follow in listing order.
func TestSweepFirst(t *testing.T) {
	v := newEnv(t)
	for i := range 6 {
		v.seed(t, iamtest.Role{Name: fmt.Sprintf("r-%d", i), TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	}
	var order []string
	_, err := v.engine().Sweep(context.Background(), guardrail.SweepOptions{Concurrency: 1, First: []string{"R-4", "gone", "r-1"}},
		func(r decision.Record) {
			if r.RoleName != "" {
				order = append(order, r.RoleName)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"r-4", "r-1", "r-0", "r-2", "r-3", "r-5"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
}

// noRateLimit lets the test's client retry without the SDK's retry quota.
type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }
