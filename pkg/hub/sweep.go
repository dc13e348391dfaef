package hub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/member"
)

// SweepOptions controls a sweep of the organization.
type SweepOptions struct {
	// Trigger is copied into every record (EventName "Sweep").
	Trigger guardrail.Trigger
	// Concurrency bounds the member accounts swept at once; 0 means
	// config.DefaultSweepConcurrency. Each account's roles are swept with
	// the engine's own bound (guardrail.DefaultSweepConcurrency): IAM's
	// rate limits are per account, so accounts do not slow each other.
	Concurrency int
	// Deadline, when set, is the last moment an account's sweep (and,
	// inside it, a role's evaluation) may start. Accounts not started are
	// reported in SweepSummary.LeftAccounts.
	Deadline time.Time
	// FirstAccounts are swept before all others, in this order: the
	// accounts an earlier run left. FirstRoles gives, per account, the
	// roles an earlier run left there (guardrail.SweepOptions.First).
	FirstAccounts []string
	FirstRoles    map[string][]string
	// Now is the clock Deadline is compared with (time.Now when nil); the
	// sweeper passes the one it computed the deadline with.
	Now func() time.Time
	// Version is the build version the hub's own records carry (the
	// perimeter drift records; the members' records carry their engine's).
	Version string
}

// Account outcomes of AccountSummary.
const (
	AccountSwept      = "swept"      // every role evaluated
	AccountIncomplete = "incomplete" // roles left when time ran out, or evaluations failed
	AccountFailed     = "error"      // not swept: the member role could not be assumed, or the listing failed
)

// AccountSummary is one member account's sweep: the engine's summary and
// the account's outcome. Its JSON names are snake_case like the records'.
type AccountSummary struct {
	Account string `json:"account"`
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	guardrail.SweepSummary
}

// SweepSummary is a whole run's.
type SweepSummary struct {
	AccountsListed  int      `json:"accounts_listed"`  // member accounts to sweep
	AccountsSwept   int      `json:"accounts_swept"`   // outcome swept
	AccountsPartial int      `json:"accounts_partial"` // outcome incomplete
	AccountsFailed  int      `json:"accounts_failed"`  // outcome error
	AccountsLeft    int      `json:"accounts_left"`    // not started: deadline reached or cancelled
	LeftAccounts    []string `json:"left_accounts"`    // the accounts to start with next time
	// SkippedAccounts names the accounts of the organization the hub does
	// not sweep, with the reason (the management account, suspended ones).
	SkippedAccounts []string `json:"skipped_accounts"`
	FirstAccounts   int      `json:"first_accounts"` // accounts of FirstAccounts swept before the others
	// Role totals over the accounts swept, as guardrail.SweepSummary counts them.
	Listed      int   `json:"listed"`
	Evaluated   int   `json:"evaluated"`
	Compliant   int   `json:"compliant"`
	Changed     int   `json:"changed"`
	WouldChange int   `json:"would_change"`
	Skipped     int   `json:"skipped"`
	Gone        int   `json:"gone"`
	Errors      int   `json:"errors"`
	Left        int   `json:"left"`
	APICalls    int   `json:"api_calls"`          // IAM calls in every account
	OrgCalls    int   `json:"organization_calls"` // ListAccounts pages and the perimeter check's reads
	DurationMS  int64 `json:"duration_ms"`
	// Perimeter is the state of the organization policies (issue 18):
	// PerimeterNotChecked, PerimeterInStep, PerimeterDrift or
	// PerimeterError; PerimeterDrifts counts the drift records.
	Perimeter       string `json:"perimeter"`
	PerimeterDrifts int    `json:"perimeter_drifts"`
}

