package guardrail

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// DefaultSweepConcurrency is how many roles a sweep evaluates at once when
// SweepOptions.Concurrency is 0. IAM's rate limits are low and shared with
// every other IAM caller in the account; compliant roles cost no call at all,
// so more parallelism would only add throttling on non-compliant ones.
const DefaultSweepConcurrency = 4

// listPageSize is GetAccountAuthorizationDetails' MaxItems: its maximum, so
// that 2,000 roles take 2 calls.
const listPageSize = 1000

// SweepOptions controls a sweep.
type SweepOptions struct {
	// Trigger is copied into every record; EventName says who swept
	// ("Sweep" for the scheduled Lambda, "Scan" for the CLI).
	Trigger Trigger
	// Concurrency bounds evaluations in flight; 0 means DefaultSweepConcurrency.
	Concurrency int
	// Deadline, when set, is the last moment an evaluation may start; the
	// sweeper sets it to its Lambda deadline minus a safety margin. Roles
	// not started by then are reported in SweepSummary.LeftRoles.
	Deadline time.Time
	// RoleNames, when not empty, limits the sweep to these roles, each read
	// with GetRole (Evaluate) instead of listing the account.
	RoleNames []string
	// First names roles to evaluate before all others, in this order: the
	// LeftRoles of a sweep that ran out of time, so that the next sweep
	// starts with them instead of spending its budget on the same roles
	// again. Names not listed are ignored (the role is gone).
	First []string
}

// SweepSummary counts what a sweep did. Its JSON names are snake_case like
// the decision record's, so the sweeper can log it as its summary record.
type SweepSummary struct {
	Listed      int      `json:"listed"`       // roles listed (or named)
	Evaluated   int      `json:"evaluated"`    // roles evaluated (records emitted)
	Compliant   int      `json:"compliant"`    // outcome compliant
	Changed     int      `json:"changed"`      // outcome changed
	WouldChange int      `json:"would_change"` // outcome would-change
	Skipped     int      `json:"skipped"`      // outcome skipped (class never touched)
	Gone        int      `json:"gone"`         // outcome role-gone
	Errors      int      `json:"errors"`       // outcome error
	Left        int      `json:"left"`         // not evaluated: deadline reached or cancelled
	LeftRoles   []string `json:"left_roles"`   // names of the roles left
	FirstRoles  int      `json:"first_roles"`  // roles of SweepOptions.First evaluated before the others
	ListCalls   int      `json:"list_calls"`   // GetAccountAuthorizationDetails pages
	// LockdownPolicy is the lockdown state of the lockdown policy itself
	// (present, restored, would-restore, failed, skipped), checked first
	// on every full sweep; "" when the sweep named its roles.
	LockdownPolicy decision.Lockdown `json:"lockdown_policy"`
	APICalls       int               `json:"api_calls"`   // every IAM call, listing included
	DurationMS     int64             `json:"duration_ms"` // wall time of the sweep
	// Classes counts the evaluated roles by class (aws-managed, guardrail,
	// exempt, service), for the dashboard's view of the account.
	Classes map[string]int `json:"classes"`
}

// Sweep evaluates every role of the account (or opts.RoleNames) and calls
// emit once per evaluated role, never concurrently, so emit may write to a
// logger or a slice without locking. Listing uses
// GetAccountAuthorizationDetails, which returns each role's trust policy,
// managed and inline policies: a compliant role costs no further call, and
// 2,000 compliant roles cost 2 calls (EvaluateRole).
//
// A full sweep first checks the lockdown policy's default version
// (EvaluateLockdownPolicy) and restores it when it was changed, with its own
// record, so the roles are then locked down with the right document.
//
// Evaluation failures are counted in the summary and carried by the records;
// the returned error is for the sweep itself: the listing failed (nothing was
// evaluated), or ctx ended.
func (e *Engine) Sweep(ctx context.Context, opts SweepOptions, emit func(decision.Record)) (SweepSummary, error) {
	start := e.now()
	var sum SweepSummary
	jobs, err := e.sweepJobs(ctx, opts, emit, &sum)
	if err != nil {
		sum.DurationMS = e.now().Sub(start).Milliseconds()
		return sum, err
	}
	jobs, sum.FirstRoles = firstJobs(jobs, opts.First, func(j sweepJob) string { return j.name })
	sum.Listed = len(jobs)

	workers := opts.Concurrency
	if workers <= 0 {
		workers = DefaultSweepConcurrency
	}
	var (
		mu   sync.Mutex // guards sum and emit
		next int
		wg   sync.WaitGroup
	)
	take := func() (sweepJob, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(jobs) {
			return sweepJob{}, false
		}
		if ctx.Err() != nil || (!opts.Deadline.IsZero() && !e.now().Before(opts.Deadline)) {
			for _, j := range jobs[next:] {
				sum.LeftRoles = append(sum.LeftRoles, j.name)
			}
			sum.Left += len(jobs) - next
			next = len(jobs)
			return sweepJob{}, false
		}
		j := jobs[next]
		next++
		return j, true
	}
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := take()
				if !ok {
					return
				}
				var rec decision.Record
				if j.role != nil {
					rec, _ = e.EvaluateRole(ctx, *j.role, opts.Trigger)
				} else {
					rec, _ = e.Evaluate(ctx, j.name, opts.Trigger, Claim{})
				}
				mu.Lock()
				sum.count(rec)
				emit(rec)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sum.DurationMS = e.now().Sub(start).Milliseconds()
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("sweep: %w", err)
	}
	return sum, nil
}

