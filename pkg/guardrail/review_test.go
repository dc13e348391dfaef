package guardrail_test

import (
	"context"
	"errors"
	"testing"

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
// enforce: it writes nothing and says why.
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
			e := v.engine(func(c *config.Config) { c.TrustMode, c.LockdownMode = tc.trust, tc.lockdown })
			rec, err := e.Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
			if err == nil || guardrail.IsRetryable(err) {
				t.Errorf("Evaluate err = %v, want a permanent error", err)
			}
			if rec.Outcome != decision.OutcomeError {
				t.Errorf("Evaluate outcome %s", rec.Outcome)
			}
			rec, err = e.EvaluateRole(context.Background(), guardrail.Role{Name: "app", Path: "/", ARN: "arn:aws:iam::" + account + ":role/app", TrustPolicy: foreignTrust}, guardrail.Trigger{})
			if err == nil || rec.Outcome != decision.OutcomeError {
				t.Errorf("EvaluateRole err = %v outcome %s, want an error", err, rec.Outcome)
			}
			if w := v.srv.WriteCalls(); w != 0 {
				t.Errorf("%d writes with an invalid mode: %v", w, v.srv.CallLog())
			}
		})
	}
}
