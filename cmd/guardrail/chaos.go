package main

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/sqstest"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// ownerAccessKeyID signs the owner's calls, so the stand-in's call log tells
// them from the guardrail's (which use sandbox's key).
// chaosConsistencyWindow and chaosStaleFor are the defaults of `guardrail
// chaos` --consistency-window and --stale-for: the shortest window the
// functions accept, and a stand-in staleness bound below it (see runChaos).
const (
	chaosConsistencyWindow = config.MinConsistencyWindow
	chaosStaleFor          = 5 * time.Second
)

const ownerAccessKeyID = "AKIACHAOSOWNER000001"

// runChaos drives the real enforcer bootstrap, under several emulator
// processes at once, with a seeded scenario of role changes against the IAM
// stand-in with throttling, 5xx errors, latency and stale reads; retries
// failed invocations as Lambda's asynchronous invocation does; then runs the
// sweeper once and reports (issue 14). `make chaos` runs it.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := chaosOptions{}
	rie := fs.String("rie", "", "aws-lambda-rie executable (default $GUARDRAIL_RIE or $PATH)")
	fs.StringVar(&o.enforcer, "enforcer", "", "enforcer bootstrap built for this machine (required)")
	fs.StringVar(&o.sweeper, "sweeper", "", "sweeper bootstrap built for this machine (required)")
	fs.StringVar(&o.out, "out", ".chaos", "directory for the report, the failure queue, decision records and function logs")
	fs.IntVar(&o.events, "events", 520, "owner calls (CloudTrail events) to make")
	fs.IntVar(&o.roles, "roles", 160, "roles to create")
	fs.IntVar(&o.workers, "workers", 48, "enforcer emulator processes invoked in parallel (the stack's enforcerConcurrency allows up to 50)")
	fs.Float64Var(&o.dupRate, "duplicate-rate", 0.2, "share of events delivered twice")
	fs.Float64Var(&o.reorderRate, "reorder-rate", 0.2, "share of events held back so later ones overtake them")
	fs.DurationVar(&o.retryBackoff, "retry-backoff", time.Second,
		"wait before the first re-delivery of a failed invocation, doubled for the second (Lambda: about 1 and 2 minutes)")
	// The enforcer's re-checks (issue 19) come back 2W + max(W/2, 15s) + 1s
	// after their event (36 s with the 10 s window): the enforcer phase
	// lasts that much past the last trust event, which the defaults still
	// fit (seed 1: 2m0s with 378 re-checks, on 2 shared cores).
	fs.DurationVar(&o.budget, "budget", 178*time.Second,
		"stop and fail when the run takes longer (with the defaults about 2 minutes on 2 cores, re-checks included:\n"+
			"the last re-check is due 2 x --consistency-window + max(window/2, 15s) + 1s after the last trust event)")
	fs.DurationVar(&o.recheckVisibility, "recheck-visibility", 2*time.Second,
		"a re-check the enforcer failed is delivered again this long after the failed invocation, up to 3 receives\n"+
			"(the stack's queue: its visibility timeout, 6 x the enforcer's timeout from the receive, as Lambda recommends)")
	// The functions' GUARDRAIL_CONSISTENCY_WINDOW, and how long the stand-in
	// may hide a write (--stale-for, below). IAM's staleness is bounded in
	// time (IAM User Guide, "Changes that I make are not always immediately
	// visible"), and the engine relies on that: a read made after the window
	// must show every write older than the window, so an event older than
	// the window whose role GetRole does not show is role-gone, and a fresh
	// claim the reads do not show waits out the window and re-reads. A
	// stand-in that hides writes for N reads whatever their age breaks that
	// premise (seed 1, 10s window, no time bound: 24 role-gone records for
	// roles that exist), and the production 2m window makes the run outlast
	// its budget. So the defaults are a 10s window (the minimum the engine
	// accepts) and stale-for 5s, below it: stale answers within seconds of a
	// write, as IAM gives, and none after the window. --stale-for 0 brings
	// back the count-only model.
	fs.DurationVar(&o.window, "consistency-window", chaosConsistencyWindow,
		"GUARDRAIL_CONSISTENCY_WINDOW for the functions (keep it above --stale-for)")
	fs.BoolVar(&o.quiet, "quiet", false, "print only the report, not the progress lines")
	fs.BoolVar(&o.allowWidened, "allow-widened", false,
		"do not fail the run for roles whose trust admits a principal the owner's latest policy did not (they are still reported; issue 19)")
	ff := chaosFlags(fs)
	// The conditions are the defaults: 30 % throttling, 5 % 5xx,
	// 20 ms latency, one stale read per read API after every write.
	fs.Lookup("fault-codes").DefValue = "Throttling=0.3,ServiceFailure=0.025,ServiceUnavailable=0.025"
	_ = fs.Set("fault-codes", fs.Lookup("fault-codes").DefValue)
	fs.Lookup("latency").DefValue = "20ms"
	_ = fs.Set("latency", "20ms")
	fs.Lookup("stale-reads").DefValue = "1"
	_ = fs.Set("stale-reads", "1")
	fs.Lookup("stale-for").DefValue = chaosStaleFor.String()
	_ = fs.Set("stale-for", chaosStaleFor.String())
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.enforcer == "" || o.sweeper == "" {
		fmt.Fprintln(stderr, "chaos: --enforcer and --sweeper are required (make chaos builds them)")
		return 2
	}
	if o.events < o.roles || o.roles < 1 || o.workers < 1 {
		fmt.Fprintln(stderr, "chaos: need --roles >= 1, --events >= --roles and --workers >= 1")
		return 2
	}
	var err error
	if o.faults, o.staleMode, err = ff.faults(); err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 2
	}
	o.staleReads, o.staleFor, o.seed = *ff.staleReads, *ff.staleFor, *ff.seed
	if *rie == "" {
		if *rie, err = emulator.Find(); err != nil {
			fmt.Fprintf(stderr, "chaos: %v\n", err)
			return 2
		}
	}
	o.rie = *rie
	if !o.quiet {
		o.progress = stdout
	}
	rep, err := runChaosScenario(ctx, o)
	if rep != nil {
		rep.write(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 1
	}
	if problems := rep.problems(o.allowWidened); len(problems) > 0 {
		fmt.Fprintf(stderr, "chaos: FAILED: %s\n", strings.Join(problems, "; "))
		return 1
	}
	return 0
}

