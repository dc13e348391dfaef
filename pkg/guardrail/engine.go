package guardrail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/classify"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// RevokePolicyName is the inline policy that revokes a role's older sessions
// after an external principal was removed from its trust policy (DESIGN.md §5).
const RevokePolicyName = "GuardrailRevokeOlderSessions"

// state is what the engine knows about one role: read live (GetRole,
// ListAttachedRolePolicies) or taken from a GetAccountAuthorizationDetails
// snapshot.
type state struct {
	name, path, arn string
	account         string
	partition       string
	trustRaw        string // as IAM returned it (URL-encoded) or plain
	attached        []string
	attachedKnown   bool
	inline          map[string]string // name -> document
	inlineKnown     bool              // inline holds every inline policy
}

// run is one evaluation: the record being filled and the calls made.
type run struct {
	e     *Engine
	rec   decision.Record
	calls int
	now   time.Time
	errs  []error
	// seen is set once a read of this invocation returned the role. From
	// then on a NoSuchEntity about the role is IAM's eventual consistency
	// (its read APIs are not consistent with each other), never proof that
	// it was deleted: the evaluation fails for a retry instead (issue 19).
	seen bool
}

func (e *Engine) newRun(t Trigger) *run {
	now := e.now()
	r := &run{e: e, now: now}
	r.rec = decision.Record{
		EventID:        t.EventID,
		EventName:      t.EventName,
		EventTime:      t.EventTime,
		Actor:          t.Actor,
		Mode:           decision.Modes{Trust: e.cfg.TrustMode, Lockdown: e.cfg.LockdownMode},
		ReadConsistent: true,
		Version:        e.version,
	}
	if !t.EventTime.IsZero() && !t.ReceivedAt.IsZero() {
		lag := t.ReceivedAt.Sub(t.EventTime).Milliseconds()
		r.rec.DeliveryLagMS = &lag
	}
	return r
}

// finish completes the record: outcome, duration, calls and error.
func (r *run) finish() (decision.Record, error) {
	r.rec.DurationMS = r.e.now().Sub(r.now).Milliseconds()
	r.rec.APICalls = r.calls
	err := errors.Join(r.errs...)
	if err != nil {
		r.rec.Outcome = decision.OutcomeError
		r.rec.Error = err.Error()
		return r.rec, err
	}
	if r.rec.Outcome == "" {
		r.rec.Outcome = outcomeOf(r.rec.Actions)
	}
	return r.rec, nil
}

func (r *run) fail(err error) { r.errs = append(r.errs, err) }

func outcomeOf(actions []decision.Action) string {
	out := decision.OutcomeCompliant
	for _, a := range actions {
		switch a.Result {
		case decision.ResultDone:
			return decision.OutcomeChanged
		case decision.ResultWould:
			out = decision.OutcomeWouldChange
		}
	}
	return out
}

// Evaluate reads the named role's current state, classifies it, restricts
// its trust policy and makes sure the lockdown policy is in place, writing
// only in enforce mode and only what really changes. c is what the
// triggering event claims it changed (the zero Claim for none): when the
// reads disagree with it the engine re-reads with backoff, and when they
// never agree and the claimed state would be non-compliant it writes nothing
// and returns an error wrapping ErrStaleRead (DESIGN.md §2).
//
// The record is always filled. A role that no read of this evaluation has
// seen is the outcome "role-gone" with a nil error once IAM's consistency
// window after the event has passed (awaitRole); a NoSuchEntity after a read
// saw the role is a stale read and a retryable error (run.missing). The
// error, if any, joins every failure; use IsRetryable to decide whether to
// retry the event.
func (e *Engine) Evaluate(ctx context.Context, roleName string, t Trigger, c Claim) (decision.Record, error) {
	r := e.newRun(t)
	r.rec.RoleName = roleName
	if e.cfgErr != nil {
		r.rec.Account = t.Account
		r.fail(e.cfgErr)
		return r.finish()
	}
	return r.evaluate(ctx, roleName, t, c)
}

