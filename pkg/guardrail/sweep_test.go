package guardrail_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

const orgRestrictedTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole",` +
	`"Condition":{"StringEquals":{"aws:PrincipalAccount":"` + trustedAccount + `"}}}]}`

// seedMixed seeds n roles of every kind an account holds and returns their
// names by kind.
func seedMixed(t testing.TB, v *env, n int) {
	t.Helper()
	kinds := []iamtest.Role{
		{Name: "compliant", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}},
		{Name: "no-lockdown", TrustPolicy: lambdaTrust},
		{Name: "foreign", TrustPolicy: foreignTrust, AttachedPolicyARNs: []string{v.lockdownARN}},
		{Name: "wildcard", TrustPolicy: wildcardTrust},
		{Name: "trusted", TrustPolicy: trustedTrust, AttachedPolicyARNs: []string{v.lockdownARN}},
		{Name: "org", TrustPolicy: orgRestrictedTrust},
		{Name: "dangling", TrustPolicy: danglingTrust, AttachedPolicyARNs: []string{v.lockdownARN}},
		{Name: "AWSServiceRoleForX", Path: "/aws-service-role/x.amazonaws.com/", TrustPolicy: foreignTrust},
		{Name: "breakglass", TrustPolicy: wildcardTrust},
		{Name: "IamRoleGuardrail-Sweeper", TrustPolicy: lambdaTrust},
	}
	for i := range n {
		r := kinds[i%len(kinds)]
		r.Name = fmt.Sprintf("%s-%03d", r.Name, i)
		v.seed(t, r)
	}
}

// lockdownPolicyCalls is what a full sweep spends checking the lockdown
// policy's default version: ListPolicyVersions and GetPolicyVersion.
const lockdownPolicyCalls = 2

// sweep runs a sweep and returns its role records by name; the lockdown
// policy's record (one per full sweep) is checked and left out.
func sweep(t testing.TB, e *guardrail.Engine, opts guardrail.SweepOptions) (guardrail.SweepSummary, map[string]decision.Record) {
	t.Helper()
	recs := map[string]decision.Record{}
	policyRecs := 0
	sum, err := e.Sweep(context.Background(), opts, func(r decision.Record) {
		if r.PolicyARN != "" {
			policyRecs++
			if len(recs) > 0 {
				t.Error("lockdown policy checked after roles")
			}
			return
		}
		if _, dup := recs[r.RoleName]; dup {
			t.Errorf("role %s emitted twice", r.RoleName)
		}
		recs[r.RoleName] = r
	})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if want := map[bool]int{true: 1, false: 0}[len(opts.RoleNames) == 0]; policyRecs != want {
		t.Errorf("%d lockdown policy records, want %d", policyRecs, want)
	}
	return sum, recs
}

// removals lists what a record removes (or would remove) and the writes it
// makes (or would make), in a mode-independent form.
func removals(r decision.Record) string {
	var parts []string
	for _, f := range r.Findings {
		parts = append(parts, fmt.Sprintf("%s:%s:%s:%v", f.Control, f.Principal, f.Policy, f.Removed))
	}
	for _, a := range r.Actions {
		parts = append(parts, a.API+":"+a.Target)
	}
	return strings.Join(parts, " ")
}

// check mode writes nothing over 200 mixed roles, and its records list the
// same findings and actions that enforce then carries out; afterwards every
// role is compliant or never touched.
func TestSweepCheckThenEnforce(t *testing.T) {
	v := newEnv(t)
	seedMixed(t, v, 200)
	v.srv.ResetCalls()

	sum, checked := sweep(t, v.engine(checkMode), guardrail.SweepOptions{})
	if w := v.srv.WriteCalls(); w != 0 {
		t.Fatalf("check mode made %d writes", w)
	}
	// The engine's own count is exact; the server may see one request more
	// when the SDK retries a large page at the transport level (a smithy-go
	// request-body close race on loopback, see pkg/iamtest's
	// transportRetrySlack), which is not an IAM call the engine made.
	if want, got := 1+lockdownPolicyCalls, v.srv.Calls(""); sum.APICalls != want || got < want || got > want+1 {
		t.Errorf("check sweep made %d calls (summary %d), want the one listing page and the lockdown policy check: the snapshot holds everything", got, sum.APICalls)
	}
	if sum.Listed != 200 || sum.Evaluated != 200 || sum.Errors != 0 || sum.WouldChange != 100 || sum.Compliant != 40 || sum.Skipped != 60 {
		t.Errorf("check summary %+v", sum)
	}

	_, enforced := sweep(t, v.engine(), guardrail.SweepOptions{Concurrency: 8})
	for name, c := range checked {
		e := enforced[name]
		if removals(c) != removals(e) {
			t.Errorf("%s: check found %q, enforce acted on %q", name, removals(c), removals(e))
		}
		for _, a := range e.Actions {
			if a.Result != decision.ResultDone {
				t.Errorf("%s: action %+v not done", name, a)
			}
		}
	}

	v.srv.ResetCalls()
	sum, after := sweep(t, v.engine(), guardrail.SweepOptions{})
	if sum.Changed != 0 || sum.Errors != 0 || v.srv.WriteCalls() != 0 {
		t.Errorf("after enforcing: %+v, %d writes", sum, v.srv.WriteCalls())
	}
	for name, r := range after {
		if r.Outcome != decision.OutcomeCompliant && r.Outcome != decision.OutcomeSkipped {
			t.Errorf("%s still %s", name, r.Outcome)
		}
		if r.Class != "service" {
			continue
		}
		for _, p := range r.Principals {
			if !p.Trusted && p.Effect == "Allow" {
				t.Errorf("%s still admits %s:%s", name, p.Type, p.Value)
			}
		}
	}
}