type chaosOptions struct {
	rie, enforcer, sweeper, out string
	events, roles, workers      int
	dupRate, reorderRate        float64
	retryBackoff, budget        time.Duration
	recheckVisibility           time.Duration
	window                      time.Duration
	faults                      iamtest.Faults
	staleReads                  int
	staleMode                   iamtest.StaleMode
	staleFor                    time.Duration
	seed                        uint64
	quiet, allowWidened         bool
	progress                    io.Writer // nil: no progress lines
}

// delivery is one event waiting to be delivered to an enforcer.
type delivery struct {
	due     time.Time
	op      int // index into the plan's ops; -1 for a re-check
	copy    int // 0: first delivery, 1: the duplicate
	attempt int // 0 first, 1 and 2 Lambda's retries (a re-check: its receives before this one)
	body    []byte
	// recheck is the re-check message this delivery carries as an SQS
	// event (body), nil for an EventBridge event.
	recheck *sqstest.Message
}

type deliveryQueue []*delivery

func (q deliveryQueue) Len() int           { return len(q) }
func (q deliveryQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q deliveryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *deliveryQueue) Push(x any)        { *q = append(*q, x.(*delivery)) }
func (q *deliveryQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}

// failureEntry is one line of the failure-queue file: what Lambda's
// on-failure destination would keep of an event whose retries all failed.
type failureEntry struct {
	Role     string          `json:"role"`
	API      string          `json:"api"`
	EventID  string          `json:"event_id"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error"`
	Event    json.RawMessage `json:"event"`
}

// chaosRun is the state of one run.
type chaosRun struct {
	o    chaosOptions
	plan chaosPlan
	srv  *iamtest.Server
	dep  sandbox.Deployment
	rq   *recheckQueue

	mu                   sync.Mutex
	cond                 *sync.Cond
	queue                deliveryQueue
	inFlight             int
	produced             bool
	emitted              int               // owner calls made (events)
	skipped              []string          // owner calls not made, and why
	detached             int               // DetachRolePolicy calls of the lockdown made
	substituted          int               // DetachRolePolicy calls made AttachRolePolicy (lockdown not attached)
	ownerTrust           map[string]string // role -> the trust document the owner set last
	invocations, retries int
	durations            []time.Duration
	failures             []failureEntry
	fatal                error
}