// evaluate is Evaluate on a prepared run.
func (r *run) evaluate(ctx context.Context, roleName string, t Trigger, c Claim) (decision.Record, error) {
	e := r.e
	r.rec.Account = t.Account
	if roleName == "" {
		r.fail(errors.New("evaluate: empty role name"))
		return r.finish()
	}
	st, err := r.readRole(ctx, roleName)
	if isNoSuchEntity(err) {
		st, err = r.awaitRole(ctx, roleName, t, err)
	}
	if err != nil {
		return r.readFailed(err)
	}
	r.describe(st)
	if !r.classify(st) {
		return r.finish()
	}
	if r.needAttached(c) {
		if err := r.readAttached(ctx, st); err != nil {
			return r.readFailed(err)
		}
	}
	proceed, err := r.converge(ctx, st, c)
	if err != nil {
		if isNoSuchEntity(err) {
			return r.readFailed(err)
		}
		r.fail(err)
		return r.finish()
	}
	if !proceed {
		return r.finish()
	}
	r.enforce(ctx, st, c.DetachedPolicyARN != "" && c.DetachedPolicyARN == e.cfg.LockdownPolicyARN)
	if c.RevocationChanged {
		r.restoreRevocation(ctx, st, t)
	}
	return r.finish()
}

// EvaluateRole evaluates a role read by the caller (the sweeper's
// GetAccountAuthorizationDetails snapshot). A role the snapshot shows
// compliant, or whose changes are all in check mode, costs no IAM call. A
// role that needs a write is re-read and evaluated with Evaluate, because
// the snapshot may be minutes old and a write based on it could undo a
// change made since. The snapshot saw the role, so a NoSuchEntity on the
// re-read is taken for staleness (a retryable error), not a deletion.
func (e *Engine) EvaluateRole(ctx context.Context, role Role, t Trigger) (decision.Record, error) {
	r := e.newRun(t)
	r.rec.RoleName = role.Name
	if e.cfgErr != nil {
		r.fail(e.cfgErr)
		return r.finish()
	}
	st := &state{
		name: role.Name, path: role.Path, arn: role.ARN, trustRaw: role.TrustPolicy,
		attached: role.AttachedPolicyARNs, attachedKnown: true,
		inline: role.InlinePolicies, inlineKnown: true,
	}
	if err := st.parseARN(); err != nil {
		r.fail(err)
		return r.finish()
	}
	r.describe(st)
	if !r.classify(st) {
		return r.finish()
	}
	tp := r.planTrust(st)
	lp := r.planLockdown(ctx, st, false)
	if (tp.changed() && e.cfg.TrustMode == config.Enforce) || (lp.missing() && e.cfg.LockdownMode == config.Enforce) {
		// Fresh state before any write. The snapshot saw the role, so a
		// NoSuchEntity now is not taken for a deletion (run.seen).
		fresh := e.newRun(t)
		fresh.seen = true
		fresh.calls = r.calls
		fresh.rec.RoleName = role.Name
		return fresh.evaluate(ctx, role.Name, t, Claim{})
	}
	r.applyTrust(ctx, st, tp)
	r.applyLockdown(ctx, st, lp)
	return r.finish()
}

// readFailed records a failed read: NoSuchEntity from reads that never saw
// the role means it is gone (a normal outcome); after a read saw it, it is
// staleness (missing); anything else is an error.
func (r *run) readFailed(err error) (decision.Record, error) {
	if isNoSuchEntity(err) && !r.seen {
		r.rec.Outcome = decision.OutcomeRoleGone
		r.rec.Lockdown = ""
		r.rec.Principals, r.rec.Findings, r.rec.Actions = nil, nil, nil
		return r.finish()
	}
	if isNoSuchEntity(err) {
		err = r.missing(err)
	}
	r.fail(err)
	return r.finish()
}

