package replay_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

func TestApply(t *testing.T) {
	srv := iamtest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	ev := func(source, detail string) events.CloudWatchEvent {
		return events.CloudWatchEvent{Source: source, DetailType: "AWS API Call via CloudTrail", Detail: json.RawMessage(detail)}
	}
	trust := `{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}`
	tests := []struct {
		name    string
		ev      events.CloudWatchEvent
		applied bool
		wantErr string
		check   func(iamtest.RoleState) bool
	}{
		{name: "CreateRole", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"CreateRole","requestParameters":{"roleName":"r","path":"/p/","assumeRolePolicyDocument":"`+trust+`","tags":[{"key":"k","value":"v"}]}}`),
			applied: true, check: func(s iamtest.RoleState) bool {
				return s.Path == "/p/" && s.Tags["k"] == "v" && strings.Contains(s.TrustPolicy, "ec2")
			}},
		{name: "AttachRolePolicy", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","requestParameters":{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}`),
			applied: true, check: func(s iamtest.RoleState) bool { return len(s.AttachedPolicyARNs) == 1 }},
		{name: "PutRolePolicy with object document", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"PutRolePolicy","requestParameters":{"roleName":"r","policyName":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}}}`),
			applied: true, check: func(s iamtest.RoleState) bool { return strings.Contains(s.InlinePolicies["p"], "s3:GetObject") }},
		{name: "UpdateRole", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"UpdateRole","requestParameters":{"roleName":"r","maxSessionDuration":7200}}`),
			applied: true, check: func(s iamtest.RoleState) bool { return s.MaxSessionDuration == 7200 }},
		{name: "failed call is not replayed", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"DeleteRolePolicy","errorCode":"AccessDenied","requestParameters":{"roleName":"r","policyName":"p"}}`),
			check: func(s iamtest.RoleState) bool { return s.InlinePolicies["p"] != "" }},
		{name: "other source is not replayed", ev: ev("custom", `{"eventSource":"iam.amazonaws.com","eventName":"DetachRolePolicy","requestParameters":{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}`)},
		{name: "unknown API", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"ListRoles"}`)},
		{name: "IAM refuses", ev: ev("aws.iam", `{"eventSource":"iam.amazonaws.com","eventName":"DetachRolePolicy","requestParameters":{"roleName":"nope","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}`),
			wantErr: "NoSuchEntity"},
		{name: "bad record", ev: ev("aws.iam", `[]`), wantErr: "decode record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applied, err := replay.Apply(ctx, client, tc.ev)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Apply = %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || applied != tc.applied {
				t.Fatalf("Apply = %v, %v; want %v", applied, err, tc.applied)
			}
			if tc.check != nil {
				st, ok := srv.Role("r")
				if !ok || !tc.check(st) {
					t.Errorf("role state after %s: %+v", tc.name, st)
				}
			}
		})
	}
}