func runChaosScenario(ctx context.Context, o chaosOptions) (*chaosReport, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.budget)
	defer cancel()
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", o.out, err)
	}
	jsonl, err := os.Create(filepath.Join(o.out, "decisions.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("create decision log: %w", err)
	}
	defer jsonl.Close()
	d := &demo{rie: o.rie, out: o.out, stdout: io.Discard, records: &recordLog{jsonl: jsonl}}

	srv := iamtest.NewServer(iamtest.WithSeed(o.seed), iamtest.WithStaleMode(o.staleMode), iamtest.WithStaleFor(o.staleFor))
	defer srv.Close()
	dep, err := sandbox.Deploy(srv, config.Enforce)
	if err != nil {
		return nil, err
	}
	dep.Env[config.EnvConsistencyWindow] = o.window.String()
	// The re-check queue (issue 19): an enforcer that sends nothing to it
	// leaves it empty, and the run is what it was without it.
	rq := newRecheckQueue(o.recheckVisibility)
	defer rq.close()
	rq.setEnv(dep.Env)
	r := &chaosRun{o: o, srv: srv, dep: dep, rq: rq, ownerTrust: map[string]string{},
		plan: newChaosPlan(o.seed, o.roles, o.events, dep.LockdownPolicyARN, o.dupRate, o.reorderRate)}
	r.cond = sync.NewCond(&r.mu)
	r.progressf("chaos: seed %d, plan %s: %d owner calls on %d roles; stand-in: %.0f%% throttling, %.1f%% 5xx, %v latency, %d stale read(s) per write (%s, for at most %v; 0s: no bound); consistency window %v",
		o.seed, r.plan.Digest(), len(r.plan.Ops), len(r.plan.Roles), o.faults.ThrottleRate*100,
		(o.faults.ServerErrorRate+o.faults.UnavailableRate)*100, o.faults.Latency, o.staleReads, o.staleMode, o.staleFor, o.window)

	// The faults and stale reads start now: the deployment above is what
	// the stack created before any of this traffic.
	if err := srv.SetFaults(o.faults); err != nil {
		return nil, err
	}
	srv.SetStaleReads("", o.staleReads)

	var fns []*emulator.Function
	defer func() {
		for _, fn := range fns {
			fn.Close()
		}
	}()
	for i := range o.workers {
		fn, err := d.start(ctx, fmt.Sprintf("enforcer-%d", i+1), o.enforcer, dep)
		if err != nil {
			return nil, err
		}
		fns = append(fns, fn)
	}

	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(ctx, fn)
		}()
	}
	stopProgress := r.reportProgress(ctx, start)
	r.produce(ctx)
	wg.Wait()
	stopProgress()
	for _, fn := range fns {
		fn.Close()
	}
	if r.fatal != nil {
		return nil, r.fatal
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("enforcer phase did not finish within --budget %v: %w", o.budget, err)
	}
	enforcerCalls := srv.CallLog()
	enforcerDone := time.Now()
	// Re-checks that failed every receive are in the dead-letter queue,
	// which alarms like the failure queue: they count as its entries.
	r.failures = append(r.failures, rq.failures()...)
	rep := r.newReport(d.records.since(0), enforcerCalls)
	rep.rechecks = rq.stats()
	rep.before = r.judgeAll()
	if err := r.writeFailureQueue(); err != nil {
		return rep, err
	}

	// One sweeper run, under the same faults.
	srv.ResetCalls()
	r.progressf("chaos: enforcer phase done in %v; one sweeper run", enforcerDone.Sub(start).Round(time.Millisecond))
	// The sweeper runs on a schedule, hours after this traffic, when IAM
	// has long converged: no stale reads for it, the faults stay. It has
	// the stack's function timeout (the run's --budget still bounds it).
	srv.SetStaleReads("", 0)
	d.timeout = 900 * time.Second
	swp, err := d.start(ctx, "sweeper", o.sweeper, dep)
	if err != nil {
		return rep, err
	}
	defer swp.Close()
	schedule := events.CloudWatchEvent{Version: "0", ID: "chaos-sweep", DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: srv.Account(), Time: time.Now().UTC(), Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:" + srv.Account() + ":rule/" + sandbox.NamePrefix + "-Sweep"}, Detail: json.RawMessage(`{}`)}
	sum, err := d.invoke(ctx, swp, schedule, func(m map[string]any) bool { return m["msg"] == "sweep summary" })
	if err != nil {
		// The report then shows the roles as they were when the run stopped.
		rep.after, rep.elapsed = r.judgeAll(), time.Since(start)
		return rep, fmt.Errorf("sweeper: %w", err)
	}
	swp.Close()
	rep.sweep = sum
	rep.sweepCalls = srv.CallLog()
	rep.after = r.judgeAll()
	rep.elapsed = time.Since(start)
	if err := rep.writeFile(filepath.Join(o.out, "report.txt")); err != nil {
		return rep, err
	}
	return rep, nil
}

