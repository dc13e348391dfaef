package guardrail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iamguardrail/guardrail/pkg/classify"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

// The re-check (issue 19; README "Consistency"). UpdateAssumeRolePolicy has
// no conditional form, so a guardrail write restricted from a read that
// missed a newer owner write replaces that newer policy, and if the newer
// policy's own event was evaluated first (from a read that showed it), no
// later event sees the loss. Only that event can: it holds the owner's
// policy. So every event that sets a trust policy is evaluated twice, the
// second time (Trigger.Recheck) once any such write has had time to become
// visible:
//
//   - a write restricted from a stale read was read before the owner's
//     write was IAM's consistency window W old (a later read shows it), and
//     is made within writeBudget L of that read (applyTrust), so it is made
//     before event time + 1 s + W + L (event times have whole seconds);
//   - a read made W after that shows it, and its marker's span either ends
//     before the event (an older event's second: converge restores the
//     event's policy, restricted) or overlaps it (a read made within W of
//     the event, which may have shown the owner's newer policy or a stale
//     older one: only what both admit is kept, relTie).
//
// RecheckDue is therefore event time + 2W + L + 1 s: about 4.5 minutes with
// the default window, delivered by an SQS delay queue (up to 15 minutes of
// delay), so no Lambda waits for it.

// writeBudget is L: the longest time between the read a trust write is
// restricted from and the write itself. Half of IAM's consistency window,
// between 15 s (time for the SDK's retries of a throttled call) and 60 s.
func (e *Engine) writeBudget() time.Duration {
	return min(max(e.window/2, 15*time.Second), time.Minute)
}

// RecheckDue returns when the re-check of an event written at eventTime is
// due: after it, a read shows any guardrail write that replaced the event's
// policy (see above).
func (e *Engine) RecheckDue(eventTime time.Time) time.Time {
	return eventTime.Add(2*e.window + e.writeBudget() + time.Second)
}

// secondLook is when a re-check that read a torn state (deferRecheck) looks
// again: one window and one write budget after its due time, when any
// write in progress at the first look is visible with its marker.
func (e *Engine) secondLook(eventTime time.Time) time.Time {
	return e.RecheckDue(eventTime).Add(e.window + e.writeBudget())
}

// errDeferred stops a re-check that must look again later (deferRecheck).
var errDeferred = errors.New("re-check deferred")

// deferRecheck reports whether a re-check must look again instead of
// settling from this read: the read trust policy is neither the claim nor
// the guardrail's own write, yet the role carries a marker, which a write
// of the guardrail in progress leaves on the old document until the new
// one is visible (putMarker: tag first, then the trust policy). Read
// within IAM's window of that write, such a state would pass for the
// owner's newer policy. The second look, at secondLook, settles whatever
// it reads: by then the write in progress is visible, and a marker that
// still matches nothing was left by an earlier write under a document the
// owner has since replaced.
func (r *run) deferRecheck(st *roleState, rel relation, cl claim) bool {
	if !r.t.Recheck || rel != relOther || st.marker == "" {
		return false
	}
	at := r.e.secondLook(cl.at)
	if !r.e.now().Before(at) {
		return false
	}
	r.deferTo = at
	return true
}

// scheduleRecheck sets rec.RecheckAt when the event set a trust policy that
// a re-check must confirm: a re-check queue is configured, the trust control
// enforces (check mode writes nothing that could replace a policy), the
// role is a service role that was evaluated without error, this is not the
// re-check itself, and the evaluation started before RecheckDue (a later
// one read after it, and so is its own re-check).
func (r *run) scheduleRecheck(rec *decision.Record, c Claim) {
	cfg := r.e.cfg
	if cfg.RecheckQueueURL == "" || r.t.Recheck || c.TrustPolicy == "" || cfg.TrustMode != config.Enforce ||
		rec.Class != string(classify.Service) || rec.Outcome == decision.OutcomeError {
		return
	}
	if due := r.e.RecheckDue(r.eventTime()); r.start.Before(due) {
		rec.RecheckAt = &due
	}
}

// writeContext bounds a trust write to writeBudget after the read it is
// restricted from (st.readAt). A read older than that is not written from:
// the evaluation fails with the retryable ErrReadTooOld, and the retry reads
// again.
func (r *run) writeContext(ctx context.Context, st *roleState) (context.Context, context.CancelFunc, error) {
	left := st.readAt.Add(r.e.writeBudget()).Sub(r.e.now())
	if left <= 0 {
		return nil, nil, fmt.Errorf("role %s: the trust policy was read %s ago, longer than the %s a write may follow its read (IAM's consistency window %s); not written, read again on the retry: %w",
			st.name, r.e.now().Sub(st.readAt).Round(time.Millisecond), r.e.writeBudget(), r.e.window, ErrReadTooOld)
	}
	ctx, cancel := context.WithTimeout(ctx, left)
	return ctx, cancel, nil
}
