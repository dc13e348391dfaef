package guardrail

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/classify"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// Stage 1: read. A role's state is read once into one roleState: live
// (GetRole, ListAttachedRolePolicies and, only when the lockdown is not
// attached, the inline policies) or from a GetAccountAuthorizationDetails
// snapshot. Its ARN is split, its class and trust zone are worked out and
// its trust document is parsed once per read; the plan (plan.go) is made
// from this value alone.

// roleState is what the engine knows about one role.
type roleState struct {
	name, path, arn    string
	account, partition string // from the ARN
	class              classify.Result
	zone               trust.Zone

	trustRaw string           // as IAM returned it (URL-encoded) or plain
	trustDoc *policy.Document // trustRaw parsed; nil when trustErr is set
	trustErr error
	// marker is the MarkerTagKey tag GetRole returned with the trust
	// document ("" when none or not read); see marker.go.
	marker string
	// readAt is when the GetRole that returned trustDoc was sent: the
	// document reflects every write made more than IAM's consistency window
	// before it (intentFloor), and a write derived from it must be made
	// within writeBudget of it (applyTrust).
	readAt time.Time
	// source is when the intent that trustDoc expresses was written (the
	// marker span of a write derived from it); zero when only the read
	// vouches for it (readSpan of readAt). sourceHash is the docHash of
	// the document the write derives from when that is not trustDoc itself
	// (an event's claim that the read showed; two same-second claims).
	source     span
	sourceHash string
	// restore, when set, says why trustDoc is not the document read
	// (kept as current) but the one to write in its place: the event's
	// claim over the guardrail's own write derived from an older event
	// (issue 19 defect 3), or what two claims have in common (converge).
	restore string
	current *policy.Document
	// remark is set when the trust document read stays, but now stands
	// for a newer intent than its marker says (source; converge, relSame):
	// the marker is written again for it (applyTrust).
	remark bool
	// restricted memoises trust.Restrict of trustDoc (restriction).
	restricted    *trust.Result
	restrictedErr error

	attached      []string
	attachedKnown bool
	inline        map[string]string // name -> document ("" until read)
	inlineKnown   bool              // inline holds every inline policy
	// inlineLockdown is the inline lockdown.PolicyName document, parsed,
	// when the managed lockdown is not attached and the role has one;
	// lockdownErr is the failure to read it (the lockdown plan fails).
	inlineLockdown *policy.Document
	lockdownErr    error
}

// newRoleState splits the role's ARN and works out its class and zone.
func (r *run) newRoleState(name, path, roleARN, trustRaw string) (*roleState, error) {
	a, err := arn.Parse(roleARN)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		return nil, fmt.Errorf("role %s: %q is not a role ARN", name, roleARN)
	}
	cfg := r.e.cfg
	st := &roleState{name: name, path: path, arn: roleARN, account: a.AccountID, partition: a.Partition,
		zone: trust.Zone{Account: a.AccountID, Partition: a.Partition,
			TrustedAccounts: cfg.TrustedAccounts, TrustedOrgIDs: cfg.TrustedOrgIDs, TrustedAudiences: cfg.TrustedAudiences, TrustedOIDCTenants: cfg.TrustedOIDCTenants},
		class: classify.Classify(classify.Role{Name: name, Path: path, ARN: roleARN},
			classify.Rules{ProtectedRoleARNs: cfg.ProtectedRoleARNs, ExemptRoles: cfg.ExemptRoles}),
	}
	r.setTrust(st, trustRaw)
	return st, nil
}

// setTrust records a trust document read, parsed once.
func (r *run) setTrust(st *roleState, raw string) {
	st.trustRaw = raw
	st.trustDoc, st.trustErr = r.parse(raw)
	st.restricted, st.restrictedErr = nil, nil
}

// restriction is trust.Restrict of the role's trust document, computed once
// per read.
func (st *roleState) restriction() (trust.Result, error) {
	if st.trustErr != nil {
		return trust.Result{}, fmt.Errorf("parse trust policy of role %s: %w", st.name, st.trustErr)
	}
	if st.restricted == nil && st.restrictedErr == nil {
		res, err := trust.Restrict(st.trustDoc, st.zone)
		if err != nil {
			st.restrictedErr = fmt.Errorf("restrict trust policy of role %s: %w", st.name, err)
		} else {
			st.restricted = &res
		}
	}
	if st.restrictedErr != nil {
		return trust.Result{}, st.restrictedErr
	}
	return *st.restricted, nil
}

// applies reports whether the controls apply to the role: a service role,
// with at least one control not skipped.
func (r *run) applies(st *roleState) bool {
	cfg := r.e.cfg
	return st.class.Class == classify.Service && (cfg.TrustMode != config.Skip || cfg.LockdownMode != config.Skip)
}