func (r *chaosRun) progressf(format string, args ...any) {
	if r.o.progress != nil {
		fmt.Fprintf(r.o.progress, format+"\n", args...)
	}
}

// reportProgress prints a progress line every few seconds until stopped.
func (r *chaosRun) reportProgress(ctx context.Context, start time.Time) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				r.mu.Lock()
				r.progressf("  %5.1fs  %d/%d owner calls, %d invocations (%d retries), %d queued, %d in flight, %d re-checks pending, %d in the failure queue",
					time.Since(start).Seconds(), r.emitted, len(r.plan.Ops), r.invocations, r.retries, len(r.queue), r.inFlight, r.rq.srv.Pending(), len(r.failures))
				r.mu.Unlock()
			}
		}
	}()
	return func() { close(done) }
}

// produce makes the owner's calls in plan order and schedules each event's
// deliveries.
func (r *chaosRun) produce(ctx context.Context) {
	defer func() {
		r.mu.Lock()
		r.produced = true
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
	owner := iam.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(r.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(ownerAccessKeyID, "chaos-owner-secret", ""),
	}, func(o *iam.Options) {
		// CloudFormation retries throttled calls for a long time; the owner
		// does too, so its changes happen whatever the faults.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 30
			so.MaxBackoff = 200 * time.Millisecond
			so.RateLimiter = noRetryQuota{}
		})
	})
	for i, op := range r.plan.Ops {
		if !sleepCtx(ctx, op.Pause) {
			return
		}
		if op.API == "DetachRolePolicy" {
			// Only a policy that is attached can be detached (the call
			// would fail, and its event carry an errorCode): when the
			// lockdown is not attached yet, the owner attaches another
			// policy instead, which is also an event to handle.
			if st, ok := r.srv.Role(op.Role); !ok || !slices.Contains(st.AttachedPolicyARNs, op.Policy) {
				op.API, op.Policy = "AttachRolePolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess"
				r.mu.Lock()
				r.substituted++
				r.mu.Unlock()
			}
		}
		var err error
		switch op.API {
		case "CreateRole":
			_, err = owner.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(op.Role), AssumeRolePolicyDocument: aws.String(op.Trust)})
		case "UpdateAssumeRolePolicy":
			_, err = owner.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(op.Role), PolicyDocument: aws.String(op.Trust)})
		case "AttachRolePolicy":
			_, err = owner.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(op.Role), PolicyArn: aws.String(op.Policy)})
		case "DetachRolePolicy":
			_, err = owner.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(op.Role), PolicyArn: aws.String(op.Policy)})
		}
		now := time.Now()
		r.mu.Lock()
		if err != nil {
			r.skipped = append(r.skipped, fmt.Sprintf("%s: %s failed: %v", op.Role, op.API, err))
			r.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if op.Trust != "" {
			r.ownerTrust[op.Role] = op.Trust
		}
		r.emitted++
		if op.API == "DetachRolePolicy" {
			r.detached++
		}
		body, merr := json.Marshal(chaosEvent(op, i, r.plan.Seed, now))
		if merr != nil {
			r.fatal = fmt.Errorf("encode event: %w", merr)
			r.mu.Unlock()
			return
		}
		for c, delay := range op.Deliver {
			heap.Push(&r.queue, &delivery{due: now.Add(delay), op: i, copy: c, body: body})
		}
		r.cond.Broadcast()
		r.mu.Unlock()
	}
}

// invoker invokes a function with one event; *emulator.Function is one.
type invoker interface {
	Invoke(ctx context.Context, event []byte) ([]byte, error)
}