// firstJobs moves the jobs whose names are in first (IAM role names are
// case-insensitive) to the front, in first's order; the rest keep theirs.
// It also returns how many it moved.
func firstJobs[J any](jobs []J, first []string, name func(J) string) ([]J, int) {
	if len(first) == 0 {
		return jobs, 0
	}
	rank := make(map[string]int, len(first))
	for i, n := range first {
		if _, dup := rank[strings.ToLower(n)]; !dup {
			rank[strings.ToLower(n)] = i
		}
	}
	var front, rest []J
	for _, j := range jobs {
		if _, ok := rank[strings.ToLower(name(j))]; ok {
			front = append(front, j)
		} else {
			rest = append(rest, j)
		}
	}
	slices.SortStableFunc(front, func(a, b J) int { return rank[strings.ToLower(name(a))] - rank[strings.ToLower(name(b))] })
	return append(front, rest...), len(front)
}

// sweepJob is one role to evaluate: named (read with GetRole) or from the
// listing's snapshot.
type sweepJob struct {
	name string
	role *Role
}

// sweepJobs returns the roles of a sweep: the named ones, or, for a full
// sweep, every role listed, after the lockdown policy's own check.
func (e *Engine) sweepJobs(ctx context.Context, opts SweepOptions, emit func(decision.Record), sum *SweepSummary) ([]sweepJob, error) {
	var jobs []sweepJob
	if len(opts.RoleNames) > 0 {
		for _, n := range opts.RoleNames {
			jobs = append(jobs, sweepJob{name: n})
		}
		return jobs, nil
	}
	e.sweepLockdownPolicy(ctx, opts.Trigger, emit, sum)
	roles, calls, err := e.listRoles(ctx)
	sum.ListCalls = calls
	sum.APICalls += calls
	if err != nil {
		return nil, err
	}
	for i := range roles {
		jobs = append(jobs, sweepJob{name: roles[i].Name, role: &roles[i]})
	}
	return jobs, nil
}

// sweepLockdownPolicy checks (and restores) the lockdown policy's default
// version before the roles, emits its record and counts it in sum.
func (e *Engine) sweepLockdownPolicy(ctx context.Context, t Trigger, emit func(decision.Record), sum *SweepSummary) {
	rec, _ := e.EvaluateLockdownPolicy(ctx, t, "")
	emit(rec)
	sum.LockdownPolicy = rec.Lockdown
	sum.APICalls += rec.APICalls
	if rec.Outcome == decision.OutcomeError {
		sum.Errors++
	}
}

func (s *SweepSummary) count(rec decision.Record) {
	s.Evaluated++
	if rec.Class != "" {
		if s.Classes == nil {
			s.Classes = map[string]int{}
		}
		s.Classes[rec.Class]++
	}
	s.APICalls += rec.APICalls
	switch rec.Outcome {
	case decision.OutcomeCompliant:
		s.Compliant++
	case decision.OutcomeChanged:
		s.Changed++
	case decision.OutcomeWouldChange:
		s.WouldChange++
	case decision.OutcomeSkipped:
		s.Skipped++
	case decision.OutcomeRoleGone:
		s.Gone++
	default:
		s.Errors++
	}
}

// listRoles reads every role with GetAccountAuthorizationDetails (filter
// Role) and the SDK's paginator. It returns the roles and the number of
// calls made.
func (e *Engine) listRoles(ctx context.Context) ([]Role, int, error) {
	var roles []Role
	r := e.newRun("", Trigger{})
	p := iam.NewGetAccountAuthorizationDetailsPaginator(e.client, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeRole},
		MaxItems: aws.Int32(listPageSize),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx, r.count)
		if err != nil {
			return nil, r.calls, fmt.Errorf("list roles (GetAccountAuthorizationDetails page %d): %w", r.calls, err)
		}
		for _, rd := range out.RoleDetailList {
			roles = append(roles, roleFromDetail(rd))
		}
	}
	return roles, r.calls, nil
}

func roleFromDetail(rd types.RoleDetail) Role {
	r := Role{
		Name:           aws.ToString(rd.RoleName),
		Path:           aws.ToString(rd.Path),
		ARN:            aws.ToString(rd.Arn),
		TrustPolicy:    aws.ToString(rd.AssumeRolePolicyDocument),
		InlinePolicies: make(map[string]string, len(rd.RolePolicyList)),
	}
	for _, p := range rd.AttachedManagedPolicies {
		r.AttachedPolicyARNs = append(r.AttachedPolicyARNs, aws.ToString(p.PolicyArn))
	}
	for _, p := range rd.RolePolicyList {
		r.InlinePolicies[aws.ToString(p.PolicyName)] = aws.ToString(p.PolicyDocument)
	}
	return r
}
