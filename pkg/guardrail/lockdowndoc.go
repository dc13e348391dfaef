package guardrail

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

// maxPolicyVersions is IAM's limit of versions per managed policy (IAM
// quotas page, "Versions of a managed policy": 5; CreatePolicyVersion
// answers LimitExceeded beyond it, IAM API reference, CreatePolicyVersion).
const maxPolicyVersions = 5

// LockdownConfig returns the pkg/lockdown configuration the deployment's
// lockdown policy was built from, as the functions know it: partition,
// account and name from the policy's ARN (the stack creates it at path "/"),
// the stack's name prefix, the exemptions and the operator-added actions
// from the environment. The engine builds the expected lockdown document
// from it, so this is the one place to extend when pkg/lockdown gains an
// input; the stack must pass every input to the functions, or the restore
// would write a document that differs from the deployed one.
func LockdownConfig(cfg config.Config) (lockdown.Config, error) {
	a, err := arn.Parse(cfg.LockdownPolicyARN)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "policy/") {
		return lockdown.Config{}, fmt.Errorf("lockdown policy ARN %q is not a managed policy ARN", cfg.LockdownPolicyARN)
	}
	name := strings.TrimPrefix(a.Resource, "policy/")
	if strings.Contains(name, "/") {
		return lockdown.Config{}, fmt.Errorf("lockdown policy %s is not at path \"/\", where the stack creates it", cfg.LockdownPolicyARN)
	}
	return lockdown.Config{
		Partition: a.Partition, Account: a.AccountID, NamePrefix: lockdown.DefaultNamePrefix, PolicyName: name,
		ExtraDeniedActions: cfg.LockdownExtraActions, ExemptRoles: cfg.ExemptRoles,
		AlarmKeyARN: cfg.LockdownAlarmKeyARN, ProtectedBuckets: cfg.LockdownProtectedBuckets,
		AllowedTokenAudiences: cfg.AllowedTokenAudiences,
	}, nil
}

// lockdownDocument is the document the lockdown policy must hold: built
// once, by New, with pkg/lockdown from LockdownConfig.
type lockdownDocument struct {
	raw []byte
	doc *policy.Document
}

func buildLockdown(cfg config.Config) (lockdownDocument, error) {
	lc, err := LockdownConfig(cfg)
	if err != nil {
		return lockdownDocument{}, err
	}
	raw, err := lockdown.Document(lc)
	if err != nil {
		return lockdownDocument{}, fmt.Errorf("build the lockdown document: %w", err)
	}
	doc, err := policy.Parse(raw)
	if err != nil {
		return lockdownDocument{}, fmt.Errorf("parse the lockdown document: %w", err)
	}
	return lockdownDocument{raw: raw, doc: doc}, nil
}

// EvaluateLockdownPolicy compares the lockdown policy's default version with
// the document pkg/lockdown builds for the configuration (semantically, as
// IAM may normalise what it stores) and, in enforce mode, restores it: a new
// version set as default, after deleting the oldest non-default version when
// the policy already has the five IAM allows. The enforcer calls it for
// CreatePolicyVersion, SetDefaultPolicyVersion and DeletePolicyVersion on the
// lockdown policy; the sweeper on every run. claimedDefault is the version
// the event says it made the default ("" for none): a read that shows an
// older default is IAM's eventual consistency, re-read with backoff, and
// ErrStaleRead when it persists (the stale copy would look compliant).
//
// Calls: ListPolicyVersions and GetPolicyVersion when compliant; then
// DeletePolicyVersion (only at five versions) and CreatePolicyVersion.
func (e *Engine) EvaluateLockdownPolicy(ctx context.Context, t Trigger, claimedDefault string) (decision.Record, error) {
	r := e.newRun("", t)
	if e.cfg.LockdownMode == config.Skip {
		return r.recordLockdownPolicy(nil, nil)
	}
	versions, def, err := r.readLockdownDefault(ctx, claimedDefault)
	if err != nil {
		r.fail(err)
		return r.recordLockdownPolicy(nil, nil)
	}
	if policy.Equivalent(def.doc, e.lockdown.doc) {
		return r.recordLockdownPolicy(&def, &applied{})
	}
	return r.recordLockdownPolicy(&def, r.restoreLockdownPolicy(ctx, versions, def.id))
}