// worker delivers due events to one enforcer process, one at a time, as
// Lambda runs one event per execution environment.
func (r *chaosRun) worker(ctx context.Context, fn invoker) {
	for {
		d := r.next(ctx)
		if d == nil {
			return
		}
		start := time.Now()
		resp, err := fn.Invoke(ctx, d.body)
		dur := time.Since(start)
		if d.recheck != nil {
			r.settleRecheck(ctx, *d.recheck, resp, err, dur)
			continue
		}
		var fe *emulator.FunctionError
		r.mu.Lock()
		r.inFlight--
		r.invocations++
		r.durations = append(r.durations, dur)
		switch {
		case err == nil:
		case errors.As(err, &fe):
			if d.attempt < 2 {
				// Lambda retries an asynchronous invocation twice, waiting
				// about a minute, then two (Lambda Developer Guide,
				// "Error handling and automatic retries in Lambda").
				d.attempt++
				r.retries++
				d.due = time.Now().Add(r.o.retryBackoff << (d.attempt - 1))
				heap.Push(&r.queue, d)
			} else {
				op := r.plan.Ops[d.op]
				r.failures = append(r.failures, failureEntry{Role: op.Role, API: op.API, EventID: chaosID(r.plan.Seed, d.op),
					Attempts: d.attempt + 1, Error: fe.Message, Event: d.body})
			}
		default:
			if ctx.Err() == nil && r.fatal == nil {
				r.fatal = fmt.Errorf("enforcer emulator: %w", err)
			}
		}
		r.cond.Broadcast()
		r.mu.Unlock()
	}
}

// settleRecheck records the invocation of a re-check: the partial batch
// response decides whether the queue deletes the message or delivers it
// again after the visibility timeout (recheckQueue.settle).
func (r *chaosRun) settleRecheck(ctx context.Context, m sqstest.Message, resp []byte, err error, dur time.Duration) {
	serr := r.rq.settle(m, resp, err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	r.invocations++
	r.durations = append(r.durations, dur)
	if serr != nil && ctx.Err() == nil && r.fatal == nil {
		r.fatal = fmt.Errorf("enforcer emulator, re-check delivery: %w", serr)
	}
	r.cond.Broadcast()
}

// next waits for the next due delivery; nil when everything is delivered
// (or the run is over).
func (r *chaosRun) next(ctx context.Context) *delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if ctx.Err() != nil || r.fatal != nil {
			return nil
		}
		if r.rq != nil {
			// Lambda polls the re-check queue while events arrive: a due
			// re-check is delivered like any other event.
			d, err := r.rq.take()
			if err != nil {
				r.fatal = err
				return nil
			}
			if d != nil {
				r.inFlight++
				return d
			}
		}
		if len(r.queue) == 0 {
			// Done when every event is delivered and every re-check the
			// enforcers scheduled has been delivered or redriven: the
			// roles are judged "before the sweep" after all of them.
			if r.produced && r.inFlight == 0 && (r.rq == nil || r.rq.srv.Pending() == 0) {
				r.cond.Broadcast()
				return nil
			}
			r.waitLocked(50 * time.Millisecond)
			continue
		}
		if wait := time.Until(r.queue[0].due); wait > 0 {
			r.waitLocked(min(wait, 50*time.Millisecond))
			continue
		}
		d := heap.Pop(&r.queue).(*delivery)
		r.inFlight++
		return d
	}
}

