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
// marker.go) restricted from this claim or derived from a newer intent: a
// duplicate delivery, or a retry after our own fix. Equality with the claim
// restricted is no proof by itself: every fully untrusted policy restricts
// to the same no-principal deny, so a stale copy of an earlier remediation
// would pass for this one (issue 19, defect 2).
//
// A read that is the guardrail's own write settles at once: its marker
// says which intent it derives from (settle). A read of a document the
// guardrail did not write may be a stale copy older than the claim, or the
// owner's newer change: which, only a read made after IAM's consistency
// window can tell, so after the stale-read backoff recheck waits for it (or,
// when the invocation has no time left, fails with ErrStaleRead for
// Lambda's retry) instead of writing from a possibly stale copy or calling
// it compliant. A re-check delivered from the queue (Trigger.Recheck) is
// that read already: it settles at once.
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
	cl := claim{doc: claimed, hash: docHash(claimed), at: r.eventTime()}
	if cl.res, err = trust.Restrict(claimed, st.zone); err != nil {
		return fmt.Errorf("restrict claimed trust policy of role %s: %w", st.name, err)
	}
	for i := 0; ; i++ {
		rel := cl.relation(st)
		if r.deferRecheck(st, rel, cl) {
			return errDeferred
		}
		if r.t.Recheck && rel == relOther && st.marker != "" {
			// The second look (deferRecheck) still reads a document
			// that is neither the claim nor a marked own write, on a
			// role with a marker: a newer change of the owner's, or
			// the guardrail's write left unmarked by a concurrent one.
			rel = relUnsure
		}
		// A read of an unmarked document may be a stale copy older than
		// the claim; so may the guardrail's older write of the claim's
		// own restriction (the owner may have set the claimed document
		// again since, as a stack re-applying its template does: defect
		// 2).
		wait := rel == relOther || rel == relSame
		if !wait || r.t.Recheck {
			if rel != relClaim && rel != relNewer {
				r.consistent = false
			}
			cl.settle(st, rel, r.e.window)
			return nil
		}
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
}

// claim is an event's claimed trust document, its docHash, its
// restriction, and when it was written.
type claim struct {
	doc  *policy.Document
	hash string
	res  trust.Result
	at   time.Time
}

// relation is how the trust document read relates to an event's claim.
type relation int

const (
	// relClaim: the read shows the claim, or the guardrail's write
	// restricted from it.
	relClaim relation = iota
	// relNewer: the guardrail's own write, derived from an intent newer
	// than the claim.
	relNewer
	// relOlder: the guardrail's own write, derived from an older intent:
	// it replaced the owner's newer policy (it was restricted from a
	// stale copy).
	relOlder
	// relSame: the guardrail's own write derived from an older intent,
	// and the claim's restriction: nothing to restore, unless the owner
	// set the claimed document again since (a stale read hides it).
	relSame
	// relTie: the guardrail's own write, derived from another document
	// whose span overlaps the claim's (set in the same second, or read
	// within IAM's window of it): nothing tells which is newer.
	relTie
	// relUnsure: a re-check's second look reads neither the claim nor a
	// marked own write on a role that carries a marker (converge).
	relUnsure
	// relOther: a document the guardrail did not write (the owner's, newer
	// than the claim; or, before IAM's window has passed, a stale older one).
	relOther
)

// relation tells how the read trust document relates to the claim. Each
// candidate is restricted before it is written, so a forged marker gains
// nothing here.
func (cl claim) relation(st *roleState) relation {
	read := st.trustDoc
	if read == nil {
		return relOther
	}
	if policy.Equivalent(cl.doc, read) {
		return relClaim
	}
	m, own := st.own()
	at := exactly(cl.at)
	switch {
	case !own:
		return relOther
	case at.before(m.at):
		return relNewer
	case m.at.from.Before(cl.at) && m.src == cl.hash && m.wrote.After(cl.at.Add(time.Second)):
		// Restricted from this very document, and written after the
		// claim's own write (event times have whole seconds): whatever
		// span the marker states (a read's), the claim is what it
		// reflects.
		return relClaim
	case m.at.before(at) && policy.Equivalent(cl.res.Policy, read):
		return relSame
	case m.at.before(at):
		return relOlder
	case m.src == cl.hash || m.src == "" && policy.Equivalent(cl.res.Policy, read):
		// This claim's restriction (a marker written before sources were
		// recorded names none: its document must be the restriction).
		return relClaim
	}
	// The spans overlap: another document set in the claim's second, or a
	// write restricted from a read made within IAM's window of the claim,
	// which may have shown a stale copy older than the claim or the
	// owner's newer policy.
	return relTie
}