func isNoSuchEntity(err error) bool { return errorCode(err) == "NoSuchEntity" }

// missing turns a NoSuchEntity about a role that this invocation has
// already read into a retryable staleness error: IAM's read APIs are not
// consistent with each other, so one of them may answer NoSuchEntity for a
// role another has just returned (IAM User Guide, troubleshooting, "Changes
// that I make are not always immediately visible"). Lambda retries the
// event; if the role really was deleted, the retry's first read does not
// see it and records role-gone (issue 19, defect 1).
func (r *run) missing(err error) error {
	r.rec.ReadConsistent = false
	return fmt.Errorf("role %s was read in this evaluation, so this NoSuchEntity is a stale read, not a deletion: %w: %w", r.rec.RoleName, ErrStaleRead, err)
}

// describe copies the role's identity into the record.
func (r *run) describe(st *state) {
	r.rec.RoleName = st.name
	r.rec.RolePath = st.path
	r.rec.RoleARN = st.arn
	r.rec.Account = st.account
	if doc, err := policy.Parse([]byte(st.trustRaw)); err == nil {
		r.rec.TrustPolicyBefore = mustJSON(doc)
	}
}

// classify sets the class and reports whether the controls apply. For the
// classes that are never touched, it still lists what the trust policy
// admits, so a reviewer sees an exempt role that trusts the world; a
// guardrail-class role that admits untrusted principals fails the evaluation
// (ErrProtectedRoleUntrusted), still without a write.
func (r *run) classify(st *state) bool {
	res := classify.Classify(classify.Role{Name: st.name, Path: st.path, ARN: st.arn},
		classify.Rules{ProtectedRoleARNs: r.e.cfg.ProtectedRoleARNs, ExemptRoles: r.e.cfg.ExemptRoles})
	r.rec.Class, r.rec.ClassReason = string(res.Class), res.Reason
	if res.Class == classify.Service && (r.e.cfg.TrustMode != config.Skip || r.e.cfg.LockdownMode != config.Skip) {
		return true
	}
	r.rec.Outcome = decision.OutcomeSkipped
	r.rec.Lockdown = decision.LockdownSkipped
	var untrusted []string
	if doc, err := policy.Parse([]byte(st.trustRaw)); err == nil {
		if res, err := trust.Analyze(doc, st.zone(r.e.cfg)); err == nil {
			r.rec.Principals = principals(res.Principals)
			for _, f := range findings(res.Findings) {
				if f.Removed {
					untrusted = append(untrusted, f.Principal)
				}
				f.Removed = false // nothing is removed from a role the guardrail never touches
				r.rec.Findings = append(r.rec.Findings, f)
			}
		}
	}
	if res.Class == classify.Guardrail && r.e.cfg.TrustMode != config.Skip && len(untrusted) > 0 {
		r.fail(fmt.Errorf("role %s (%s): %w: %s; not written, investigate who created or changed it",
			st.name, res.Reason, ErrProtectedRoleUntrusted, strings.Join(untrusted, ", ")))
	}
	return false
}

// needAttached reports whether the attached-policy list is needed: for the
// lockdown control, and to check an attach/detach claim.
func (r *run) needAttached(c Claim) bool {
	return r.e.cfg.LockdownMode != config.Skip || c.AttachedPolicyARN != "" || c.DetachedPolicyARN != ""
}

// enforce plans and applies both controls on a live-read role.
// lockdownDetached says the event detached the lockdown policy: then the
// lockdown is re-attached whatever the (possibly stale) list says, which is
// safe because AttachRolePolicy of an attached policy changes nothing.
func (r *run) enforce(ctx context.Context, st *state, lockdownDetached bool) {
	tp := r.planTrust(st)
	lp := r.planLockdown(ctx, st, lockdownDetached)
	r.applyTrust(ctx, st, tp)
	r.applyLockdown(ctx, st, lp)
}

