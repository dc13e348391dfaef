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
	r.seen = true
	return st, nil
}

// readAttached lists the attached policies with the SDK's paginator. A
// NoSuchEntity after GetRole saw the role is a stale list: it starts over
// after a backoff.
func (r *run) readAttached(ctx context.Context, st *roleState) error {
	for retry := 0; ; retry++ {
		var arns []string
		p := iam.NewListAttachedRolePoliciesPaginator(r.e.client, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(st.name)})
		var err error
		for p.HasMorePages() && err == nil {
			var out *iam.ListAttachedRolePoliciesOutput
			if out, err = p.NextPage(ctx, r.count); err == nil {
				for _, ap := range out.AttachedPolicies {
					arns = append(arns, aws.ToString(ap.PolicyArn))
				}
			}
		}
		if isNoSuchEntity(err) && r.seen && retry < len(r.e.backoff) {
			// GetRole saw the role: this list is stale. Start over.
			if err := r.wait(ctx, r.e.backoff[retry], "list attached policies of role "+st.name); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("list attached policies of role %s: %w", st.name, err)
		}
		st.attached, st.attachedKnown = arns, true
		return nil
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
	names := map[string]string{}
	p := iam.NewListRolePoliciesPaginator(r.e.client, &iam.ListRolePoliciesInput{RoleName: aws.String(st.name)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx, r.count)
		if err != nil {
			return fmt.Errorf("list inline policies of role %s: %w", st.name, err)
		}
		for _, n := range out.PolicyNames {
			names[n] = ""
		}
	}
	st.inline, st.inlineKnown = names, true
	return nil
}

func (r *run) inlineDocument(ctx context.Context, st *roleState, name string) (string, error) {
	if doc := st.inline[name]; doc != "" {
		return doc, nil
	}
	out, err := r.e.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(st.name), PolicyName: aws.String(name)}, r.count)
	if err != nil {
		return "", fmt.Errorf("get inline policy %s of role %s: %w", name, st.name, err)
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

// awaitBounds returns when the event happened (from), when IAM's
// consistency window after it ends (until), and the last moment this
// invocation may wait (limit). Without an event time the event's age is
// unknown: it is taken as fresh (failing closed), from its receipt or this
// evaluation.
func (r *run) awaitBounds(ctx context.Context) (from, until, limit time.Time) {
	from = r.t.EventTime
	if from.IsZero() {
		from = r.t.ReceivedAt
	}
	if from.IsZero() {
		from = r.start
	}
	until = from.Add(r.e.window)
	limit = until
	if dl, ok := ctx.Deadline(); ok && dl.Add(-waitMargin).Before(limit) {
		limit = dl.Add(-waitMargin)
	}
	return from, until, limit
}