// waitLocked waits on the condition at most d (r.mu held).
func (r *chaosRun) waitLocked(d time.Duration) {
	t := time.AfterFunc(d, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	r.cond.Wait()
	t.Stop()
}

// judgeAll judges every role of the plan as the stand-in holds it now.
func (r *chaosRun) judgeAll() map[string]chaosRoleState {
	zone := trust.Zone{Account: sandbox.Account, Partition: "aws", TrustedAccounts: []string{sandbox.TrustedAccount},
		TrustedOrgIDs: []string{sandbox.TrustedOrgID}}
	out := map[string]chaosRoleState{}
	for _, name := range r.plan.Roles {
		st, ok := r.srv.Role(name)
		if !ok {
			out[name] = chaosRoleState{}
			continue
		}
		out[name] = judgeRole(st.TrustPolicy, st.AttachedPolicyARNs, slices.Collect(maps.Keys(st.InlinePolicies)),
			r.dep.LockdownPolicyARN, r.ownerTrust[name], zone)
	}
	return out
}

func (r *chaosRun) writeFailureQueue() error {
	f, err := os.Create(filepath.Join(r.o.out, "failure-queue.jsonl"))
	if err != nil {
		return fmt.Errorf("create failure queue: %w", err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, e := range r.failures {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write failure queue: %w", err)
		}
	}
	return f.Close()
}

// noRetryQuota lets the owner's client retry without the SDK's retry quota.
type noRetryQuota struct{}

func (noRetryQuota) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRetryQuota) AddTokens(uint) error { return nil }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// chaosReport is what a run measured.
type chaosReport struct {
	seed                      uint64
	digest                    string
	events, deliveries        int
	duplicates, reordered     int
	roles                     int
	skipped                   []string
	substituted, detached     int
	invocations, retries      int
	failures                  []failureEntry
	p50, p99, max             time.Duration
	enforcerCalls, sweepCalls []iamtest.Call
	ownerCalls                int
	changedRoles              int
	outcomes                  map[string]int
	rechecks                  recheckStats
	before, after             map[string]chaosRoleState
	sweep                     map[string]any
	elapsed                   time.Duration
}

func (r *chaosRun) newReport(recs []map[string]any, calls []iamtest.Call) *chaosReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &chaosReport{seed: r.o.seed, digest: r.plan.Digest(), events: r.emitted, roles: len(r.plan.Roles),
		skipped: r.skipped, substituted: r.substituted, detached: r.detached, invocations: r.invocations, retries: r.retries, failures: r.failures,
		outcomes: map[string]int{}}
	for _, op := range r.plan.Ops {
		rep.deliveries += len(op.Deliver)
		rep.duplicates += len(op.Deliver) - 1
		if op.Reordered {
			rep.reordered++
		}
	}
	ds := slices.Clone(r.durations)
	slices.Sort(ds)
	if len(ds) > 0 {
		rep.p50, rep.p99, rep.max = ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)], ds[len(ds)-1]
	}
	changed := map[string]bool{}
	for _, rec := range recs {
		if rec["msg"] != "decision" {
			continue
		}
		rep.outcomes[str(rec["outcome"])]++
		if rec["outcome"] == "changed" {
			changed[str(rec["role_name"])] = true
		}
	}
	rep.changedRoles = len(changed)
	for _, c := range calls {
		if c.Caller == ownerAccessKeyID {
			rep.ownerCalls++
			continue
		}
		rep.enforcerCalls = append(rep.enforcerCalls, c)
	}
	return rep
}

func countCalls(calls []iamtest.Call) (all, writes, injected int) {
	for _, c := range calls {
		all++
		if iamtest.IsWriteAction(c.Action) {
			writes++
		}
		if c.Injected {
			injected++
		}
	}
	return all, writes, injected
}

// tally counts compliant, lost and widened roles of a judged state.
func (rep *chaosReport) tally(st map[string]chaosRoleState) (compliant, lost, widened int) {
	queued := map[string]bool{}
	for _, f := range rep.failures {
		queued[f.Role] = true
	}
	for name, s := range st {
		if s.Compliant {
			compliant++
		} else if !queued[name] {
			lost++
		}
		if len(s.Widened) > 0 {
			widened++
		}
	}
	return compliant, lost, widened
}

// problems lists what makes the run fail: a role lost before the sweep, a
// role widened, a role not compliant after the sweep.
func (rep *chaosReport) problems(allowWidened bool) []string {
	var out []string
	_, lost, widened := rep.tally(rep.before)
	if lost > 0 {
		out = append(out, fmt.Sprintf("%d roles lost by the enforcer", lost))
	}
	if widened > 0 && !allowWidened {
		out = append(out, fmt.Sprintf("%d roles widened by the guardrail", widened))
	}
	if compliant, _, _ := rep.tally(rep.after); compliant < rep.roles {
		out = append(out, fmt.Sprintf("after the sweep %d of %d roles compliant", compliant, rep.roles))
	}
	return out
}

func (rep *chaosReport) writeFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	defer f.Close()
	rep.write(f)
	return f.Close()
}