// zone is the set of principals the role may trust: its own account (from
// its ARN, like its partition) and the configured trusted ones.
func (st *state) zone(cfg config.Config) trust.Zone {
	return trust.Zone{Account: st.account, Partition: st.partition,
		TrustedAccounts: cfg.TrustedAccounts, TrustedOrgIDs: cfg.TrustedOrgIDs, TrustedAudiences: cfg.TrustedAudiences, TrustedOIDCTenants: cfg.TrustedOIDCTenants}
}

func (st *state) parseARN() error {
	a, err := arn.Parse(st.arn)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		return fmt.Errorf("role %s: %q is not a role ARN", st.name, st.arn)
	}
	st.account, st.partition = a.AccountID, a.Partition
	return nil
}

// readRole calls GetRole.
func (r *run) readRole(ctx context.Context, name string) (*state, error) {
	r.calls++
	out, err := r.e.client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("get role %s: %w", name, err)
	}
	if out.Role == nil {
		return nil, fmt.Errorf("get role %s: response without a role", name)
	}
	st := &state{
		name:     aws.ToString(out.Role.RoleName),
		path:     aws.ToString(out.Role.Path),
		arn:      aws.ToString(out.Role.Arn),
		trustRaw: aws.ToString(out.Role.AssumeRolePolicyDocument),
	}
	if err := st.parseARN(); err != nil {
		return nil, err
	}
	r.seen = true
	return st, nil
}

// readAttached calls ListAttachedRolePolicies until the list is complete.
func (r *run) readAttached(ctx context.Context, st *state) error {
	var arns []string
	in := &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(st.name)}
	for retry := 0; ; {
		r.calls++
		out, err := r.e.client.ListAttachedRolePolicies(ctx, in)
		if isNoSuchEntity(err) && r.seen && retry < len(r.e.backoff) {
			// GetRole saw the role: this list is stale. Start over.
			r.rec.StaleReads++
			if err := r.e.sleep(ctx, r.e.backoff[retry]); err != nil {
				return fmt.Errorf("list attached policies of role %s: wait for consistent read: %w", st.name, err)
			}
			retry++
			arns, in.Marker = nil, nil
			continue
		}
		if err != nil {
			return fmt.Errorf("list attached policies of role %s: %w", st.name, err)
		}
		for _, p := range out.AttachedPolicies {
			arns = append(arns, aws.ToString(p.PolicyArn))
		}
		if !out.IsTruncated || out.Marker == nil {
			break
		}
		in.Marker = out.Marker
	}
	st.attached, st.attachedKnown = arns, true
	return nil
}

// readInline lists the role's inline policy names; the documents are read
// on demand by inlineDocument.
func (r *run) readInline(ctx context.Context, st *state) error {
	names := map[string]string{}
	in := &iam.ListRolePoliciesInput{RoleName: aws.String(st.name)}
	for {
		r.calls++
		out, err := r.e.client.ListRolePolicies(ctx, in)
		if err != nil {
			return fmt.Errorf("list inline policies of role %s: %w", st.name, err)
		}
		for _, n := range out.PolicyNames {
			names[n] = ""
		}
		if !out.IsTruncated || out.Marker == nil {
			break
		}
		in.Marker = out.Marker
	}
	st.inline = names
	return nil
}

func (r *run) inlineDocument(ctx context.Context, st *state, name string) (string, error) {
	if doc := st.inline[name]; doc != "" {
		return doc, nil
	}
	r.calls++
	out, err := r.e.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(st.name), PolicyName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("get inline policy %s of role %s: %w", name, st.name, err)
	}
	doc := aws.ToString(out.PolicyDocument)
	st.inline[name] = doc
	return doc, nil
}

