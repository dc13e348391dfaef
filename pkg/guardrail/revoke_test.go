package guardrail_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// Deleting or rewriting GuardrailRevokeOlderSessions is undone with a
// cut-off no earlier than the original: the event's time (issue 10, item 7).
func TestEvaluateRestoresRevocation(t *testing.T) {
	original := evalTime.Add(-time.Hour)
	originalDoc := `{"Version":"2012-10-17","Statement":[{"Sid":"GuardrailRevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + original.Format(time.RFC3339) + `"}}}]}`
	eventTime := evalTime.Add(-90 * time.Second).Add(300 * time.Millisecond)
	wantCutoff := eventTime.Truncate(time.Second).Add(time.Second).Format(time.RFC3339)
	tests := []struct {
		name        string
		event       string
		inline      string // the policy left by the tampering; "" deleted
		eventTime   time.Time
		mode        config.Mode
		wantActions []string
		wantCutoff  string // the cut-off in IAM afterwards; "" none
	}{
		{"deleted", "DeleteRolePolicy", "", eventTime, config.Enforce, []string{"PutRolePolicy:done"}, wantCutoff},
		{"rewritten to allow", "PutRolePolicy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, eventTime, config.Enforce, []string{"PutRolePolicy:done"}, wantCutoff},
		{"rewritten with an earlier cut-off", "PutRolePolicy", strings.Replace(originalDoc, original.Format(time.RFC3339), "2001-01-01T00:00:00Z", 1), eventTime, config.Enforce, []string{"PutRolePolicy:done"}, wantCutoff},
		{"rewritten with a later cut-off: kept", "PutRolePolicy", strings.Replace(originalDoc, original.Format(time.RFC3339), evalTime.Format(time.RFC3339), 1), eventTime, config.Enforce, nil, evalTime.Format(time.RFC3339)},
		{"check mode", "DeleteRolePolicy", "", eventTime, config.Check, []string{"PutRolePolicy:would"}, ""},
		{"event older than any session", "DeleteRolePolicy", "", evalTime.Add(-13 * time.Hour), config.Enforce, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			ctx := context.Background()
			inline := map[string]string{}
			if tc.inline != "" {
				inline[guardrail.RevokePolicyName] = tc.inline
			}
			v.seed(t, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, InlinePolicies: inline, AttachedPolicyARNs: []string{v.lockdownARN}})
			v.srv.ResetCalls()
			e := v.engine(func(c *config.Config) { c.TrustMode = tc.mode })
			ev := guardrail.Event{EventID: "ev", EventName: tc.event, EventTime: tc.eventTime, Account: account,
				RoleName: "app", PolicyName: guardrail.RevokePolicyName}
			rec, err := e.HandleEvent(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := actionsOf(rec); !slices.Equal(got, tc.wantActions) {
				t.Errorf("actions %v, want %v", got, tc.wantActions)
			}
			// GetRole, ListAttachedRolePolicies, GetRolePolicy, and the
			// PutRolePolicy when one is written.
			if want := 3 + v.srv.WriteCalls(); tc.eventTime.After(evalTime.Add(-guardrail.MaxSessionDuration)) && rec.APICalls != want {
				t.Errorf("%d calls, want %d", rec.APICalls, want)
			}
			got := v.role(t, "app").InlinePolicies[guardrail.RevokePolicyName]
			switch {
			case tc.wantCutoff == "" && got != tc.inline:
				t.Errorf("revocation changed: %s", got)
			case tc.wantCutoff != "" && !strings.Contains(got, `"aws:TokenIssueTime":"`+tc.wantCutoff+`"`):
				t.Errorf("revocation %s, want cut-off %s", got, tc.wantCutoff)
			}
			if len(tc.wantActions) > 0 && tc.mode == config.Enforce {
				if rec.Outcome != decision.OutcomeChanged || rec.RevokedSessionsBefore == nil || rec.RevokedSessionsBefore.Format(time.RFC3339) != tc.wantCutoff {
					t.Errorf("record: outcome %s revoked %v", rec.Outcome, rec.RevokedSessionsBefore)
				}
				if rec.RevokedSessionsBefore.Before(original) {
					t.Errorf("cut-off %v earlier than the original %v", rec.RevokedSessionsBefore, original)
				}
			}
			// A duplicate delivery writes nothing.
			writes := v.srv.WriteCalls()
			if _, err := e.HandleEvent(ctx, ev); err != nil || v.srv.WriteCalls() != writes && tc.mode == config.Enforce {
				t.Errorf("duplicate: %v, %d writes", err, v.srv.WriteCalls()-writes)
			}
		})
	}

	// Another inline policy's deletion restores nothing.
	v := newEnv(t)
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	v.srv.ResetCalls()
	rec, err := v.engine().HandleEvent(context.Background(), guardrail.Event{EventName: "DeleteRolePolicy", EventTime: evalTime, RoleName: "app", PolicyName: "app-inline"})
	if err != nil || rec.Outcome != decision.OutcomeCompliant || v.srv.WriteCalls() != 0 {
		t.Errorf("other policy: %v %s %d writes", err, rec.Outcome, v.srv.WriteCalls())
	}
}