// Sweeping 2,000 compliant roles costs the listing pages only.
func TestSweepCallsForCompliantRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 2,000 roles")
	}
	v := newEnv(t)
	for i := range 2000 {
		v.seed(t, iamtest.Role{Name: fmt.Sprintf("app-%04d", i), TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	}
	v.srv.ResetCalls()
	sum, _ := sweep(t, v.engine(), guardrail.SweepOptions{})
	if want := 2 + lockdownPolicyCalls; sum.Compliant != 2000 || sum.ListCalls != 2 || sum.APICalls != want || v.srv.Calls("") != want || sum.LockdownPolicy != decision.LockdownPresent {
		t.Errorf("summary %+v, server calls %d; want 2000 compliant for %d calls", sum, v.srv.Calls(""), want)
	}
	t.Logf("2,000 compliant roles: %d IAM calls", v.srv.Calls(""))
}

// With 30% of calls throttled, every role still ends compliant (SDK
// adaptive retries).
func TestSweepUnderThrottling(t *testing.T) {
	if testing.Short() {
		t.Skip("the adaptive retryer's back-off takes about 25 s")
	}
	v := newEnv(t)
	// Few roles: the adaptive retryer slows its own request rate after
	// throttling (down to 0.5 requests/s), as it should against real IAM.
	seedMixed(t, v, 20)
	if err := v.srv.SetFaults(iamtest.Faults{ThrottleRate: 0.3, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	sum, _ := sweep(t, v.engine(), guardrail.SweepOptions{})
	throttled := 0
	for _, c := range v.srv.CallLog() {
		if c.ErrorCode == "Throttling" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no call was throttled; the test proves nothing")
	}
	if sum.Errors != 0 {
		t.Errorf("errors under throttling: %+v", sum)
	}
	v.srv.ClearFaults()
	sum, _ = sweep(t, v.engine(), guardrail.SweepOptions{})
	if sum.Changed != 0 || sum.Compliant+sum.Skipped != 20 {
		t.Errorf("after the throttled sweep: %+v", sum)
	}
	t.Logf("%d throttled calls absorbed", throttled)
}

// A sweep past its deadline evaluates nothing more and names what it left.
func TestSweepDeadline(t *testing.T) {
	v := newEnv(t)
	seedMixed(t, v, 12)
	sum, recs := sweep(t, v.engine(), guardrail.SweepOptions{Deadline: evalTime})
	if sum.Left != 12 || len(sum.LeftRoles) != 12 || sum.Evaluated != 0 || len(recs) != 0 {
		t.Errorf("summary %+v", sum)
	}
}

// Named roles are read one by one; a missing one is recorded as gone.
func TestSweepNamedRoles(t *testing.T) {
	v := newEnv(t)
	seedMixed(t, v, 10)
	v.srv.ResetCalls()
	sum, recs := sweep(t, v.engine(checkMode), guardrail.SweepOptions{RoleNames: []string{"foreign-002", "missing"}})
	if sum.Evaluated != 2 || sum.Gone != 1 || sum.WouldChange != 1 || v.srv.Calls("GetAccountAuthorizationDetails") != 0 {
		t.Errorf("summary %+v", sum)
	}
	if recs["missing"].Outcome != decision.OutcomeRoleGone {
		t.Errorf("missing: %+v", recs["missing"])
	}
}

// emit is never called concurrently.
func TestSweepEmitSerialised(t *testing.T) {
	v := newEnv(t)
	seedMixed(t, v, 40)
	var mu sync.Mutex
	inside := false
	_, err := v.engine(checkMode).Sweep(context.Background(), guardrail.SweepOptions{Concurrency: 8}, func(decision.Record) {
		mu.Lock()
		if inside {
			t.Error("emit called concurrently")
		}
		inside = true
		mu.Unlock()
		time.Sleep(100 * time.Microsecond)
		mu.Lock()
		inside = false
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A listing failure is the sweep's error; nothing is evaluated.
func TestSweepListingFails(t *testing.T) {
	v := newEnv(t)
	seedMixed(t, v, 5)
	if err := v.srv.SetFaults(iamtest.Faults{Action: "GetAccountAuthorizationDetails", ServerErrorRate: 1, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	sum, err := v.engine().Sweep(context.Background(), guardrail.SweepOptions{}, func(r decision.Record) {
		if r.PolicyARN == "" {
			t.Error("role record emitted")
		}
	})
	if err == nil || !guardrail.IsRetryable(err) || sum.Evaluated != 0 {
		t.Errorf("err %v summary %+v", err, sum)
	}
}

// Every full sweep restores a changed lockdown policy before the roles.
func TestSweepRestoresLockdownPolicy(t *testing.T) {
	v := newEnv(t)
	seedMixed(t, v, 3)
	v.tamper(t, 4)
	sum, _ := sweep(t, v.engine(), guardrail.SweepOptions{})
	if sum.LockdownPolicy != decision.LockdownRestored || sum.Errors != 0 {
		t.Errorf("summary %+v", sum)
	}
	if doc, _ := v.srv.PolicyDocument(v.lockdownARN); doc == weakLockdown {
		t.Error("lockdown document not restored")
	}
	v.srv.ResetCalls()
	sum, _ = sweep(t, v.engine(), guardrail.SweepOptions{})
	if sum.LockdownPolicy != decision.LockdownPresent || v.srv.WriteCalls() != 0 {
		t.Errorf("second sweep: %+v, %d writes", sum, v.srv.WriteCalls())
	}
}