// converge checks the reads against the event's claim (DESIGN.md §2) and
// reports whether the evaluation may proceed.
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
func (r *run) converge(ctx context.Context, st *state, c Claim) (bool, error) {
	if c.AttachedPolicyARN != "" && !slices.Contains(st.attached, c.AttachedPolicyARN) {
		r.rec.ReadConsistent = false
	}
	if c.DetachedPolicyARN != "" && slices.Contains(st.attached, c.DetachedPolicyARN) {
		r.rec.ReadConsistent = false
	}
	if c.TrustPolicy == "" || r.e.cfg.TrustMode == config.Skip {
		return true, nil
	}
	claimed, err := policy.Parse([]byte(c.TrustPolicy))
	if err != nil {
		// IAM accepted the claimed document, so this is a limit of our
		// parser; the read copy is all there is to go on.
		r.rec.ReadConsistent = false
		return true, nil
	}
	zone := st.zone(r.e.cfg)
	claimedRes, err := trust.Restrict(claimed, zone)
	if err != nil {
		return false, fmt.Errorf("restrict claimed trust policy of role %s: %w", st.name, err)
	}
	agrees := func() bool {
		read, err := policy.Parse([]byte(st.trustRaw))
		if err != nil {
			return false
		}
		return policy.Equivalent(claimed, read) || (claimedRes.Changed && policy.Equivalent(claimedRes.Policy, read))
	}
	reads := 1
	for i := 0; !agrees(); i++ {
		r.rec.StaleReads++
		if i == len(r.e.backoff) {
			r.rec.ReadConsistent = false
			if claimedRes.Changed {
				return false, fmt.Errorf("role %s: trust policy read %d times, never the one the event set: %w", st.name, reads, ErrStaleRead)
			}
			if r.e.cfg.TrustMode == config.Enforce && r.planTrust(st).res.Changed {
				return false, fmt.Errorf("role %s: trust policy read %d times, never the compliant one the event set, and the copy read needs restricting; not writing a possibly stale copy: %w", st.name, reads, ErrStaleRead)
			}
			return true, nil
		}
		if err := r.e.sleep(ctx, r.e.backoff[i]); err != nil {
			return false, fmt.Errorf("role %s: wait for consistent read: %w", st.name, err)
		}
		fresh, err := r.readRole(ctx, st.name)
		if err != nil {
			return false, err
		}
		reads++
		st.trustRaw = fresh.trustRaw
		r.describe(st)
	}
	return true, nil
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
func (r *run) awaitRole(ctx context.Context, name string, t Trigger, gone error) (*state, error) {
	if !slices.Contains(EventNames, t.EventName) {
		return nil, gone
	}
	// Without an event time the event's age is unknown: it is taken as
	// fresh (failing closed), from its receipt or this evaluation.
	from := t.EventTime
	if from.IsZero() {
		from = t.ReceivedAt
	}
	if from.IsZero() {
		from = r.now
	}
	until := from.Add(r.e.window)
	limit := until
	if dl, ok := ctx.Deadline(); ok && dl.Add(-waitMargin).Before(limit) {
		limit = dl.Add(-waitMargin)
	}
	var waited time.Duration
	for i := 0; ; i++ {
		// The clock, or the time waited if that is later (a clock that
		// stands still must not make the wait endless).
		now := r.e.now()
		if w := r.now.Add(waited); w.After(now) {
			now = w
		}
		if !now.Before(until) {
			return nil, gone
		}
		if !now.Before(limit) {
			r.rec.ReadConsistent = false
			return nil, fmt.Errorf("role %s: not found in %d reads, but its event of %s is inside IAM's consistency window of %s and the invocation has no time left to wait it out: %w",
				name, i+1, from.UTC().Format(time.RFC3339), r.e.window, ErrStaleRead)
		}
		d := rolePollInterval
		if i < len(r.e.backoff) {
			d = r.e.backoff[i]
		}
		d = min(d, limit.Sub(now))
		r.rec.StaleReads++
		if err := r.e.sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("role %s: wait for consistent read: %w", name, err)
		}
		waited += d
		st, err := r.readRole(ctx, name)
		if !isNoSuchEntity(err) {
			return st, err
		}
	}
}

