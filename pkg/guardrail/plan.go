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
	// restore, when set, is the finding that says why the document to
	// write replaces the one read even when it needs no restriction: the
	// event's claim over the guardrail's own older write, or what two
	// claims have in common (roleState.restore, converge.go).
	restore string
}

// writes reports whether the trust plan has a document to write.
func (p trustPlan) writes() bool {
	return !p.skip && p.err == nil && (p.res.Changed || p.restore != "")
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
		return r.planExempt(st, r.checkProtectedClaim(st, c))
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
	return (p.trust.writes() && cfg.TrustMode == config.Enforce) ||
		(p.lockdown.missing() && cfg.LockdownMode == config.Enforce)
}

// planExempt lists what a never-touched role's trust policy admits. A
// guardrail-class role that admits untrusted principals fails the
// evaluation (ErrProtectedRoleUntrusted), still without a write, unless
// failed says the event's claim already did.
func (r *run) planExempt(st *roleState, failed bool) *plan {
	p := &plan{}
	if st.trustDoc == nil {
		return p
	}
	res, err := trust.Analyze(st.trustDoc, st.zone)
	if err != nil {
		return p
	}
	p.exempt = &res
	untrusted := r.untrustedByGuardrailRole(res)
	if !failed && st.class.Class == classify.Guardrail && r.e.cfg.TrustMode != config.Skip && len(untrusted) > 0 {
		r.fail(fmt.Errorf("role %s (%s): %w: %s; not written, investigate who created or changed it",
			st.name, st.class.Reason, ErrProtectedRoleUntrusted, strings.Join(untrusted, ", ")))
	}
	return p
}

// checkProtectedClaim fails the evaluation (ErrProtectedRoleUntrusted)
// when the event set a trust policy on a guardrail-class role that admits
// untrusted principals, whatever a (possibly stale) read shows: the claim
// itself is the incident (issue 19, defect 4). A claimed document the
// engine cannot parse fails the same way: it cannot be shown harmless.
//
// It reports whether it failed the evaluation.
func (r *run) checkProtectedClaim(st *roleState, c Claim) bool {
	if st.class.Class != classify.Guardrail || c.TrustPolicy == "" || r.e.cfg.TrustMode == config.Skip {
		return false
	}
	var untrusted []string
	doc, err := r.parse(c.TrustPolicy)
	var res trust.Result
	if err == nil {
		res, err = trust.Analyze(doc, st.zone)
	}
	if err != nil {
		untrusted = []string{"(claimed trust policy not understood: " + err.Error() + ")"}
	}
	untrusted = append(untrusted, r.untrustedByGuardrailRole(res)...)
	if len(untrusted) > 0 {
		r.fail(fmt.Errorf("role %s (%s): %s set a trust policy that %w: %s; not written, investigate who changed it",
			st.name, st.class.Reason, r.t.EventName, ErrProtectedRoleUntrusted, strings.Join(untrusted, ", ")))
		return true
	}
	return false
}

// untrustedByGuardrailRole lists the principals of a guardrail-class
// role's trust that the trust control would remove, except the hub's own
// roles (config.Config.HubRoleARNs, set only for a hub's member accounts),
// which the member role trusts by design (DESIGN.md §11).
func (r *run) untrustedByGuardrailRole(res trust.Result) []string {
	var untrusted []string
	for _, f := range res.Findings {
		if !f.Removed {
			continue
		}
		if arn, ok := strings.CutPrefix(f.Principal, "AWS:"); ok && len(r.e.cfg.HubRoleARNs) > 0 && classify.Classify(classify.Role{ARN: arn},
			classify.Rules{ProtectedRoleARNs: r.e.cfg.HubRoleARNs}).Class == classify.Guardrail {
			continue
		}
		untrusted = append(untrusted, f.Principal)
	}
	return untrusted
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
	p := trustPlan{res: res, revoke: res.RemovedExternal && cfg.RevokeSessions, restore: st.restore}
	if p.writes() {
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