func (rep *chaosReport) write(w io.Writer) {
	fmt.Fprintf(w, "\nchaos report (seed %d, plan %s, %v)\n", rep.seed, rep.digest, rep.elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  events (owner calls)     %d on %d roles; %d deliveries (%d duplicates, %d held back out of order)\n",
		rep.events, rep.roles, rep.deliveries, rep.duplicates, rep.reordered)
	{
		fmt.Fprintf(w, "  lockdown detached        %d times as planned; %d planned detaches made AttachRolePolicy (lockdown not attached yet)\n",
			rep.detached, rep.substituted)
	}
	if len(rep.skipped) > 0 {
		fmt.Fprintf(w, "  owner calls not made     %d (the call failed)\n", len(rep.skipped))
	}
	fmt.Fprintf(w, "  invocations              %d (%d retries); p50 %v, p99 %v, max %v\n",
		rep.invocations, rep.retries, rep.p50.Round(time.Millisecond), rep.p99.Round(time.Millisecond), rep.max.Round(time.Millisecond))
	rc := rep.rechecks
	fmt.Fprintf(w, "  re-checks (SQS)          %d scheduled (longest delay %v), %d delivered in %d invocations, %d failed invocations, %d to the dead-letter queue",
		rc.Scheduled, rc.MaxDelay, rc.Delivered, rc.Invocations, rc.Failed, rc.Redriven)
	if rc.Refused > 0 {
		fmt.Fprintf(w, "; %d SendMessage calls refused", rc.Refused)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  failure-queue entries    %d\n", len(rep.failures))
	for _, f := range rep.failures {
		fmt.Fprintf(w, "    %s %s (%s): %s\n", f.API, f.Role, f.EventID, truncate(f.Error, 160))
	}
	outs := make([]string, 0, len(rep.outcomes))
	for k, v := range rep.outcomes {
		outs = append(outs, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(outs)
	fmt.Fprintf(w, "  decision records         %s\n", strings.Join(outs, ", "))
	all, writes, injected := countCalls(rep.enforcerCalls)
	perRole := 0.0
	if rep.changedRoles > 0 {
		perRole = float64(writes) / float64(rep.changedRoles)
	}
	fmt.Fprintf(w, "  enforcer IAM calls       %d (%d injected faults), %d writes, %.2f writes per changed role (%d changed)\n",
		all, injected, writes, perRole, rep.changedRoles)
	fmt.Fprintf(w, "  owner IAM calls          %d\n", rep.ownerCalls)
	sAll, sWrites, sInjected := countCalls(rep.sweepCalls)
	fmt.Fprintf(w, "  sweeper                  %v evaluated, %v changed, %v errors, %v left; %d IAM calls (%d injected faults), %d writes\n",
		rep.sweep["evaluated"], rep.sweep["changed"], rep.sweep["errors"], rep.sweep["left"], sAll, sInjected, sWrites)

	bc, bl, bw := rep.tally(rep.before)
	ac, al, aw := rep.tally(rep.after)
	fmt.Fprintf(w, "  before the sweep         %d compliant, %d not compliant (%d of them lost), %d widened\n", bc, rep.roles-bc, bl, bw)
	fmt.Fprintf(w, "  after the sweep          %d compliant, %d not compliant (%d of them lost), %d widened\n", ac, rep.roles-ac, al, aw)
	var narrowed []string
	for name, s := range rep.after {
		if len(s.Narrowed) > 0 {
			narrowed = append(narrowed, name)
		}
	}
	slices.Sort(narrowed)
	fmt.Fprintf(w, "  narrowed (fail closed)   %d roles admit less than the owner's latest policy, restricted %v\n", len(narrowed), narrowed)

	fmt.Fprintln(w, "\n  every role's final state (before the sweep -> after):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	names := slices.Sorted(maps.Keys(rep.after))
	for i, name := range names {
		fmt.Fprintf(tw, "  %s\t%s\t->\t%s", name, roleWord(rep.before[name]), roleWord(rep.after[name]))
		if i%2 == 0 && i+1 < len(names) {
			fmt.Fprint(tw, "\t|")
		} else {
			fmt.Fprintln(tw)
		}
	}
	if len(names)%2 == 1 {
		fmt.Fprintln(tw)
	}
	tw.Flush()
	_, lost, _ := rep.tally(rep.before)
	fmt.Fprintf(w, "\nchaos: %d events, %d roles: %d compliant, %d in the failure queue, %d lost\n",
		rep.events, rep.roles, ac, len(rep.failures), lost)
}

func roleWord(s chaosRoleState) string {
	switch {
	case !s.Exists:
		return "missing"
	case len(s.Widened) > 0:
		return "WIDENED " + strings.Join(s.Widened, ",")
	case s.Compliant:
		return "compliant"
	case !s.TrustOK && !s.Lockdown:
		return "OPEN+NO-LOCKDOWN"
	case !s.TrustOK:
		return "OPEN"
	default:
		return "NO-LOCKDOWN"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
