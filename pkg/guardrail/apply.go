package guardrail

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// Stage 3: apply. The plan's writes are made in enforce mode (and listed
// as "would" in check mode), trust first, then lockdown, then a revocation
// restore; each write is one action, with the command that undoes it.

// applied is what the apply stage did.
type applied struct {
	actions []decision.Action
	undo    []string
	// revokedBefore is the cut-off of the revocation written, if any.
	revokedBefore *time.Time
	// findings are what the writes found on the way (a tampered revocation).
	findings []decision.Finding
	// versionAfter is the lockdown policy version a restore created.
	versionAfter string
}

func (a *applied) act(control, api, target string, result decision.Result, errText string) {
	a.actions = append(a.actions, decision.Action{Control: control, API: api, Target: target, Result: result, Error: errText})
}

// apply makes the plan's writes.
func (r *run) apply(ctx context.Context, st *roleState, p *plan) *applied {
	a := &applied{}
	if !p.applies {
		return a
	}
	r.applyTrust(ctx, st, p.trust, a)
	r.applyLockdown(ctx, st, p.lockdown, a)
	if p.revocation != nil {
		r.restoreRevocation(ctx, st, p.revocation.cutoff, a)
	}
	return a
}

// applyTrust writes the restricted document and then revokes older
// sessions: the trust write first, so no new session can start, then the
// revocation, so none issued before lives on.
func (r *run) applyTrust(ctx context.Context, st *roleState, p trustPlan, a *applied) {
	switch {
	case p.skip:
		return
	case p.err != nil:
		// Fail closed: a document we cannot read is never rewritten and
		// never declared compliant.
		r.fail(p.err)
		return
	case !p.writes():
		if st.remark && r.e.cfg.TrustMode == config.Enforce {
			r.remark(ctx, st, a)
		}
		return
	case p.afterErr != nil:
		r.fail(p.afterErr)
		return
	}
	if r.e.cfg.TrustMode != config.Enforce { // only enforce writes
		a.act(decision.ControlTrust, "UpdateAssumeRolePolicy", "", decision.ResultWould, "")
		if p.revoke {
			a.act(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultWould, "")
		}
		return
	}
	wctx, cancel, err := r.writeContext(ctx, st)
	if err == nil {
		r.putMarker(wctx, st, p.res.Policy, a)
		_, err = r.e.client.UpdateAssumeRolePolicy(wctx, &iam.UpdateAssumeRolePolicyInput{
			RoleName: aws.String(st.name), PolicyDocument: aws.String(string(p.after)),
		}, r.count)
		cancel()
	}
	if err != nil {
		err = fmt.Errorf("update trust policy of role %s: %w", st.name, r.staleIfMissing(err))
		a.act(decision.ControlTrust, "UpdateAssumeRolePolicy", "", decision.ResultFailed, err.Error())
		r.fail(err)
		if p.revoke {
			a.act(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultSkipped,
				"trust policy update failed: revoking sessions while the principal can still start new ones would only break the role's legitimate users")
		}
		return
	}
	a.act(decision.ControlTrust, "UpdateAssumeRolePolicy", "", decision.ResultDone, "")
	a.undo = append(a.undo, fmt.Sprintf("aws iam update-assume-role-policy --role-name %s --policy-document file://before.json  # before.json = trust_policy_before of this record", st.name))
	if !p.revoke {
		return
	}
	// The same statement the IAM console's "Revoke active sessions" writes:
	// deny everything to sessions issued before now. Sessions are checked on
	// every request, so they stop working within IAM's propagation delay.
	// "Now" is after the trust write returned, rounded up to the second:
	// a session the removed principal started while the evaluation ran, up
	// to the moment the restricted policy was saved, is revoked too; the
	// role's legitimate users only need to assume it again.
	r.putRevocation(ctx, st, ceilSecond(r.e.now()), a)
}

// staleIfMissing turns a NoSuchEntity on a write to a role this evaluation
// read into the retryable staleness error (run.missing).
func (r *run) staleIfMissing(err error) error {
	if isNoSuchEntity(err) {
		return r.missing(err)
	}
	return err
}

// putRevocation writes RevokePolicyName with cut-off before.
func (r *run) putRevocation(ctx context.Context, st *roleState, before time.Time, a *applied) {
	_, err := r.e.client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(st.name), PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(revocationDocument(before)),
	}, r.count)
	if err != nil {
		err = fmt.Errorf("revoke older sessions of role %s: %w", st.name, r.staleIfMissing(err))
		a.act(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultFailed, err.Error())
		r.fail(err)
		return
	}
	a.act(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultDone, "")
	a.revokedBefore = &before
	a.undo = append(a.undo, fmt.Sprintf("aws iam delete-role-policy --role-name %s --policy-name %s", st.name, RevokePolicyName))
}

