package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/replay"
)

// TestEnforcerHardening runs the enforcer bootstrap under the emulator
// through the controls that can be quietly undone and a role that is gone
// before its event arrives (issue 10, items 6, 7 and 9): each is repaired or
// acknowledged, and a duplicate delivery of each writes nothing.
func TestEnforcerHardening(t *testing.T) {
	e := start(t, "enforcer")
	ctx := context.Background()
	client := e.srv.Client()
	now := func() string { return time.Now().UTC().Add(-time.Second).Format(time.RFC3339) }
	twice := func(t *testing.T, ev events.CloudWatchEvent, check func(d map[string]any)) {
		t.Helper()
		d, err := e.deliver(t, ev)
		if err != nil {
			t.Fatalf("invocation failed: %v", err)
		}
		check(d)
		writes := e.srv.WriteCalls()
		d, err = e.deliver(t, ev)
		if err != nil {
			t.Fatalf("duplicate delivery failed: %v", err)
		}
		if n := e.srv.WriteCalls() - writes; n != 0 {
			t.Errorf("duplicate delivery made %d writes", n)
		}
		if d["outcome"] != "compliant" && d["outcome"] != "role-gone" {
			t.Errorf("duplicate delivery: %v", d)
		}
	}

	t.Run("lockdown document tampered", func(t *testing.T) {
		weak := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::nothing/*"}]}`
		at := now()
		out, err := client.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
			PolicyArn: aws.String(e.dep.LockdownPolicyARN), PolicyDocument: aws.String(weak), SetAsDefault: true})
		if err != nil {
			t.Fatal(err)
		}
		ev := withDetail(t, fixtures.RequireEvent(t, "DetachRolePolicy-lockdown.json"), "eventName", "CreatePolicyVersion")
		ev = withDetail(t, ev, "eventTime", at)
		ev = withDetail(t, ev, "requestParameters", map[string]any{"policyArn": e.dep.LockdownPolicyARN, "policyDocument": weak, "setAsDefault": true})
		ev = withDetail(t, ev, "responseElements", map[string]any{"policyVersion": map[string]any{"versionId": *out.PolicyVersion.VersionId, "isDefaultVersion": true}})
		twice(t, ev, func(d map[string]any) {
			if d["outcome"] != "changed" || d["lockdown"] != "restored" || d["policy_arn"] != e.dep.LockdownPolicyARN {
				t.Errorf("decision %v", d)
			}
		})
		if doc, _ := e.srv.PolicyDocument(e.dep.LockdownPolicyARN); doc == weak || !strings.Contains(doc, "ProtectLockdownPolicy") {
			t.Errorf("lockdown document after the restore: %s", doc)
		}
	})

	t.Run("revocation policy deleted", func(t *testing.T) {
		if _, err := e.happen(t, fixtures.RequireEvent(t, "CreateRole-foreign-account.json")); err != nil {
			t.Fatal(err)
		}
		original := e.role(t, "partner-reporting").InlinePolicies["GuardrailRevokeOlderSessions"]
		if original == "" {
			t.Fatal("no revocation to tamper with")
		}
		if _, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("partner-reporting"), PolicyName: aws.String("GuardrailRevokeOlderSessions")}); err != nil {
			t.Fatal(err)
		}
		ev := withDetail(t, fixtures.RequireEvent(t, "DeleteRolePolicy-inline.json"), "eventTime", time.Now().UTC().Format(time.RFC3339))
		ev = withDetail(t, ev, "requestParameters", map[string]any{"roleName": "partner-reporting", "policyName": "GuardrailRevokeOlderSessions"})
		twice(t, ev, func(d map[string]any) {
			if d["outcome"] != "changed" || d["revoked_sessions_before"] == nil {
				t.Errorf("decision %v", d)
			}
		})
		restored := e.role(t, "partner-reporting").InlinePolicies["GuardrailRevokeOlderSessions"]
		if cut := cutoff(t, restored); cut.Before(cutoff(t, original)) {
			t.Errorf("restored cut-off %v is earlier than the original %v", cut, cutoff(t, original))
		}
	})

	t.Run("role deleted 15 minutes before delivery", func(t *testing.T) {
		ev := withRole(t, fixtures.RequireEvent(t, "CreateRole-lambda-execution-role.json"), "rolled-back")
		ev = withDetail(t, ev, "eventTime", time.Now().UTC().Add(-15*time.Minute).Format(time.RFC3339))
		// CloudFormation created the role and rolled it back: it no longer
		// exists when the event arrives.
		if _, err := replay.Apply(ctx, client, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("rolled-back")}); err != nil {
			t.Fatal(err)
		}
		twice(t, ev, func(d map[string]any) {
			if d["outcome"] != "role-gone" || d["account"] != "111122223333" || d["level"] != "INFO" {
				t.Errorf("decision %v", d)
			}
		})
	})
}

// cutoff reads the aws:TokenIssueTime of a revocation document.
func cutoff(t *testing.T, doc string) time.Time {
	t.Helper()
	const key = `"aws:TokenIssueTime":"`
	i := strings.Index(doc, key)
	if i < 0 {
		t.Fatalf("no cut-off in %s", doc)
	}
	ts, err := time.Parse(time.RFC3339, doc[i+len(key):i+len(key)+20])
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