// trustPlan is the trust control's verdict on a role.
type trustPlan struct {
	skip bool
	res  trust.Result
	err  error // the trust policy could not be evaluated
}

func (p trustPlan) changed() bool { return !p.skip && p.err == nil && p.res.Changed }

func (r *run) planTrust(st *state) trustPlan {
	if r.e.cfg.TrustMode == config.Skip {
		return trustPlan{skip: true}
	}
	doc, err := policy.Parse([]byte(st.trustRaw))
	if err != nil {
		return trustPlan{err: fmt.Errorf("parse trust policy of role %s: %w", st.name, err)}
	}
	res, err := trust.Restrict(doc, st.zone(r.e.cfg))
	if err != nil {
		return trustPlan{err: fmt.Errorf("restrict trust policy of role %s: %w", st.name, err)}
	}
	return trustPlan{res: res}
}

// applyTrust records the trust verdict and, in enforce mode, writes the
// restricted document and then revokes older sessions: the trust write
// first, so no new session can start, then the revocation, so none issued
// before lives on.
func (r *run) applyTrust(ctx context.Context, st *state, p trustPlan) {
	if p.skip {
		return
	}
	if p.err != nil {
		// Fail closed: a document we cannot read is never rewritten and
		// never declared compliant.
		r.fail(p.err)
		return
	}
	r.rec.Principals = principals(p.res.Principals)
	r.rec.Findings = append(r.rec.Findings, findings(p.res.Findings)...)
	if !p.res.Changed {
		return
	}
	after, err := p.res.Policy.MarshalJSON()
	if err != nil {
		r.fail(fmt.Errorf("marshal restricted trust policy of role %s: %w", st.name, err))
		return
	}
	r.rec.TrustPolicyAfter = after
	revoke := p.res.RemovedExternal && r.e.cfg.RevokeSessions
	if r.e.cfg.TrustMode != config.Enforce { // only enforce writes
		r.action(decision.ControlTrust, "UpdateAssumeRolePolicy", "", decision.ResultWould, "")
		if revoke {
			r.action(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultWould, "")
		}
		return
	}
	r.calls++
	_, err = r.e.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
		RoleName: aws.String(st.name), PolicyDocument: aws.String(string(after)),
	})
	if isNoSuchEntity(err) {
		err = r.missing(err)
	}
	if err != nil {
		err = fmt.Errorf("update trust policy of role %s: %w", st.name, err)
		r.action(decision.ControlTrust, "UpdateAssumeRolePolicy", "", decision.ResultFailed, err.Error())
		r.fail(err)
		if revoke {
			r.action(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultSkipped,
				"trust policy update failed: revoking sessions while the principal can still start new ones would only break the role's legitimate users")
		}
		return
	}
	r.action(decision.ControlTrust, "UpdateAssumeRolePolicy", "", decision.ResultDone, "")
	r.undo(fmt.Sprintf("aws iam update-assume-role-policy --role-name %s --policy-document file://before.json  # before.json = trust_policy_before of this record", st.name))
	if !revoke {
		return
	}
	// The same statement the IAM console's "Revoke active sessions" writes:
	// deny everything to sessions issued before now. Sessions are checked on
	// every request, so they stop working within IAM's propagation delay.
	// "Now" is after the trust write returned, rounded up to the second:
	// a session the removed principal started while the evaluation ran, up
	// to the moment the restricted policy was saved, is revoked too; the
	// role's legitimate users only need to assume it again.
	r.putRevocation(ctx, st, ceilSecond(r.e.now()))
}

// ceilSecond rounds t up to the second, in UTC: the revocation's
// aws:TokenIssueTime has second precision, and rounding down could spare a
// session issued in the same second.
func ceilSecond(t time.Time) time.Time {
	return t.UTC().Add(time.Second - 1).Truncate(time.Second)
}