// recordLockdownPolicy is the record stage of EvaluateLockdownPolicy: def is
// the default version read (nil when skipped or the read failed), a what the
// restore did (nil when skipped or not reached).
func (r *run) recordLockdownPolicy(def *defaultVersion, a *applied) (decision.Record, error) {
	rec := r.base()
	rec.PolicyARN = r.e.cfg.LockdownPolicyARN
	if pa, err := arn.Parse(rec.PolicyARN); err == nil {
		rec.Account = pa.AccountID
	}
	switch {
	case r.e.cfg.LockdownMode == config.Skip:
		rec.Outcome, rec.Lockdown = decision.OutcomeSkipped, decision.LockdownSkipped
		return r.finish(rec)
	case def == nil:
		rec.Lockdown = decision.LockdownFailed
		return r.finish(rec)
	}
	rec.PolicyBefore = mustJSON(def.doc)
	rec.Lockdown = decision.LockdownPresent
	if len(a.actions) > 0 {
		rec.Findings = []decision.Finding{{Control: decision.ControlLockdown, Policy: rec.PolicyARN,
			Reason: fmt.Sprintf("default version %s is not the configured lockdown document", def.id)}}
		rec.Lockdown = decision.LockdownRestored
	}
	for _, act := range a.actions {
		switch act.Result {
		case decision.ResultWould:
			rec.Lockdown = decision.LockdownWouldRestore
		case decision.ResultFailed:
			rec.Lockdown = decision.LockdownFailed
		}
	}
	rec.Actions, rec.Undo, rec.PolicyVersionAfter = a.actions, a.undo, a.versionAfter
	return r.finish(rec)
}

type defaultVersion struct {
	id  string
	doc *policy.Document
}

// readLockdownDefault lists the lockdown policy's versions and reads the
// default one, re-reading while the default is older than the version the
// event claims it set.
func (r *run) readLockdownDefault(ctx context.Context, claimed string) ([]types.PolicyVersion, defaultVersion, error) {
	arnL := r.e.cfg.LockdownPolicyARN
	for i := 0; ; i++ {
		versions, err := r.listPolicyVersions(ctx)
		if err != nil {
			return nil, defaultVersion{}, err
		}
		i0 := slices.IndexFunc(versions, func(v types.PolicyVersion) bool { return v.IsDefaultVersion })
		if i0 < 0 {
			return nil, defaultVersion{}, fmt.Errorf("lockdown policy %s: no default version listed", arnL)
		}
		cur := versions[i0]
		if claimed == "" || aws.ToString(cur.VersionId) == claimed || supersedes(cur, r.t.EventTime) {
			doc, err := r.policyVersion(ctx, aws.ToString(cur.VersionId))
			return versions, defaultVersion{id: aws.ToString(cur.VersionId), doc: doc}, err
		}
		r.staleReads++
		if i == len(r.e.backoff) {
			r.consistent = false
			return nil, defaultVersion{}, fmt.Errorf("lockdown policy %s: the event set version %s as default, the reads show %s: %w",
				arnL, claimed, aws.ToString(cur.VersionId), ErrStaleRead)
		}
		if err := r.e.sleep(ctx, r.e.backoff[i]); err != nil {
			return nil, defaultVersion{}, fmt.Errorf("lockdown policy %s: wait for consistent read: %w", arnL, err)
		}
	}
}

// supersedes reports whether version v was created after the event: the
// event's claimed default was replaced since (by the guardrail's own
// restore, or by a later change with its own event), so the read is not
// stale. CreateDate has second precision, hence the strict comparison with
// the event time truncated to the second.
func supersedes(v types.PolicyVersion, eventTime time.Time) bool {
	return !eventTime.IsZero() && v.CreateDate != nil && v.CreateDate.After(eventTime.Truncate(time.Second))
}

// listPolicyVersions lists the lockdown policy's versions with the SDK's
// paginator.
func (r *run) listPolicyVersions(ctx context.Context) ([]types.PolicyVersion, error) {
	arnL := r.e.cfg.LockdownPolicyARN
	var out []types.PolicyVersion
	p := iam.NewListPolicyVersionsPaginator(r.e.client, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arnL)})
	err := eachPage(ctx, p, r.count, func(page *iam.ListPolicyVersionsOutput) { out = append(out, page.Versions...) })
	if isNoSuchEntity(err) {
		return nil, fmt.Errorf("list versions of lockdown policy %s: %w: %w", arnL, ErrLockdownPolicyMissing, err)
	}
	if err != nil {
		return nil, fmt.Errorf("list versions of lockdown policy %s: %w", arnL, err)
	}
	return out, nil
}