// fromSnapshot is the state of a role the caller read (the sweeper's
// snapshot); it costs no IAM call unless an inline document is missing.
func (r *run) fromSnapshot(ctx context.Context, role Role) (*roleState, error) {
	st, err := r.newRoleState(role.Name, role.Path, role.ARN, role.TrustPolicy)
	if err != nil {
		return nil, err
	}
	st.attached, st.attachedKnown = role.AttachedPolicyARNs, true
	st.inline, st.inlineKnown = role.InlinePolicies, true
	if r.applies(st) {
		r.readLockdownEvidence(ctx, st, false)
	}
	return st, nil
}

// readLive reads the named role: GetRole (waiting out IAM's consistency
// window for a role not visible yet), then, for a role the controls apply
// to, the attached policies, the claim check (converge) and the lockdown
// evidence. On error the state read so far is returned with it.
func (r *run) readLive(ctx context.Context, c Claim) (*roleState, error) {
	st, err := r.readRole(ctx, r.name)
	if isNoSuchEntity(err) {
		st, err = r.awaitRole(ctx, err)
	}
	if err != nil || !r.applies(st) {
		return st, err
	}
	cfg := r.e.cfg
	if cfg.LockdownMode != config.Skip || c.AttachedPolicyARN != "" || c.DetachedPolicyARN != "" {
		if err := r.readAttached(ctx, st); err != nil {
			return st, err
		}
	}
	if err := r.converge(ctx, st, c); err != nil {
		return st, err
	}
	r.readLockdownEvidence(ctx, st, r.lockdownDetached(c))
	return st, nil
}

// lockdownDetached says the event detached the lockdown policy: then the
// lockdown is re-attached whatever the (possibly stale) list says, which is
// safe because AttachRolePolicy of an attached policy changes nothing.
func (r *run) lockdownDetached(c Claim) bool {
	return c.DetachedPolicyARN != "" && c.DetachedPolicyARN == r.e.cfg.LockdownPolicyARN
}

// readRole calls GetRole.
func (r *run) readRole(ctx context.Context, name string) (*roleState, error) {
	at := r.e.now()
	out, err := r.e.client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}, r.count)
	if err != nil {
		return nil, fmt.Errorf("get role %s: %w", name, err)
	}
	if out.Role == nil {
		return nil, fmt.Errorf("get role %s: response without a role", name)
	}
	st, err := r.newRoleState(aws.ToString(out.Role.RoleName), aws.ToString(out.Role.Path),
		aws.ToString(out.Role.Arn), aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		return nil, err
	}
	st.marker, st.readAt = markerOf(out.Role.Tags), at
	r.seen = true
	return st, nil
}

// readAttached lists the attached policies with the SDK's paginator.
func (r *run) readAttached(ctx context.Context, st *roleState) error {
	return r.retryStale(ctx, "list attached policies of role "+st.name, func() error {
		var arns []string
		p := iam.NewListAttachedRolePoliciesPaginator(r.e.client, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(st.name)})
		err := eachPage(ctx, p, r.count, func(out *iam.ListAttachedRolePoliciesOutput) {
			for _, ap := range out.AttachedPolicies {
				arns = append(arns, aws.ToString(ap.PolicyArn))
			}
		})
		st.attached, st.attachedKnown = arns, err == nil
		return err
	})
}

// retryStale makes a read of the role (call) and, while it answers
// NoSuchEntity after a read of this invocation saw the role, repeats it
// after each stale-read backoff: IAM's read APIs are not consistent with
// each other (IAM User Guide, troubleshooting, "Changes that I make are not
// always immediately visible"). If the answer is still NoSuchEntity, the
// error is the retryable run.missing, never a deletion (issue 19, defect 1).
func (r *run) retryStale(ctx context.Context, what string, call func() error) error {
	for retry := 0; ; retry++ {
		err := call()
		if err == nil {
			return nil
		}
		if !isNoSuchEntity(err) || !r.seen {
			return fmt.Errorf("%s: %w", what, err)
		}
		if retry == len(r.e.backoff) {
			return fmt.Errorf("%s: %w", what, r.missing(err))
		}
		if err := r.wait(ctx, r.e.backoff[retry], what); err != nil {
			return err
		}
	}
}

// readLockdownEvidence reads what the lockdown plan needs beyond the
// attached list: only when the managed policy is not attached, the inline
// policy names and the inline lockdown document, if any. A compliant role
// therefore needs no call beyond the attached list. force (the event
// detached the lockdown) skips the reads: the lockdown is re-attached.
func (r *run) readLockdownEvidence(ctx context.Context, st *roleState, force bool) {
	cfg := r.e.cfg
	if force || cfg.LockdownMode == config.Skip || slices.Contains(st.attached, cfg.LockdownPolicyARN) {
		return
	}
	if !st.inlineKnown {
		if st.lockdownErr = r.readInline(ctx, st); st.lockdownErr != nil {
			return
		}
	}
	if _, ok := st.inline[lockdown.PolicyName]; !ok {
		return
	}
	raw, err := r.inlineDocument(ctx, st, lockdown.PolicyName)
	if err != nil {
		st.lockdownErr = err
		return
	}
	if doc, err := r.parse(raw); err == nil {
		st.inlineLockdown = doc
	}
}