// revocationDocument is the RevokePolicyName document for a cut-off.
func revocationDocument(before time.Time) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":%q,"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":%q}}}]}`,
		RevokePolicyName, before.UTC().Format(time.RFC3339))
}

// putRevocation writes RevokePolicyName with cut-off before and records it.
func (r *run) putRevocation(ctx context.Context, st *state, before time.Time) {
	r.calls++
	_, err := r.e.client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(st.name), PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(revocationDocument(before)),
	})
	if isNoSuchEntity(err) {
		err = r.missing(err)
	}
	if err != nil {
		err = fmt.Errorf("revoke older sessions of role %s: %w", st.name, err)
		r.action(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultFailed, err.Error())
		r.fail(err)
		return
	}
	r.action(decision.ControlTrust, "PutRolePolicy", RevokePolicyName, decision.ResultDone, "")
	r.rec.RevokedSessionsBefore = &before
	r.undo(fmt.Sprintf("aws iam delete-role-policy --role-name %s --policy-name %s", st.name, RevokePolicyName))
}

// lockdownPlan is the lockdown control's verdict on a role.
type lockdownPlan struct {
	skip    bool
	present string // LockdownPresent or LockdownInline when in place
	err     error
}

func (p lockdownPlan) missing() bool { return !p.skip && p.err == nil && p.present == "" }

// planLockdown finds whether the lockdown is in place: the managed policy
// attached, or (only when it is not) the inline fallback with the same
// document. A compliant role therefore needs no call beyond the attached
// list. force treats the lockdown as missing whatever the list says.
func (r *run) planLockdown(ctx context.Context, st *state, force bool) lockdownPlan {
	cfg := r.e.cfg
	if cfg.LockdownMode == config.Skip {
		return lockdownPlan{skip: true}
	}
	if force {
		return lockdownPlan{}
	}
	if slices.Contains(st.attached, cfg.LockdownPolicyARN) {
		return lockdownPlan{present: decision.LockdownPresent}
	}
	if !st.inlineKnown {
		if err := r.readInline(ctx, st); err != nil {
			return lockdownPlan{err: err}
		}
	}
	if _, ok := st.inline[lockdown.PolicyName]; !ok {
		return lockdownPlan{}
	}
	raw, err := r.inlineDocument(ctx, st, lockdown.PolicyName)
	if err != nil {
		return lockdownPlan{err: err}
	}
	// An inline policy that merely carries the name, with another document,
	// is no lockdown: it is replaced.
	if got, err := policy.Parse([]byte(raw)); err == nil && policy.Equivalent(got, r.e.lockdown.doc) {
		return lockdownPlan{present: decision.LockdownInline}
	}
	return lockdownPlan{}
}

// applyLockdown records the lockdown verdict and, in enforce mode, attaches
// the managed policy, falling back to the same document inline when the role
// already has the maximum number of managed policies.
func (r *run) applyLockdown(ctx context.Context, st *state, p lockdownPlan) {
	arnLockdown := r.e.cfg.LockdownPolicyARN
	switch {
	case p.skip:
		r.rec.Lockdown = decision.LockdownSkipped
		return
	case p.err != nil:
		r.rec.Lockdown = decision.LockdownFailed
		r.fail(p.err)
		return
	case p.present != "":
		r.rec.Lockdown = p.present
		return
	}
	r.rec.Findings = append(r.rec.Findings, decision.Finding{
		Control: decision.ControlLockdown, Policy: arnLockdown,
		Reason: "lockdown policy is not attached", Removed: false,
	})
	if r.e.cfg.LockdownMode != config.Enforce { // only enforce writes
		r.rec.Lockdown = decision.LockdownWouldAttach
		r.action(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultWould, "")
		return
	}
	r.calls++
	_, err := r.e.client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{
		RoleName: aws.String(st.name), PolicyArn: aws.String(arnLockdown),
	})
	switch {
	case err == nil:
		r.rec.Lockdown = decision.LockdownAttached
		r.action(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultDone, "")
		r.undo(fmt.Sprintf("aws iam detach-role-policy --role-name %s --policy-arn %s", st.name, arnLockdown))
		return
	case errorCode(err) == "LimitExceeded":
		r.action(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultFailed,
			fmt.Sprintf("attach lockdown policy to role %s: %v (falling back to an inline policy)", st.name, err))
		r.putInlineLockdown(ctx, st)
		return
	case isNoSuchEntity(err):
		if gone := r.roleDeleted(ctx, st); gone != nil {
			err = r.missing(gone)
			break
		}
		err = fmt.Errorf("%w: %s: %w", ErrLockdownPolicyMissing, arnLockdown, err)
	}
	err = fmt.Errorf("attach lockdown policy to role %s: %w", st.name, err)
	r.rec.Lockdown = decision.LockdownFailed
	r.action(decision.ControlLockdown, "AttachRolePolicy", arnLockdown, decision.ResultFailed, err.Error())
	r.fail(err)
}