// settle decides from a read that can be trusted (it agrees with the claim,
// or IAM's consistency window has passed) which document the plan
// restricts, and from which intent a write derives:
//   - the claim (or the guardrail's write for it), the guardrail's write
//     for a newer intent, or its older write of the claim's own
//     restriction (relSame: marked again as this claim's): the document
//     read, as usual;
//   - the guardrail's own write derived from an older intent: that write
//     replaced the owner's newer policy, so the claim is restricted and
//     written in its place (restore);
//   - the guardrail's write for another document whose span overlaps the
//     claim's (relTie), or a re-check's second look that still cannot tell
//     (relUnsure): what the two have in common (trust.Common), which admits
//     no principal that either leaves out, whichever of them the owner set
//     last; it may admit less than the owner's latest policy (fail closed:
//     the record says why, and the owner's next write has its own event);
//   - anything else is a change newer than the claim (its own event
//     follows): it is evaluated as read, and a write from it is marked with
//     the read's span (readSpan).
//
// Either way what is written is a restricted document, so a wrong marker
// can cost a rewrite but never admit an outsider.
func (cl claim) settle(st *roleState, rel relation, window time.Duration) {
	switch rel {
	case relClaim:
		st.source, st.sourceHash = exactly(cl.at), cl.hash
		st.remark = st.confirms(cl, window)
	case relNewer:
		m, _ := st.own()
		st.source, st.sourceHash = m.at, m.src
	case relSame:
		// The guardrail's write is this claim's restriction, read after
		// IAM's window: it replaced the claimed document, or the owner set
		// that document before it. Either way it now stands for this
		// claim, and its marker says so, lest a look at an event between
		// the two, made later (a second look, a redelivery), take it for
		// an older intent and restore its own policy over this newer one
		// (make chaos, seed 5).
		st.source, st.sourceHash, st.remark = exactly(cl.at), cl.hash, true
	case relOlder:
		st.restoreFrom(cl.doc, &cl.res, "the trust policy read is the guardrail's own write derived from an older event; the owner's newer policy, set by this event, is restored restricted")
		st.source, st.sourceHash = exactly(cl.at), cl.hash
	case relTie, relUnsure:
		why := "the trust policy read is the guardrail's write for another policy set in the same second as this event's, or restricted from a read made within IAM's consistency window of it, and nothing tells which is newer; only the principals both admit are kept"
		read := readSpan(st.readAt, window)
		if m, own := st.own(); own {
			read = m.at
		}
		if rel == relUnsure {
			why = "a second look still reads neither this event's policy nor the guardrail's marked write, on a role whose marker matches nothing: the owner's newer policy, or the guardrail's write left unmarked by a concurrent one; only the principals both admit are kept (the newer change's own re-check restores it)"
		}
		// What is kept derives from both: an event outside both spans
		// can tell it is older or newer, one inside cannot (relTie).
		common := trust.Common(st.trustDoc, cl.res.Policy)
		st.source, st.sourceHash = exactly(cl.at).union(read), docHash(common)
		if policy.Equivalent(common, st.trustDoc) {
			return
		}
		// Restricted again: Common keeps the read's statements, and a
		// forged marker can make the read anything (a principal that the
		// claim keeps only under its condition must not stay without it).
		res, err := trust.Restrict(common, st.zone)
		if err != nil {
			st.restrictedErr = fmt.Errorf("restrict what the read and the claimed trust policies of role %s have in common: %w", st.name, err)
			return
		}
		st.restoreFrom(common, &res, why)
	default:
		st.source, st.sourceHash = span{}, ""
	}
}

// confirms reports whether a read that shows the claimed document itself
// is marked as the claim's (roleState.remark): on a role that carries a
// marker for another document (the guardrail wrote it before; the owner
// has since replaced it), when the read reflects the claim's write (it was
// made at least IAM's window after it), unless the marker already names
// this document for an intent no older. Unmarked, the owner's document
// would be indistinguishable from the guardrail's write left unmarked by a
// concurrent one, and a look at an older event would keep only what both
// admit (relUnsure), narrowing the owner's newer policy for good; marked,
// that look sees a newer intent and keeps it. A read inside the window may
// be stale: it marks nothing, so that a marker is never moved off the
// document it describes on the strength of an old copy.
func (st *roleState) confirms(cl claim, window time.Duration) bool {
	at := exactly(cl.at)
	if st.marker == "" || !policy.Equivalent(cl.doc, st.trustDoc) || !at.before(readSpan(st.readAt, window)) {
		return false
	}
	m, own := st.own()
	return !own || m.at.before(at)
}

// restoreFrom makes doc, restricted as res, the document the plan writes in
// place of the one read (kept as current for the record), for why.
func (st *roleState) restoreFrom(doc *policy.Document, res *trust.Result, why string) {
	st.current, st.restore = st.trustDoc, why
	st.trustRaw, st.trustDoc, st.trustErr = "", doc, nil
	st.restricted, st.restrictedErr = res, nil
}

// reread reads the role's trust document (and marker) again into st.
func (r *run) reread(ctx context.Context, st *roleState) error {
	fresh, err := r.readRole(ctx, st.name)
	if err != nil {
		return err
	}
	st.trustRaw, st.trustDoc, st.trustErr = fresh.trustRaw, fresh.trustDoc, fresh.trustErr
	st.restricted, st.restrictedErr = nil, nil
	st.marker, st.readAt = fresh.marker, fresh.readAt
	return nil
}

// recheck settles the claim from a read made after IAM's consistency window
// following the event; by then the read reflects the claim's write or
// something newer (the propagation model, README "Consistency").
func (r *run) recheck(ctx context.Context, st *roleState, cl claim) error {
	if err := r.awaitWindow(ctx); err != nil {
		return err
	}
	if err := r.reread(ctx, st); err != nil {
		return err
	}
	cl.settle(st, cl.relation(st), r.e.window)
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