// readInline lists the role's inline policy names with the SDK's
// paginator; the documents are read on demand by inlineDocument.
func (r *run) readInline(ctx context.Context, st *roleState) error {
	return r.retryStale(ctx, "list inline policies of role "+st.name, func() error {
		names := map[string]string{}
		p := iam.NewListRolePoliciesPaginator(r.e.client, &iam.ListRolePoliciesInput{RoleName: aws.String(st.name)})
		err := eachPage(ctx, p, r.count, func(out *iam.ListRolePoliciesOutput) {
			for _, n := range out.PolicyNames {
				names[n] = ""
			}
		})
		st.inline, st.inlineKnown = names, err == nil
		return err
	})
}

func (r *run) inlineDocument(ctx context.Context, st *roleState, name string) (string, error) {
	if doc := st.inline[name]; doc != "" {
		return doc, nil
	}
	out, err := r.e.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(st.name), PolicyName: aws.String(name)}, r.count)
	if err != nil {
		// ListRolePolicies listed it: a NoSuchEntity is a stale read of
		// the role or of the policy (retryable), not a deletion.
		return "", fmt.Errorf("get inline policy %s of role %s: %w", name, st.name, r.staleIfMissing(err))
	}
	doc := aws.ToString(out.PolicyDocument)
	st.inline[name] = doc
	return doc, nil
}

// rolePollInterval is the wait between re-reads of a role that IAM does not
// show yet, after the stale-read backoff is used up.
const rolePollInterval = 5 * time.Second

// waitMargin is the time an invocation keeps, before its deadline, to
// evaluate a role that appeared at the last re-read and to log the record.
const waitMargin = 5 * time.Second

// awaitRole handles a role an IAM event names that GetRole does not show
// (NoSuchEntity), from reads that never saw it. Right after CreateRole (or
// any change) IAM's eventual consistency can hide a role that exists, and
// CloudFormation rollbacks create and delete roles within seconds. Whatever
// the event claimed, the role is taken as deleted (role-gone, returned as
// the gone error) once IAM's consistency window, measured from the event
// time, has passed: at once for an event delivered late, after re-reads
// with backoff for a fresh one. A fresh event waits at most until waitMargin
// before the invocation's deadline; if the window has not passed by then,
// ErrStaleRead is returned, Lambda retries the event later, and that retry
// decides. The sweeper remains the backstop for a role the window misjudged.
// Sweeps and scans have no event to wait for: role-gone at once.
func (r *run) awaitRole(ctx context.Context, gone error) (*roleState, error) {
	if !slices.Contains(cloudtrail.RoleEventNames, r.t.EventName) {
		return nil, gone
	}
	from, until, limit := r.awaitBounds(ctx)
	var waited time.Duration
	for i := 0; ; i++ {
		// The clock, or the time waited if that is later (a clock that
		// stands still must not make the wait endless).
		now := r.e.now()
		if w := r.start.Add(waited); w.After(now) {
			now = w
		}
		if !now.Before(until) {
			return nil, gone
		}
		if !now.Before(limit) {
			r.consistent = false
			return nil, fmt.Errorf("role %s: not found in %d reads, but its event of %s is inside IAM's consistency window of %s and the invocation has no time left to wait it out: %w",
				r.name, i+1, from.UTC().Format(time.RFC3339), r.e.window, ErrStaleRead)
		}
		d := rolePollInterval
		if i < len(r.e.backoff) {
			d = r.e.backoff[i]
		}
		d = min(d, limit.Sub(now))
		if err := r.wait(ctx, d, "role "+r.name); err != nil {
			return nil, err
		}
		waited += d
		st, err := r.readRole(ctx, r.name)
		if !isNoSuchEntity(err) {
			return st, err
		}
	}
}

// eventTime is when the event's change was made: its CloudTrail time, else
// its receipt, else the start of this evaluation: an event of unknown age
// is taken as fresh, so it waits out the whole consistency window.
func (r *run) eventTime() time.Time {
	switch {
	case !r.t.EventTime.IsZero():
		return r.t.EventTime
	case !r.t.ReceivedAt.IsZero():
		return r.t.ReceivedAt
	}
	return r.start
}

// awaitBounds returns when the event happened (from), when IAM's
// consistency window after it ends (until), and the last moment this
// invocation may wait (limit). Without an event time the event's age is
// unknown: it is taken as fresh (failing closed), from its receipt or this
// evaluation.
func (r *run) awaitBounds(ctx context.Context) (from, until, limit time.Time) {
	from = r.eventTime()
	until = from.Add(r.e.window)
	limit = until
	// The invocation's remaining time, on the engine's clock (the same
	// as the deadline in Lambda; tests give the engine a clock that only
	// its waits advance).
	if dl, ok := ctx.Deadline(); ok {
		if end := r.e.now().Add(time.Until(dl) - waitMargin); end.Before(limit) {
			limit = end
		}
	}
	return from, until, limit
}