// applyLockdown attaches the managed lockdown policy, falling back to the
// same document inline when the role already has the maximum number of
// managed policies (LimitExceeded).
func (r *run) applyLockdown(ctx context.Context, st *roleState, p lockdownPlan, a *applied) {
	arnLockdown := r.e.cfg.LockdownPolicyARN
	if p.err != nil {
		r.fail(p.err)
	}
	if !p.missing() {
		return
	}
	if r.e.cfg.LockdownMode != config.Enforce { // only enforce writes
		a.act(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultWould, "")
		return
	}
	_, err := r.e.client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{
		RoleName: aws.String(st.name), PolicyArn: aws.String(arnLockdown),
	}, r.count)
	switch {
	case err == nil:
		a.act(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultDone, "")
		a.undo = append(a.undo, fmt.Sprintf("aws iam detach-role-policy --role-name %s --policy-arn %s", st.name, arnLockdown))
		return
	case errorCode(err) == "LimitExceeded":
		a.act(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultFailed,
			fmt.Sprintf("attach lockdown policy to role %s: %v (falling back to an inline policy)", st.name, err))
		r.putInlineLockdown(ctx, st, a)
		return
	case isNoSuchEntity(err):
		if gone := r.roleDeleted(ctx, st); gone != nil {
			err = r.missing(gone)
			break
		}
		err = fmt.Errorf("%w: %s: %w", ErrLockdownPolicyMissing, arnLockdown, err)
	}
	err = fmt.Errorf("attach lockdown policy to role %s: %w", st.name, err)
	a.act(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultFailed, err.Error())
	r.fail(err)
}

// roleDeleted tells apart the two NoSuchEntity causes of AttachRolePolicy:
// the role is not visible (returned: staleness, since this evaluation read
// the role, or a deletion that the retry will record) or the lockdown policy
// does not exist (nil: a deployment error).
func (r *run) roleDeleted(ctx context.Context, st *roleState) error {
	_, err := r.readRole(ctx, st.name)
	if isNoSuchEntity(err) {
		return err
	}
	return nil
}

func (r *run) putInlineLockdown(ctx context.Context, st *roleState, a *applied) {
	_, err := r.e.client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(st.name), PolicyName: aws.String(lockdown.PolicyName), PolicyDocument: aws.String(string(r.e.lockdown.raw)),
	}, r.count)
	if err != nil {
		err = fmt.Errorf("put inline lockdown policy on role %s: %w", st.name, r.staleIfMissing(err))
		a.act(decision.ControlLockdown, "PutRolePolicy", lockdown.PolicyName, decision.ResultFailed, err.Error())
		r.fail(err)
		return
	}
	a.act(decision.ControlLockdown, "PutRolePolicy", lockdown.PolicyName, decision.ResultDone, "")
	a.undo = append(a.undo, fmt.Sprintf("aws iam delete-role-policy --role-name %s --policy-name %s", st.name, lockdown.PolicyName))
}

// restoreRevocation checks the role's RevokePolicyName with one
// GetRolePolicy and restores it with the planned cut-off unless it already
// has one no earlier (or this evaluation revoked with a later one), so a
// duplicate delivery writes nothing; a policy with another document, or an
// earlier cut-off, is rewritten.
func (r *run) restoreRevocation(ctx context.Context, st *roleState, cutoff time.Time, a *applied) {
	if a.revokedBefore != nil && !a.revokedBefore.Before(cutoff) {
		return // this evaluation already revoked with a later cut-off
	}
	out, err := r.e.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(st.name), PolicyName: aws.String(RevokePolicyName)}, r.count)
	switch {
	case isNoSuchEntity(err):
		// The role was read in this evaluation, so this is the policy
		// that is missing (or a stale read of it: writing it again is
		// harmless).
	case err != nil:
		r.fail(fmt.Errorf("read the session revocation of role %s: %w", st.name, err))
		return
	default:
		if got, ok := r.revocationCutoff(aws.ToString(out.PolicyDocument)); ok && !got.Before(cutoff) {
			return
		}
	}
	a.findings = append(a.findings, decision.Finding{Control: decision.ControlTrust, Policy: RevokePolicyName,
		Reason: fmt.Sprintf("%s removed or rewrote the session revocation; it is restored with cut-off %s, the event's time, no earlier than the original",
			r.t.EventName, cutoff.Format(time.RFC3339))})
	if r.e.cfg.TrustMode != config.Enforce {
		a.act(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultWould, "")
		return
	}
	r.putRevocation(ctx, st, cutoff, a)
}
