package guardrail

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// converge is the last read step of an event: it checks the reads against
// the event's claim (DESIGN.md §2), re-reading the role while they disagree,
// and returns an error when the evaluation must not proceed.
//
// Only the trust claim is waited for. A claimed trust document agrees with
// the read one when they are semantically equal (IAM may normalise on save),
// or when the read one is the guardrail's own write (its marker matches,
// marker.go) derived from this event or a newer one: a duplicate delivery,
// or a retry after our own fix. Equality with the claim restricted is no
// proof by itself: every fully untrusted policy restricts to the same
// no-principal deny, so a stale copy of an earlier remediation would pass
// for this one (issue 19, defect 2).
//
// If they never agree within the stale-read backoff, which of the two is
// newer decides what to restrict, and only a read made after IAM's
// consistency window can tell: recheck waits for it (or, when the
// invocation has no time left, fails with ErrStaleRead for Lambda's retry)
// instead of writing from a possibly stale copy or calling it compliant.
//
// Attach and detach claims are compared but not waited for: a claimed
// detach of the lockdown policy re-attaches it whatever the read says
// (AttachRolePolicy is idempotent), and other policies do not change either
// control's verdict.
func (r *run) converge(ctx context.Context, st *roleState, c Claim) error {
	if c.AttachedPolicyARN != "" && !slices.Contains(st.attached, c.AttachedPolicyARN) {
		r.consistent = false
	}
	if c.DetachedPolicyARN != "" && slices.Contains(st.attached, c.DetachedPolicyARN) {
		r.consistent = false
	}
	if c.TrustPolicy == "" || r.e.cfg.TrustMode == config.Skip {
		return nil
	}
	claimed, err := r.parse(c.TrustPolicy)
	if err != nil {
		// IAM accepted the claimed document, so this is a limit of our
		// parser; the read copy is all there is to go on.
		r.consistent = false
		return nil
	}
	cl := claim{doc: claimed, at: r.eventTime()}
	if cl.res, err = trust.Restrict(claimed, st.zone); err != nil {
		return fmt.Errorf("restrict claimed trust policy of role %s: %w", st.name, err)
	}
	for i := 0; !cl.agrees(st); i++ {
		r.staleReads++
		if i == len(r.e.backoff) {
			r.consistent = false
			return r.recheck(ctx, st, cl)
		}
		if err := r.e.sleep(ctx, r.e.backoff[i]); err != nil {
			return fmt.Errorf("role %s: wait for consistent read: %w", st.name, err)
		}
		if err := r.reread(ctx, st); err != nil {
			return err
		}
	}
	st.source = cl.at
	return nil
}

// claim is an event's claimed trust document, restricted, and when it was
// written.
type claim struct {
	doc *policy.Document
	res trust.Result
	at  time.Time
}

// agrees reports whether the read trust document shows the claim or what
// superseded it: the claimed document itself, the guardrail's own write
// (the marker) derived from this event's claim, or its own write derived
// from a newer intent. Each is evaluated as read; the guardrail's writes
// are restricted documents, so a forged marker gains nothing here.
func (cl claim) agrees(st *roleState) bool {
	read := st.trustDoc
	if read == nil {
		return false
	}
	if policy.Equivalent(cl.doc, read) {
		return true
	}
	at, own := st.own()
	return own && (at.After(cl.at) || at.Equal(cl.at) && policy.Equivalent(cl.res.Policy, read))
}

// reread reads the role's trust document (and marker) again into st.
func (r *run) reread(ctx context.Context, st *roleState) error {
	fresh, err := r.readRole(ctx, st.name)
	if err != nil {
		return err
	}
	st.trustRaw, st.trustDoc, st.trustErr = fresh.trustRaw, fresh.trustDoc, fresh.trustErr
	st.restricted, st.restrictedErr = nil, nil
	st.marker = fresh.marker
	return nil
}

// recheck decides, from a read made after IAM's consistency window following
// the event, between the claimed trust document and the read one; by then
// the read reflects the claim's write or something newer (the propagation
// model, README "Consistency"):
//   - the read shows the claim (or the guardrail's write for it): evaluate
//     it as usual;
//   - the read is the guardrail's own write derived from an older event:
//     that write replaced the owner's newer policy (it read a stale copy),
//     so the claim is restricted and written in its place (restore);
//   - anything else is a change newer than the claim (its own event
//     follows): it is evaluated as read, and restricted if it needs it.
//
// Either way what is written is a restricted document, so a wrong marker
// can cost a rewrite but never admit an outsider.
func (r *run) recheck(ctx context.Context, st *roleState, cl claim) error {
	if err := r.awaitWindow(ctx); err != nil {
		return err
	}
	if err := r.reread(ctx, st); err != nil {
		return err
	}
	if cl.agrees(st) {
		st.source = cl.at
		return nil
	}
	if at, own := st.own(); own && at.Before(cl.at) {
		st.current, st.restore, st.source = st.trustDoc, true, cl.at
		st.trustRaw, st.trustDoc, st.trustErr = "", cl.doc, nil
		st.restricted, st.restrictedErr = &cl.res, nil
		return nil
	}
	st.source = r.e.now()
	return nil
}

// awaitWindow waits until IAM's consistency window after the event has
// passed. When the invocation ends before that, nothing is decided: the
// retryable ErrStaleRead makes Lambda deliver the event again a minute or
// more later, when the re-check is due (README "Consistency").
func (r *run) awaitWindow(ctx context.Context) error {
	from, until, limit := r.awaitBounds(ctx)
	now := r.e.now()
	if !now.Before(until) {
		return nil
	}
	if limit.Before(until) {
		return fmt.Errorf("role %s: trust policy read never matched the event's claim, and IAM's consistency window of %s after the event of %s outlasts this invocation; re-checked on the retry: %w",
			r.name, r.e.window, from.UTC().Format(time.RFC3339), ErrStaleRead)
	}
	return r.wait(ctx, until.Sub(now), "role "+r.name)
}
