package guardrail

import (
	"context"
	"errors"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// Evaluate reads the named role's current state, classifies it, restricts
// its trust policy and makes sure the lockdown policy is in place, writing
// only in enforce mode and only what really changes. c is what the
// triggering event claims it changed (the zero Claim for none): when the
// reads disagree with it the engine re-reads with backoff, and when they
// never agree and the claimed state would be non-compliant it writes nothing
// and returns an error wrapping ErrStaleRead (DESIGN.md §2).
//
// One pass, in four stages: read (read.go, converge.go), plan (plan.go),
// apply (apply.go), record (record.go).
//
// The record is always filled. A role that no read of this evaluation has
// seen is the outcome "role-gone" with a nil error once IAM's consistency
// window after the event has passed (awaitRole); a NoSuchEntity after a read
// saw the role is a stale read and a retryable error (run.missing). The
// error, if any, joins every failure; use IsRetryable to decide whether to
// retry the event.
func (e *Engine) Evaluate(ctx context.Context, roleName string, t Trigger, c Claim) (decision.Record, error) {
	r := e.newRun(roleName, t)
	if roleName == "" {
		r.fail(errors.New("evaluate: empty role name"))
		return r.record(nil, nil, nil, false)
	}
	rec, err := r.evaluateLive(ctx, c)
	if err == nil {
		r.scheduleRecheck(&rec, c)
	}
	return rec, err
}

// evaluateLive is the event path's pass: read live, plan, apply, record.
func (r *run) evaluateLive(ctx context.Context, c Claim) (decision.Record, error) {
	st, err := r.readLive(ctx, c)
	if errors.Is(err, errDeferred) {
		rec, err := r.record(st, nil, nil, false)
		rec.Outcome, rec.RecheckAt = decision.OutcomeDeferred, &r.deferTo
		rec.Reason = "the trust policy read is neither this event's nor the guardrail's own write, but the role carries a marker: a guardrail write may be in progress; looked at again once it is visible"
		return rec, err
	}
	if err != nil {
		return r.readFailed(st, err)
	}
	p := r.plan(st, c)
	return r.record(st, p, r.apply(ctx, st, p), false)
}

// EvaluateRole evaluates a role read by the caller (the sweeper's
// GetAccountAuthorizationDetails snapshot) in the same stages. A role the
// snapshot shows compliant, or whose changes are all in check mode, costs no
// IAM call. A role whose plan writes is re-read first (the rest of the pass
// is Evaluate's), because the snapshot may be minutes old and a write based
// on it could undo a change made since. The snapshot saw the role, so a
// NoSuchEntity on the re-read is taken for staleness (a retryable error),
// not a deletion.
func (e *Engine) EvaluateRole(ctx context.Context, role Role, t Trigger) (decision.Record, error) {
	r := e.newRun(role.Name, t)
	st, err := r.fromSnapshot(ctx, role)
	if err != nil {
		r.fail(err)
		return r.record(nil, nil, nil, false)
	}
	p := r.plan(st, Claim{})
	if p.applies && r.needsWrite(p) {
		r.seen = true
		return r.evaluateLive(ctx, Claim{})
	}
	return r.record(st, p, r.apply(ctx, st, p), false)
}

// readFailed records a failed read: NoSuchEntity from reads that never saw
// the role means it is gone (a normal outcome); after a read saw it, it is
// staleness (missing); anything else is an error. st is what was read
// before the failure, if anything.
func (r *run) readFailed(st *roleState, err error) (decision.Record, error) {
	if isNoSuchEntity(err) && !r.seen {
		return r.record(nil, nil, nil, true)
	}
	if isNoSuchEntity(err) {
		err = r.missing(err)
	}
	r.fail(err)
	return r.record(st, nil, nil, false)
}
