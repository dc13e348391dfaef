package guardrail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// The owner narrows a trust policy (removes a same-account principal and a
// foreign one); IAM keeps serving the old, wider document. Restricting the
// stale copy and writing it would put the same-account principal back,
// undoing the owner's change: UpdateAssumeRolePolicy replaces the whole
// document. The engine must write nothing and ask for a retry instead.
func TestEvaluateStaleReadCompliantClaimNoStaleWrite(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	old := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::` + account + `:root","arn:aws:iam::` + foreignAccount + `:root"]},"Action":"sts:AssumeRole"}]}`
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: old, AttachedPolicyARNs: []string{v.lockdownARN}})
	v.srv.SetStaleReads("app", -1)
	if _, err := v.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(lambdaTrust)}); err != nil {
		t.Fatal(err)
	}
	v.srv.ResetCalls()
	rec, err := v.engine().Evaluate(ctx, "app", guardrail.Trigger{EventName: "UpdateAssumeRolePolicy"}, guardrail.Claim{TrustPolicy: lambdaTrust})
	if !errors.Is(err, guardrail.ErrStaleRead) || !guardrail.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable ErrStaleRead", err)
	}
	if w := v.srv.WriteCalls(); w != 0 {
		t.Errorf("%d writes based on a stale copy: %v", w, v.srv.CallLog())
	}
	v.srv.SetStaleReads("app", 0)
	if got := v.role(t, "app").TrustPolicy; admits(t, got, account+":root") {
		t.Errorf("owner's removal undone: %s", got)
	}
	if rec.Outcome != decision.OutcomeError || rec.ReadConsistent {
		t.Errorf("outcome %s read_consistent %v", rec.Outcome, rec.ReadConsistent)
	}
}

// An engine built from a configuration that did not come from
// config.FromEnv (an empty or misspelt mode) must not fall through to
// enforce: New refuses it with a permanent error that says why, so nothing
// is evaluated or written.
func TestEvaluateInvalidModeWritesNothing(t *testing.T) {
	tests := []struct {
		name            string
		trust, lockdown config.Mode
	}{
		{"zero config modes", "", ""},
		{"misspelt trust mode", "Check", config.Check},
		{"misspelt lockdown mode", config.Check, "chek"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			v.seed(t, iamtest.Role{Name: "app", TrustPolicy: foreignTrust})
			e, err := guardrail.New(v.client, v.config(func(c *config.Config) { c.TrustMode, c.LockdownMode = tc.trust, tc.lockdown }))
			if err == nil || e != nil || guardrail.IsRetryable(err) {
				t.Errorf("New = %v, %v; want no engine and a permanent error", e, err)
			}
			if err != nil && !strings.Contains(err.Error(), "nothing evaluated or written") {
				t.Errorf("error %q does not say nothing is written", err)
			}
			if w := v.srv.WriteCalls(); w != 0 {
				t.Errorf("%d writes with an invalid mode: %v", w, v.srv.CallLog())
			}
		})
	}
}

// The guardrail's roles are recognised by an ARN pattern on their name
// prefix, so anyone allowed to create roles can create one that classifies
// as "guardrail" and is never touched. Such a role (or the guardrail's real
// role with a widened trust policy) is still never written, but the record is
// an error naming the untrusted principals, so the Errors metric and the
// dead-letter alarm fire instead of a silent "skipped".
func TestEvaluateGuardrailClassTrustingOutsiders(t *testing.T) {
	tests := []struct {
		name, trust string
		wantErr     bool
	}{
		{"imposter trusting a foreign account", foreignTrust, true},
		{"imposter trusting everyone", wildcardTrust, true},
		{"guardrail role trusting Lambda", lambdaTrust, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			v.seed(t, iamtest.Role{Name: "IamRoleGuardrail-Backdoor", TrustPolicy: tc.trust})
			for _, mode := range []config.Mode{config.Enforce, config.Check} {
				e := v.engine(func(c *config.Config) { c.TrustMode, c.LockdownMode = mode, mode })
				recs := map[string]decision.Record{}
				errs := map[string]error{}
				recs["Evaluate"], errs["Evaluate"] = e.Evaluate(context.Background(), "IamRoleGuardrail-Backdoor", guardrail.Trigger{}, guardrail.Claim{})
				recs["EvaluateRole"], errs["EvaluateRole"] = e.EvaluateRole(context.Background(), guardrail.Role{
					Name: "IamRoleGuardrail-Backdoor", Path: "/", ARN: "arn:aws:iam::" + account + ":role/IamRoleGuardrail-Backdoor", TrustPolicy: tc.trust,
				}, guardrail.Trigger{})
				for via, rec := range recs {
					err := errs[via]
					if rec.Class != "guardrail" || len(rec.Actions) != 0 {
						t.Errorf("%s/%s: class %s actions %v", mode, via, rec.Class, rec.Actions)
					}
					if !tc.wantErr {
						if err != nil || rec.Outcome != decision.OutcomeSkipped {
							t.Errorf("%s/%s: err %v outcome %s, want nil and skipped", mode, via, err, rec.Outcome)
						}
						continue
					}
					if !errors.Is(err, guardrail.ErrProtectedRoleUntrusted) || guardrail.IsRetryable(err) {
						t.Errorf("%s/%s: err = %v, want a permanent ErrProtectedRoleUntrusted", mode, via, err)
					}
					if rec.Outcome != decision.OutcomeError || rec.Error == "" {
						t.Errorf("%s/%s: outcome %s error %q", mode, via, rec.Outcome, rec.Error)
					}
				}
			}
			if w := v.srv.WriteCalls(); w != 0 {
				t.Errorf("%d writes to a guardrail-class role", w)
			}
		})
	}
}

// Sessions issued after the evaluation started but before the trust policy
// update took effect were issued under the untrusted policy: the revocation
// time is taken after the update (rounded up to the second), not at the
// start of the evaluation.
func TestEvaluateRevocationTimeAfterTrustWrite(t *testing.T) {
	v := newEnv(t)
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: foreignTrust})
	clock := func() time.Time {
		// 10 s pass during the trust write; 0.5 s before it.
		return evalTime.Add(500*time.Millisecond + time.Duration(v.srv.Calls("UpdateAssumeRolePolicy"))*10*time.Second)
	}
	e := v.newEngine(v.client, v.config(), guardrail.WithClock(clock))
	rec, err := e.Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
	if err != nil {
		t.Fatal(err)
	}
	want := evalTime.Add(11 * time.Second)
	if rec.RevokedSessionsBefore == nil || !rec.RevokedSessionsBefore.Equal(want) {
		t.Errorf("revoked_sessions_before = %v, want %v", rec.RevokedSessionsBefore, want)
	}
	if doc := v.role(t, "app").InlinePolicies[guardrail.RevokePolicyName]; !strings.Contains(doc, want.Format(time.RFC3339)) {
		t.Errorf("revocation policy %s, want aws:TokenIssueTime %s", doc, want.Format(time.RFC3339))
	}
}
