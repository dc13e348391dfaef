package guardrail

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamguardrail/guardrail/pkg/classify"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Stage 2: plan. Both controls are planned from the role's state alone,
// without an IAM call: what the trust control removes, whether the lockdown
// is in place, and whether a revocation must be restored.

// plan is the verdict of both controls on one role.
type plan struct {
	// applies is false for a role the controls never touch (exempt, below).
	applies bool
	// exempt lists what a never-touched role's trust policy admits, so a
	// reviewer sees an exempt role that trusts the world; nil when its
	// trust document cannot be read.
	exempt   *trust.Result
	trust    trustPlan
	lockdown lockdownPlan
	// revocation is set when the event deleted or rewrote RevokePolicyName
	// and it must be checked and restored (restoreRevocation).
	revocation *revocationPlan
}

// trustPlan is the trust control's verdict on a role.
type trustPlan struct {
	skip bool
	res  trust.Result
	err  error // the trust policy could not be evaluated: never rewritten, never compliant
	// after is the restricted document to write when res.Changed;
	// afterErr the failure to render it.
	after    []byte
	afterErr error
	// revoke: external principals are removed and sessions are revoked
	// after the write.
	revoke bool
}

// lockdownPlan is the lockdown control's verdict on a role.
type lockdownPlan struct {
	skip    bool
	present decision.Lockdown // LockdownPresent or LockdownInline when in place
	err     error
}

func (p lockdownPlan) missing() bool { return !p.skip && p.err == nil && p.present == "" }

// revocationPlan restores RevokePolicyName with cutoff unless the role's
// current revocation already has a cut-off no earlier.
type revocationPlan struct{ cutoff time.Time }

// plan makes the plan for a role; c is the event's claim (the zero Claim
// for none).
func (r *run) plan(st *roleState, c Claim) *plan {
	if !r.applies(st) {
		return r.planExempt(st)
	}
	p := &plan{applies: true, trust: r.planTrust(st), lockdown: r.planLockdown(st, r.lockdownDetached(c))}
	if c.RevocationChanged {
		p.revocation = r.planRevocation()
	}
	return p
}

// needsWrite reports whether applying p in the configured modes writes.
func (r *run) needsWrite(p *plan) bool {
	cfg := r.e.cfg
	return (!p.trust.skip && p.trust.err == nil && p.trust.res.Changed && cfg.TrustMode == config.Enforce) ||
		(p.lockdown.missing() && cfg.LockdownMode == config.Enforce)
}

// planExempt lists what a never-touched role's trust policy admits. A
// guardrail-class role that admits untrusted principals fails the
// evaluation (ErrProtectedRoleUntrusted), still without a write.
func (r *run) planExempt(st *roleState) *plan {
	p := &plan{}
	if st.trustDoc == nil {
		return p
	}
	res, err := trust.Analyze(st.trustDoc, st.zone)
	if err != nil {
		return p
	}
	p.exempt = &res
	var untrusted []string
	for _, f := range res.Findings {
		if f.Removed {
			untrusted = append(untrusted, f.Principal)
		}
	}
	if st.class.Class == classify.Guardrail && r.e.cfg.TrustMode != config.Skip && len(untrusted) > 0 {
		r.fail(fmt.Errorf("role %s (%s): %w: %s; not written, investigate who created or changed it",
			st.name, st.class.Reason, ErrProtectedRoleUntrusted, strings.Join(untrusted, ", ")))
	}
	return p
}

func (r *run) planTrust(st *roleState) trustPlan {
	cfg := r.e.cfg
	if cfg.TrustMode == config.Skip {
		return trustPlan{skip: true}
	}
	res, err := st.restriction()
	if err != nil {
		return trustPlan{err: err}
	}
	p := trustPlan{res: res, revoke: res.RemovedExternal && cfg.RevokeSessions}
	if res.Changed {
		if p.after, err = res.Policy.MarshalJSON(); err != nil {
			p.afterErr = fmt.Errorf("marshal restricted trust policy of role %s: %w", st.name, err)
		}
	}
	return p
}

// planLockdown finds whether the lockdown is in place: the managed policy
// attached, or (only when it is not) the inline fallback with the same
// document. An inline policy that merely carries the name, with another
// document, is no lockdown: it is replaced. force treats the lockdown as
// missing whatever the list says.
func (r *run) planLockdown(st *roleState, force bool) lockdownPlan {
	cfg := r.e.cfg
	switch {
	case cfg.LockdownMode == config.Skip:
		return lockdownPlan{skip: true}
	case force:
		return lockdownPlan{}
	case slices.Contains(st.attached, cfg.LockdownPolicyARN):
		return lockdownPlan{present: decision.LockdownPresent}
	case st.lockdownErr != nil:
		return lockdownPlan{err: st.lockdownErr}
	case st.inlineLockdown != nil && policy.Equivalent(st.inlineLockdown, r.e.lockdown.doc):
		return lockdownPlan{present: decision.LockdownInline}
	}
	return lockdownPlan{}
}

// planRevocation plans the restore of RevokePolicyName after an event that
// deleted or rewrote it: without it, the sessions that the stripped
// principals started before the guardrail removed them work again until
// they expire (DESIGN.md §5).
//
// The cut-off is the event's time (the second after it). The original
// cut-off is not known to the guardrail at that moment in any place it can
// trust: a deleted policy is gone, a rewritten one holds the tamperer's
// text, a role tag could be rewritten by the same tamperer, and the decision
// record that holds it (revoked_sessions_before) is in CloudWatch Logs. The
// event time is safe: the original was written before it could be deleted,
// so the restored cut-off is never earlier than it. The cost is that
// legitimate sessions issued between the original revocation and the
// tampering are revoked too; their users assume the role again.
//
// The policy is restored while a session it revoked could still be valid:
// sessions last at most MaxSessionDuration, and every session the original
// revoked was issued before the event.
func (r *run) planRevocation() *revocationPlan {
	cfg := r.e.cfg
	if cfg.TrustMode == config.Skip || !cfg.RevokeSessions {
		return nil
	}
	at := r.t.EventTime
	if at.IsZero() {
		at = r.start // unknown event time: now is later still, so as safe
	}
	// CloudTrail records eventTime to the second, so the call was made
	// before eventTime + 1 s, and the original cut-off (rounded up to the
	// second when written) is no later than that.
	cutoff := at.UTC().Truncate(time.Second).Add(time.Second)
	if r.e.now().Sub(cutoff) > MaxSessionDuration {
		return nil // every session the policy revoked has expired
	}
	return &revocationPlan{cutoff: cutoff}
}
