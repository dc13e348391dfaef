package guardrail_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

const weakLockdown = `{"Version":"2012-10-17","Statement":[{"Sid":"Nothing","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::none/*"}]}`

// tamper adds n versions of a weak document to the lockdown policy, the
// last one set as default, and returns the ID of that one.
func (v *env) tamper(t *testing.T, n int) string {
	t.Helper()
	var id string
	for i := range n {
		out, err := v.client.CreatePolicyVersion(context.Background(), &iam.CreatePolicyVersionInput{
			PolicyArn: aws.String(v.lockdownARN), PolicyDocument: aws.String(weakLockdown), SetAsDefault: i == n-1})
		if err != nil {
			t.Fatal(err)
		}
		id = *out.PolicyVersion.VersionId
	}
	return id
}

// The lockdown policy's default version is compared with the document
// pkg/lockdown builds and restored when it differs (issue 10, item 6).
func TestEvaluateLockdownPolicy(t *testing.T) {
	tests := []struct {
		name        string
		versions    int // weak versions added, the last one default
		mode        config.Mode
		wantOutcome decision.Outcome
		wantLock    decision.Lockdown
		wantActions []string
		wantCalls   int
	}{
		{"untouched", 0, config.Enforce, decision.OutcomeCompliant, decision.LockdownPresent, nil, 2},
		{"weak default", 1, config.Enforce, decision.OutcomeChanged, decision.LockdownRestored, []string{"CreatePolicyVersion:done"}, 3},
		{"five versions: oldest non-default deleted first", 4, config.Enforce, decision.OutcomeChanged, decision.LockdownRestored,
			[]string{"DeletePolicyVersion:done", "CreatePolicyVersion:done"}, 4},
		{"check mode", 1, config.Check, decision.OutcomeWouldChange, decision.LockdownWouldRestore, []string{"CreatePolicyVersion:would"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			ctx := context.Background()
			claimed := ""
			if tc.versions > 0 {
				claimed = v.tamper(t, tc.versions)
			}
			v.srv.ResetCalls()
			e := v.engine(func(c *config.Config) { c.LockdownMode = tc.mode })
			trig := guardrail.Trigger{EventID: "ev", EventName: "CreatePolicyVersion", EventTime: time.Now().Add(-time.Minute)}
			rec, err := e.EvaluateLockdownPolicy(ctx, trig, claimed)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Outcome != tc.wantOutcome || rec.Lockdown != tc.wantLock || rec.PolicyARN != v.lockdownARN || rec.Account != account {
				t.Errorf("record: outcome %s lockdown %s policy %s account %s", rec.Outcome, rec.Lockdown, rec.PolicyARN, rec.Account)
			}
			if got := actionsOf(rec); !slices.Equal(got, tc.wantActions) {
				t.Errorf("actions %v, want %v", got, tc.wantActions)
			}
			if v.srv.Calls("") != tc.wantCalls || rec.APICalls != tc.wantCalls {
				t.Errorf("%d calls (record %d), want %d: %v", v.srv.Calls(""), rec.APICalls, tc.wantCalls, v.srv.CallLog())
			}
			doc, _ := v.srv.PolicyDocument(v.lockdownARN)
			if restored := doc != weakLockdown; restored != (tc.mode == config.Enforce) {
				t.Errorf("default document after: %s", doc)
			}
			if tc.versions == 4 {
				lv, err := v.client.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(v.lockdownARN)})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, pv := range lv.Versions {
					ids = append(ids, *pv.VersionId)
				}
				if !slices.Equal(ids, []string{"v6", "v5", "v4", "v3", "v2"}) {
					t.Errorf("versions after the restore: %v, want v1 deleted", ids)
				}
			}

			// The same event again: nothing more is written.
			writes := v.srv.WriteCalls()
			rec, err = e.EvaluateLockdownPolicy(ctx, trig, claimed)
			if err != nil || v.srv.WriteCalls() != writes {
				t.Errorf("duplicate: %v, %d writes", err, v.srv.WriteCalls()-writes)
			}
			if tc.mode == config.Enforce && rec.Outcome != decision.OutcomeCompliant {
				t.Errorf("duplicate: outcome %s", rec.Outcome)
			}
		})
	}
}

// A default version older than the one the event claims it set is a stale
// read: retried, never judged compliant; a missing policy is a deployment
// error.
func TestEvaluateLockdownPolicyErrors(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	trig := guardrail.Trigger{EventName: "SetDefaultPolicyVersion", EventTime: time.Now().Add(time.Hour)}
	rec, err := v.engine().EvaluateLockdownPolicy(ctx, trig, "v4")
	if !errors.Is(err, guardrail.ErrStaleRead) || rec.Outcome != decision.OutcomeError || rec.ReadConsistent || v.srv.WriteCalls() != 0 {
		t.Errorf("stale default: %v %+v", err, rec)
	}
	e := v.engine(func(c *config.Config) {
		c.LockdownPolicyARN = "arn:aws:iam::" + account + ":policy/" + lockdownName + "-gone"
	})
	_, err = e.EvaluateLockdownPolicy(ctx, guardrail.Trigger{EventName: "Sweep"}, "")
	if !errors.Is(err, guardrail.ErrLockdownPolicyMissing) || guardrail.IsRetryable(err) {
		t.Errorf("missing policy: %v", err)
	}
}