func (r *run) policyVersion(ctx context.Context, id string) (*policy.Document, error) {
	arnL := r.e.cfg.LockdownPolicyARN
	v, err := r.e.client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arnL), VersionId: aws.String(id)}, r.count)
	if err != nil {
		return nil, fmt.Errorf("get lockdown policy %s version %s: %w", arnL, id, err)
	}
	if v.PolicyVersion == nil || v.PolicyVersion.Document == nil {
		return nil, fmt.Errorf("get lockdown policy %s version %s: no document in the response", arnL, id)
	}
	// The document arrives URL-encoded (RFC 3986); Parse decodes it.
	doc, err := r.parse(aws.ToString(v.PolicyVersion.Document))
	if err != nil {
		return nil, fmt.Errorf("parse lockdown policy %s version %s: %w", arnL, id, err)
	}
	return doc, nil
}

// restoreLockdownPolicy is the apply stage of EvaluateLockdownPolicy: it
// makes the configured document the default version again, deleting the
// oldest non-default version first when the policy has IAM's maximum of
// five.
func (r *run) restoreLockdownPolicy(ctx context.Context, versions []types.PolicyVersion, tampered string) *applied {
	a := &applied{}
	arnL := r.e.cfg.LockdownPolicyARN
	var drop string
	if len(versions) >= maxPolicyVersions {
		drop = oldestNonDefault(versions)
	}
	if r.e.cfg.LockdownMode != config.Enforce {
		if drop != "" {
			a.act(decision.ControlLockdown, "DeletePolicyVersion", drop, decision.ResultWould, "")
		}
		a.act(decision.ControlLockdown, "CreatePolicyVersion", arnL, decision.ResultWould, "")
		return a
	}
	fail := func(api, target string, err error) *applied {
		a.act(decision.ControlLockdown, api, target, decision.ResultFailed, err.Error())
		r.fail(err)
		return a
	}
	if drop != "" {
		_, err := r.e.client.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arnL), VersionId: aws.String(drop)}, r.count)
		if err != nil && !isNoSuchEntity(err) { // already gone: the slot is free
			return fail("DeletePolicyVersion", drop, fmt.Errorf("delete version %s of lockdown policy %s: %w", drop, arnL, err))
		}
		a.act(decision.ControlLockdown, "DeletePolicyVersion", drop, decision.ResultDone, "")
	}
	out, err := r.e.client.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
		PolicyArn: aws.String(arnL), PolicyDocument: aws.String(string(r.e.lockdown.raw)), SetAsDefault: true,
	}, r.count)
	if err != nil {
		return fail("CreatePolicyVersion", arnL, fmt.Errorf("restore lockdown policy %s: %w", arnL, err))
	}
	a.act(decision.ControlLockdown, "CreatePolicyVersion", arnL, decision.ResultDone, "")
	if out.PolicyVersion != nil {
		a.versionAfter = aws.ToString(out.PolicyVersion.VersionId)
	}
	if tampered != drop {
		a.undo = append(a.undo, fmt.Sprintf("aws iam set-default-policy-version --policy-arn %s --version-id %s", arnL, tampered))
	}
	return a
}

// oldestNonDefault returns the non-default version created first (by
// CreateDate, then by version number, which IAM never reuses).
func oldestNonDefault(versions []types.PolicyVersion) string {
	var best *types.PolicyVersion
	for i := range versions {
		v := &versions[i]
		if v.IsDefaultVersion {
			continue
		}
		if best == nil || olderVersion(v, best) {
			best = v
		}
	}
	if best == nil {
		return ""
	}
	return aws.ToString(best.VersionId)
}

func olderVersion(a, b *types.PolicyVersion) bool {
	ta, tb := aws.ToTime(a.CreateDate), aws.ToTime(b.CreateDate)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return versionNumber(aws.ToString(a.VersionId)) < versionNumber(aws.ToString(b.VersionId))
}

// versionNumber is N of a version ID "vN" (or "vN.suffix"), -1 if none.
func versionNumber(id string) int {
	s, _, _ := strings.Cut(strings.TrimPrefix(id, "v"), ".")
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