// Sweep checks the organization's perimeter policies (checkPerimeter) and
// sweeps every member account (member.Organization.Accounts): emit
// receives every decision record and account one summary per account
// reached, never concurrently. The error is for the run itself: the
// accounts could not be listed, or ctx ended; the failures of single
// accounts are in their summaries and the run's counts.
func (h *Hub) Sweep(ctx context.Context, opts SweepOptions, emit func(decision.Record), account func(AccountSummary)) (SweepSummary, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	var sum SweepSummary
	// The perimeter first: a handful of calls, and the one check of the
	// run that no member account's sweep repeats.
	pc := h.checkPerimeter(ctx, opts, emit)
	sum.Perimeter, sum.PerimeterDrifts = pc.state, pc.drifts
	accounts, skipped, calls, err := h.org.Accounts(ctx)
	sum.OrgCalls = calls + pc.calls
	for _, s := range skipped {
		sum.SkippedAccounts = append(sum.SkippedAccounts, s.Account+": "+s.Reason)
	}
	if err != nil {
		sum.DurationMS = now().Sub(start).Milliseconds()
		return sum, err
	}
	accounts, sum.FirstAccounts = firstAccounts(accounts, opts.FirstAccounts)
	sum.AccountsListed = len(accounts)
	workers := opts.Concurrency
	if workers <= 0 {
		workers = config.DefaultSweepConcurrency
	}
	session := member.SessionName("sweep-" + opts.Trigger.EventID)
	var (
		mu   sync.Mutex // guards sum, emit and account
		next int
		wg   sync.WaitGroup
	)
	take := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == len(accounts) {
			return "", false
		}
		if ctx.Err() != nil || (!opts.Deadline.IsZero() && !now().Before(opts.Deadline)) {
			sum.LeftAccounts = append(sum.LeftAccounts, accounts[next:]...)
			sum.AccountsLeft += len(accounts) - next
			next = len(accounts)
			return "", false
		}
		a := accounts[next]
		next++
		return a, true
	}
	emitLocked := func(rec decision.Record) {
		mu.Lock()
		defer mu.Unlock()
		emit(rec)
	}
	for range min(workers, len(accounts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				acct, ok := take()
				if !ok {
					return
				}
				as := h.sweepAccount(ctx, acct, session, opts, emitLocked)
				mu.Lock()
				sum.add(as)
				account(as)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sum.DurationMS = now().Sub(start).Milliseconds()
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("sweep: %w", err)
	}
	return sum, nil
}

// sweepAccount sweeps one member account with its engine.
func (h *Hub) sweepAccount(ctx context.Context, acct, session string, opts SweepOptions, emit func(decision.Record)) AccountSummary {
	as := AccountSummary{Account: acct}
	e, err := h.engine(ctx, acct, session)
	if err != nil {
		as.Outcome, as.Error = AccountFailed, err.Error()
		return as
	}
	as.SweepSummary, err = e.Sweep(ctx, guardrail.SweepOptions{
		Trigger: opts.Trigger, Deadline: opts.Deadline, First: opts.FirstRoles[acct],
	}, emit)
	switch {
	case err != nil && as.Listed == 0:
		as.Outcome, as.Error = AccountFailed, err.Error()
	case err != nil:
		as.Outcome, as.Error = AccountIncomplete, err.Error()
	case as.Left > 0 || as.Errors > 0:
		as.Outcome = AccountIncomplete
	default:
		as.Outcome = AccountSwept
	}
	return as
}

// add counts one account's summary into the run's. An account with roles
// left is also an account to start with next time.
func (s *SweepSummary) add(as AccountSummary) {
	switch as.Outcome {
	case AccountSwept:
		s.AccountsSwept++
	case AccountIncomplete:
		s.AccountsPartial++
	default:
		s.AccountsFailed++
	}
	if as.Left > 0 || as.Outcome == AccountFailed {
		s.LeftAccounts = append(s.LeftAccounts, as.Account)
	}
	s.Listed += as.Listed
	s.Evaluated += as.Evaluated
	s.Compliant += as.Compliant
	s.Changed += as.Changed
	s.WouldChange += as.WouldChange
	s.Skipped += as.SweepSummary.Skipped
	s.Gone += as.Gone
	s.Errors += as.SweepSummary.Errors
	s.Left += as.Left
	s.APICalls += as.APICalls
}

// firstAccounts moves the accounts listed in first to the front, in first's
// order (those no longer members are dropped from first), and says how many
// it moved.
func firstAccounts(accounts, first []string) ([]string, int) {
	if len(first) == 0 {
		return accounts, 0
	}
	var front []string
	for _, a := range first {
		if slices.Contains(accounts, a) && !slices.Contains(front, a) {
			front = append(front, a)
		}
	}
	rest := slices.DeleteFunc(slices.Clone(accounts), func(a string) bool { return slices.Contains(front, a) })
	return append(front, rest...), len(front)
}