// roleDeleted tells apart the two NoSuchEntity causes of AttachRolePolicy:
// the role is not visible (returned: staleness, since this evaluation read
// the role, or a deletion that the retry will record) or the lockdown policy
// does not exist (nil: a deployment error).
func (r *run) roleDeleted(ctx context.Context, st *state) error {
	_, err := r.readRole(ctx, st.name)
	if isNoSuchEntity(err) {
		return err
	}
	return nil
}

func (r *run) putInlineLockdown(ctx context.Context, st *state) {
	fail := func(err error) {
		r.rec.Lockdown = decision.LockdownFailed
		r.action(decision.ControlLockdown, "PutRolePolicy", lockdown.PolicyName, decision.ResultFailed, err.Error())
		r.fail(err)
	}
	r.calls++
	_, err := r.e.client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(st.name), PolicyName: aws.String(lockdown.PolicyName), PolicyDocument: aws.String(string(r.e.lockdown.raw)),
	})
	if isNoSuchEntity(err) {
		err = r.missing(err)
	}
	if err != nil {
		fail(fmt.Errorf("put inline lockdown policy on role %s: %w", st.name, err))
		return
	}
	r.rec.Lockdown = decision.LockdownInline
	r.action(decision.ControlLockdown, "PutRolePolicy", lockdown.PolicyName, decision.ResultDone, "")
	r.undo(fmt.Sprintf("aws iam delete-role-policy --role-name %s --policy-name %s", st.name, lockdown.PolicyName))
}

func (r *run) action(control, api, target, result, errText string) {
	r.rec.Actions = append(r.rec.Actions, decision.Action{Control: control, API: api, Target: target, Result: result, Error: errText})
}

func (r *run) undo(cmd string) { r.rec.Undo = append(r.rec.Undo, cmd) }

func principals(ps []trust.Principal) []decision.Principal {
	out := make([]decision.Principal, 0, len(ps))
	for _, p := range ps {
		out = append(out, decision.Principal{
			Statement: p.Statement, Sid: p.Sid, Effect: p.Effect, Type: p.Type, Value: p.Value,
			Kind: string(p.Kind), Account: p.Account, Trusted: p.Trusted, Reason: p.Reason, Risk: p.Risk,
		})
	}
	return out
}

func findings(fs []trust.Finding) []decision.Finding {
	out := make([]decision.Finding, 0, len(fs))
	for _, f := range fs {
		stmt := f.Statement
		out = append(out, decision.Finding{
			Control: decision.ControlTrust, Principal: f.Principal, Kind: string(f.Kind),
			Statement: &stmt, Reason: f.Reason, Removed: f.Removed,
		})
	}
	return out
}

// mustJSON renders a parsed document as compact JSON for the record.
func mustJSON(d *policy.Document) []byte {
	b, err := d.MarshalJSON()
	if err != nil {
		return nil
	}
	return b
}
