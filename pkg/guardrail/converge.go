package guardrail

import (
	"context"
	"fmt"
	"slices"

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
// or when the read one equals the claimed one restricted: then the claim has
// already been remediated (a duplicate delivery, or a retry after our own
// fix) and waiting would only delay. If they never agree:
//   - the claimed document would be restricted: the read copy is probably
//     stale and may look compliant, so nothing is written and ErrStaleRead
//     is returned for a retry;
//   - the claimed document is compliant and so is the read one: nothing is
//     written to the trust policy either way, so the engine evaluates what
//     it read (read_consistent=false in the record);
//   - the claimed document is compliant but the read one is not, and the
//     trust control enforces: the read copy may be the older document the
//     event replaced. UpdateAssumeRolePolicy replaces the whole document, so
//     writing that copy restricted would put back principals the owner had
//     just removed, widening access relative to the role's real state.
//     Nothing is written and ErrStaleRead is returned; on the retry IAM has
//     converged, and if the read copy was instead a newer change, that
//     change's own event (and the sweeper) restricts it. In check mode
//     nothing is written anyway, so the read copy is evaluated.
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
	claimedRes, err := trust.Restrict(claimed, st.zone)
	if err != nil {
		return fmt.Errorf("restrict claimed trust policy of role %s: %w", st.name, err)
	}
	agrees := func() bool {
		read := st.trustDoc
		return read != nil && (policy.Equivalent(claimed, read) || (claimedRes.Changed && policy.Equivalent(claimedRes.Policy, read)))
	}
	for i := 0; !agrees(); i++ {
		r.staleReads++
		if i == len(r.e.backoff) {
			r.consistent = false
			return r.neverAgreed(st, claimedRes.Changed, i+1)
		}
		if err := r.e.sleep(ctx, r.e.backoff[i]); err != nil {
			return fmt.Errorf("role %s: wait for consistent read: %w", st.name, err)
		}
		fresh, err := r.readRole(ctx, st.name)
		if err != nil {
			return err
		}
		st.trustRaw, st.trustDoc, st.trustErr = fresh.trustRaw, fresh.trustDoc, fresh.trustErr
		st.restricted, st.restrictedErr = nil, nil
	}
	return nil
}

// neverAgreed decides, after reads reads that never showed the claimed
// trust document, whether the read copy may be evaluated (nil) or not
// (ErrStaleRead); see converge.
func (r *run) neverAgreed(st *roleState, claimedChanged bool, reads int) error {
	if claimedChanged {
		return fmt.Errorf("role %s: trust policy read %d times, never the one the event set: %w", st.name, reads, ErrStaleRead)
	}
	if res, err := st.restriction(); r.e.cfg.TrustMode == config.Enforce && err == nil && res.Changed {
		return fmt.Errorf("role %s: trust policy read %d times, never the compliant one the event set, and the copy read needs restricting; not writing a possibly stale copy: %w", st.name, reads, ErrStaleRead)
	}
	return nil
}
