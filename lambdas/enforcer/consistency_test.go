package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Issue 19: the enforcer's handler against the stand-in with stale reads
// (independent per read API), on a clock that the engine's waits advance,
// so IAM's consistency window passes without waiting for it.

// fakeClock is a clock that only sleeping moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.advance(d)
	return nil
}

// staleWorld is a sandbox account whose reads are stale per API.
type staleWorld struct {
	*world
	clk    *fakeClock
	client *iam.Client
	window time.Duration
	n      int    // events made, for unique IDs
	queue  *queue // the re-check queue
	// received counts the re-check messages delivered, for their IDs.
	received int
}

func newStaleWorld(t *testing.T) *staleWorld {
	t.Helper()
	// The clock starts at the real time so that an invocation's deadline
	// (real) and the engine's clock (advanced only by its waits) compare
	// as they do in Lambda.
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	// Stale answers last at most IAM's consistency window after a write,
	// on the same clock: the propagation model the engine relies on
	// (README "Consistency").
	srv := iamtest.NewServer(iamtest.WithStaleMode(iamtest.StaleIndependent),
		iamtest.WithClock(clk.now), iamtest.WithStaleFor(config.DefaultConsistencyWindow))
	t.Cleanup(srv.Close)
	dep, err := sandbox.Deploy(srv, config.Enforce)
	if err != nil {
		t.Fatal(err)
	}
	dep.Config.RecheckQueueURL = testQueueURL
	engine, err := guardrail.New(srv.Client(), dep.Config, guardrail.WithVersion("test"),
		guardrail.WithClock(clk.now), guardrail.WithSleep(clk.sleep),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Second, 2 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	h := newHandler(engine, dep.Config, out, "test")
	q := &queue{now: clk.now}
	h.now, h.recheck = clk.now, q
	return &staleWorld{world: &world{srv: srv, dep: dep, h: h, out: out}, clk: clk, client: srv.Client(),
		window: dep.Config.ConsistencyWindow, queue: q}
}

// ownerWrite makes the owner's call (CreateRole or UpdateAssumeRolePolicy
// with doc) now, as its CloudTrail record says, and returns the event.
func (w *staleWorld) ownerWrite(t *testing.T, api, role, doc string) events.CloudWatchEvent {
	t.Helper()
	w.n++
	base := "UpdateAssumeRolePolicy-principal-star.json"
	if api == "CreateRole" {
		base = "CreateRole-foreign-account.json"
	}
	at := w.clk.now().UTC().Format(time.RFC3339)
	ev := editDetail(t, loadEvent(t, base), func(d map[string]any) {
		d["eventTime"] = at
		d["eventID"] = fmt.Sprintf("00000000-0000-0000-0000-%012d", w.n)
		p := map[string]any{"roleName": role}
		if api == "CreateRole" {
			p["assumeRolePolicyDocument"] = doc
			delete(d, "responseElements")
		} else {
			p["policyDocument"] = doc
		}
		d["requestParameters"] = p
	})
	if ok, err := replay.Apply(context.Background(), w.client, ev); err != nil || !ok {
		t.Fatalf("owner's %s of %s: %v", api, role, err)
	}
	w.clk.advance(time.Second)
	return ev
}

// attachEvent is an AttachRolePolicy event on role now: an event that
// claims no trust policy, so a trust write it makes is restricted from
// its read.
func (w *staleWorld) attachEvent(t *testing.T, role string) events.CloudWatchEvent {
	t.Helper()
	w.n++
	return editDetail(t, loadEvent(t, "AttachRolePolicy-basic-execution.json"), func(d map[string]any) {
		d["eventTime"] = w.clk.now().UTC().Format(time.RFC3339)
		d["eventID"] = fmt.Sprintf("00000000-0000-0000-0000-%012d", w.n)
		d["requestParameters"].(map[string]any)["roleName"] = role
	})
}

// deliver runs one event through the handler, in an invocation as long as
// the enforcer's (infra/stack enforcerTimeoutSeconds), and returns its
// decision.
func (w *staleWorld) deliver(t *testing.T, ev events.CloudWatchEvent) (line, error) {
	t.Helper()
	return w.deliverWithin(t, ev, enforcerTimeout)
}

// enforcerTimeout is the enforcer's Lambda timeout in the stack.
const enforcerTimeout = 180 * time.Second

func (w *staleWorld) deliverWithin(t *testing.T, ev events.CloudWatchEvent, timeout time.Duration) (line, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := w.h.Handle(ctx, ev)
	ds, emf := w.take(t)
	if len(ds) != 1 || emf != 1 {
		t.Fatalf("wrote %d decisions and %d EMF lines, want 1 and 1", len(ds), emf)
	}
	return ds[0], err
}

// deliverWithRetries delivers ev as Lambda does an asynchronous event: on
// error, again after one minute, then after two more; it returns the last
// decision and error, and how many deliveries were made.
func (w *staleWorld) deliverWithRetries(t *testing.T, ev events.CloudWatchEvent) (line, int, error) {
	t.Helper()
	var d line
	var err error
	for i, wait := range []time.Duration{0, time.Minute, 2 * time.Minute} {
		w.clk.advance(wait)
		if d, err = w.deliver(t, ev); err == nil {
			return d, i + 1, nil
		}
	}
	return d, 3, err
}

// trustOf returns the role's real (never stale) trust policy, parsed.
func (w *staleWorld) trustOf(t *testing.T, role string) *policy.Document {
	t.Helper()
	r, ok := w.srv.Role(role)
	if !ok {
		t.Fatalf("role %s does not exist", role)
	}
	doc, err := policy.Parse([]byte(r.TrustPolicy))
	if err != nil {
		t.Fatalf("trust policy of %s: %v", role, err)
	}
	return doc
}

// assertFinal checks the role's real state: its trust policy admits only
// principals that latest admits, it is compliant, and the lockdown is
// attached.
func (w *staleWorld) assertFinal(t *testing.T, role, latest string) {
	t.Helper()
	got := w.trustOf(t, role)
	want, err := policy.Parse([]byte(latest))
	if err != nil {
		t.Fatal(err)
	}
	zone := trust.Zone{Account: w.srv.Account(), Partition: "aws", TrustedAccounts: w.dep.Config.TrustedAccounts,
		TrustedOrgIDs: w.dep.Config.TrustedOrgIDs, TrustedOIDCTenants: w.dep.Config.TrustedOIDCTenants}
	if extra := admittedBeyond(t, got, want, zone); len(extra) > 0 {
		t.Errorf("role %s admits %v, which the owner's latest policy does not (final %s)", role, extra, docJSON(got))
	}
	if res, err := trust.Restrict(got, zone); err != nil || res.Changed {
		t.Errorf("role %s is not compliant at the end: %s (%v)", role, docJSON(got), err)
	}
	r, _ := w.srv.Role(role)
	if !contains(r.AttachedPolicyARNs, w.dep.LockdownPolicyARN) {
		t.Errorf("role %s: lockdown not attached (%v)", role, r.AttachedPolicyARNs)
	}
}

func docJSON(d *policy.Document) string {
	b, _ := d.MarshalJSON()
	return string(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// admittedBeyond lists the allowed principals of got that want does not
// allow (by trust.Analyze's principal list): a widening.
func admittedBeyond(t *testing.T, got, want *policy.Document, zone trust.Zone) []string {
	t.Helper()
	allowed := func(d *policy.Document) map[string]bool {
		res, err := trust.Analyze(d, zone)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, p := range res.Principals {
			if p.Effect == "Allow" {
				m[p.Type+" "+p.Value] = true
			}
		}
		return m
	}
	g, wt := allowed(got), allowed(want)
	var extra []string
	for p := range g {
		if !wt[p] {
			extra = append(extra, p)
		}
	}
	return extra
}

const (
	docStar    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`
	docForeign = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`
	docOther   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::555566667777:root"},"Action":"sts:AssumeRole"}]}`
	docLambda  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	docEC2     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
)

// docRootAndForeign is T1 of defect 3: this account's root and a foreign root.
func docRootAndForeign(account string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::` + account +
		`:root","arn:aws:iam::999988887777:root"]},"Action":"sts:AssumeRole"}]}`
}

// Defect 1: a role seen by one read API is never role-gone because another
// API still answers NoSuchEntity.
func TestConsistencyRoleSeenIsNeverGone(t *testing.T) {
	for _, tc := range []struct {
		stale, attempts int // stale reads per read API after each write; deliveries needed
	}{
		// The scenario: GetRole 404 twice, then the role; the
		// lists still 404 at their first call.
		{stale: 2, attempts: 1},
		// Longer than the in-invocation backoff: the evaluation fails for
		// Lambda's retry (one minute later), never role-gone.
		{stale: 3, attempts: 3},
	} {
		t.Run(fmt.Sprint(tc.stale, "stale"), func(t *testing.T) {
			w := newStaleWorld(t)
			w.srv.SetStaleReads("app", tc.stale)
			ev := w.ownerWrite(t, "CreateRole", "app", docStar)
			var d line
			var err error
			for i := 0; i < tc.attempts; i++ {
				if d, err = w.deliver(t, ev); d.Outcome == decision.OutcomeRoleGone {
					t.Fatalf("delivery %d: role-gone for a role GetRole returned: %+v", i+1, d)
				}
				if err == nil {
					break
				}
				if !strings.Contains(err.Error(), "transient") || d.Outcome != decision.OutcomeError {
					t.Fatalf("delivery %d: outcome %s, err %v; want a transient error, so Lambda retries", i+1, d.Outcome, err)
				}
				w.clk.advance(time.Minute) // Lambda's retry
			}
			if err != nil || d.Outcome != decision.OutcomeChanged || d.Lockdown != decision.LockdownAttached {
				t.Fatalf("after %d deliveries: outcome %s lockdown %s err %v", tc.attempts, d.Outcome, d.Lockdown, err)
			}
			w.assertFinal(t, "app", docLambda) // "*" replaced by the no-principal deny: admits nothing
		})
	}
}

// Defect 2: a role neutralised once and reopened to another outsider is
// not "already remediated" because a stale read shows the old placeholder.
func TestConsistencyReopenedRoleIsNotAlreadyRemediated(t *testing.T) {
	w := newStaleWorld(t)
	first := w.ownerWrite(t, "CreateRole", "stack-role", docForeign)
	if d, err := w.deliver(t, first); err != nil || d.Outcome != decision.OutcomeChanged {
		t.Fatalf("first event: %s %v", d.Outcome, err)
	}
	w.clk.advance(10 * time.Minute)
	w.srv.SetStaleReads("stack-role", 3)
	second := w.ownerWrite(t, "UpdateAssumeRolePolicy", "stack-role", docOther) // the stack re-applies its template
	d, err := w.deliver(t, second)
	if err != nil {
		t.Fatalf("second event: %v (%+v)", err, d)
	}
	if d.Outcome != decision.OutcomeChanged {
		t.Errorf("second event: outcome %s, want changed (the read placeholder is not this claim's remediation)", d.Outcome)
	}
	if strings.Contains(docJSON(w.trustOf(t, "stack-role")), "555566667777") {
		t.Errorf("foreign account stays: %s", docJSON(w.trustOf(t, "stack-role")))
	}
	w.assertFinal(t, "stack-role", docLambda)
}

// Defect 3: the guardrail's own write derived from an older event (T1 read
// stale after T2) is recognised by the next event, and the owner's newer
// policy wins: the role never ends admitting the account root that T2
// removed.
func TestConsistencyNewerIntentWins(t *testing.T) {
	w := newStaleWorld(t)
	w.ownerWrite(t, "CreateRole", "svc", docEC2)
	w.clk.advance(10 * time.Minute)
	w.srv.SetStaleReads("svc", 2)
	t1 := w.ownerWrite(t, "UpdateAssumeRolePolicy", "svc", docRootAndForeign(w.srv.Account()))
	t2 := w.ownerWrite(t, "UpdateAssumeRolePolicy", "svc", docLambda)
	d1, err := w.deliver(t, t1)
	if err != nil {
		t.Fatalf("T1: %v (%+v)", err, d1)
	}
	d2, err := w.deliver(t, t2)
	if err != nil {
		t.Fatalf("T2: %v (%+v)", err, d2)
	}
	if strings.Contains(docJSON(w.trustOf(t, "svc")), ":root") {
		t.Errorf("T2's event left the role open to a root the owner removed: %s (T1 %s, T2 %s)",
			docJSON(w.trustOf(t, "svc")), d1.Outcome, d2.Outcome)
	}
	if d2.Outcome != decision.OutcomeChanged {
		t.Errorf("T2: outcome %s, want changed (the owner's policy restored over the guardrail's older write)", d2.Outcome)
	}
	w.assertFinal(t, "svc", docLambda)
}

// Defect 4: an event that opens a protected role to an outsider pages from
// the claim, whatever a stale read shows.
func TestConsistencyProtectedRoleClaimPages(t *testing.T) {
	w := newStaleWorld(t)
	w.srv.SetStaleReads(sandbox.EnforcerRole, 3)
	ev := w.ownerWrite(t, "UpdateAssumeRolePolicy", sandbox.EnforcerRole, docForeign)
	d, err := w.deliver(t, ev)
	if err == nil || !strings.Contains(err.Error(), guardrail.ErrProtectedRoleUntrusted.Error()) {
		t.Fatalf("err %v, want %v", err, guardrail.ErrProtectedRoleUntrusted)
	}
	if d.Outcome != decision.OutcomeError || d.Level != "ERROR" {
		t.Errorf("outcome %s at %s, want error at ERROR", d.Outcome, d.Level)
	}
	if !strings.Contains(docJSON(w.trustOf(t, sandbox.EnforcerRole)), "999988887777") {
		t.Error("the guardrail wrote its own role")
	}
}

// A claim superseded before delivery (a fast double deploy: the event of
// the first write arrives after the second) is re-checked after IAM's
// consistency window in the same invocation: no failed invocation, no
// failure-queue entry, nothing written from the stale claim. The exposure
// is bounded by the window: the decision is made at the latest one window
// after the event (plus the evaluation).
func TestConsistencySupersededClaimIsRechecked(t *testing.T) {
	w := newStaleWorld(t)
	if d, err := w.deliver(t, w.ownerWrite(t, "CreateRole", "api", docEC2)); err != nil || d.Outcome != decision.OutcomeChanged {
		t.Fatalf("CreateRole: %s %v", d.Outcome, err)
	}
	w.clk.advance(10 * time.Minute)
	t1 := w.ownerWrite(t, "UpdateAssumeRolePolicy", "api", docForeign)
	t2 := w.ownerWrite(t, "UpdateAssumeRolePolicy", "api", docLambda)
	start := w.clk.now()
	d, err := w.deliver(t, t1)
	if err != nil {
		t.Fatalf("superseded claim failed the invocation (Lambda retries, then the failure queue and its alarm): %v", err)
	}
	if d.Outcome != decision.OutcomeCompliant || len(d.Actions) != 0 {
		t.Errorf("superseded claim: outcome %s actions %+v, want compliant and no write", d.Outcome, d.Actions)
	}
	if waited := w.clk.now().Sub(start); waited > w.window {
		t.Errorf("decided %s after delivery, more than IAM's consistency window %s", waited, w.window)
	}
	if d, err := w.deliver(t, t2); err != nil || d.Outcome != decision.OutcomeCompliant {
		t.Errorf("T2: %s %v", d.Outcome, err)
	}
	w.assertFinal(t, "api", docLambda)

	// With the old one-minute timeout the window outlasts the invocation:
	// a transient error and no write; Lambda's retries decide.
	t3 := w.ownerWrite(t, "UpdateAssumeRolePolicy", "api", docStar)
	w.ownerWrite(t, "UpdateAssumeRolePolicy", "api", docLambda) // its event is delivered, compliant
	before := w.srv.WriteCalls()
	d, err = w.deliverWithin(t, t3, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "transient") || w.srv.WriteCalls() != before {
		t.Fatalf("inside the window without time to wait: err %v, %d writes", err, w.srv.WriteCalls()-before)
	}
	if d, n, err := w.deliverWithRetries(t, t3); err != nil || d.Outcome != decision.OutcomeCompliant || n != 1 {
		t.Errorf("Lambda's retry: outcome %s err %v after %d deliveries", d.Outcome, err, n)
	}
	w.assertFinal(t, "api", docLambda)
}

// TestConsistencyProperty: two owner writes to one role, their events in
// either order (one possibly before the second write, one possibly
// duplicated), an event that claims no trust policy (an attachment,
// evaluated from a fresh or a stale read) anywhere after the first write,
// with stale reads per API: after every event has been
// delivered (with Lambda's retries), the role admits no principal the
// owner's latest policy did not admit, is compliant, and keeps the
// lockdown.
func TestConsistencyProperty(t *testing.T) {
	docs := func(account string) []string {
		return []string{docStar, docForeign, docOther, docLambda, docEC2, docRootAndForeign(account),
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + sandbox.TrustedAccount + `:root","Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}
	}
	// The orders of the four steps: W1 and W2 are the owner's writes, E1
	// and E2 their events; W1 < W2, Ei after Wi.
	// E1s is E1 evaluated from a read that still shows T1 after E2 was
	// evaluated (reads are not monotonic across IAM's replicas): its
	// write replaces T2, and only E2's re-check can see it.
	orders := [][]string{{"W1", "E1", "W2", "E2"}, {"W1", "W2", "E1", "E2"}, {"W1", "W2", "E2", "E1"}, {"W1", "W2", "E2", "E1s"}}
	rng := rand.New(rand.NewPCG(19, 2026))
	cases := 150
	if testing.Short() {
		cases = 40
	}
	for i := 0; i < cases; i++ {
		w := newStaleWorld(t)
		pool := docs(w.srv.Account())
		initial, d1, d2 := pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))], pool[rng.IntN(len(pool))]
		order := orders[rng.IntN(len(orders))]
		stale := rng.IntN(4)
		dup := rng.IntN(3) // 0: none, 1: E1 again at the end, 2: E2 again
		tie := rng.IntN(3) == 0
		// A: an AttachRolePolicy event, evaluated from a fresh read; As:
		// from a replica that still shows T1.
		if a := rng.IntN(3); a > 0 {
			at := 1 + rng.IntN(len(order))
			if a == 2 {
				at = max(at, slices.Index(order, "W2")+1)
			}
			order = slices.Insert(slices.Clone(order), at, []string{"A", "As"}[a-1])
		}
		name := fmt.Sprintf("case %d: initial %s, T1 %s, T2 %s, order %v, %d stale reads, duplicate %d, same second %v", i, initial, d1, d2, order, stale, dup, tie)
		if _, _, err := w.deliverWithRetries(t, w.ownerWrite(t, "CreateRole", "prop", initial)); err != nil {
			t.Fatalf("%s: CreateRole: %v", name, err)
		}
		w.clk.advance(10 * time.Minute)
		w.srv.SetStaleReads("prop", stale)
		evs := map[string]events.CloudWatchEvent{}
		var after1 *iam.GetRoleOutput
		for _, step := range order {
			switch step {
			case "W1":
				evs["E1"] = w.ownerWrite(t, "UpdateAssumeRolePolicy", "prop", d1)
				after1 = w.snapshot(t, "prop")
				w.srv.SetStaleReads("prop", stale)
			case "W2":
				evs["E2"] = w.ownerWrite(t, "UpdateAssumeRolePolicy", "prop", d2)
				if tie {
					evs["E2"] = sameSecond(t, evs["E2"], evs["E1"])
				}
			case "E1s":
				w.deliverStale(t, evs["E1"], after1)
			case "A":
				if _, _, err := w.deliverWithRetries(t, w.attachEvent(t, "prop")); err != nil {
					t.Fatalf("%s: attach failed (failure queue): %v", name, err)
				}
			case "As":
				w.deliverStale(t, w.attachEvent(t, "prop"), after1)
			default:
				if d, n, err := w.deliverWithRetries(t, evs[step]); err != nil {
					t.Fatalf("%s: %s failed after %d deliveries (failure queue): %v (%+v)", name, step, n, err, d)
				}
			}
		}
		if dup > 0 {
			if _, _, err := w.deliverWithRetries(t, evs[fmt.Sprint("E", dup)]); err != nil {
				t.Fatalf("%s: duplicate: %v", name, err)
			}
		}
		w.drain(t)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Log(name)
			w.assertFinal(t, "prop", d2)
		})
	}
}
