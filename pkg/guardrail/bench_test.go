package guardrail_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// BenchmarkEvaluateCompliant measures one evaluation of a compliant role
// through the real SDK against the local endpoint (HTTP on loopback).
func BenchmarkEvaluateCompliant(b *testing.B) {
	v := newEnv(b)
	v.seed(b, iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	e := v.engine()
	ctx := context.Background()
	calls := 0
	b.ReportAllocs()
	for b.Loop() {
		rec, err := e.Evaluate(ctx, "app", guardrail.Trigger{}, guardrail.Claim{})
		if err != nil || rec.Outcome != decision.OutcomeCompliant {
			b.Fatalf("%v %s", err, rec.Outcome)
		}
		calls += rec.APICalls
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}

// BenchmarkEvaluateNonCompliant measures the evaluation of a role with a
// foreign principal and no lockdown: strip, revoke, attach. The role is
// broken again between iterations, outside the timer.
func BenchmarkEvaluateNonCompliant(b *testing.B) {
	v := newEnv(b)
	v.seed(b, iamtest.Role{Name: "app", TrustPolicy: foreignTrust})
	e := v.engine()
	ctx := context.Background()
	calls := 0
	b.ReportAllocs()
	for b.Loop() {
		rec, err := e.Evaluate(ctx, "app", guardrail.Trigger{}, guardrail.Claim{})
		if err != nil || rec.Outcome != decision.OutcomeChanged {
			b.Fatalf("%v %s %v", err, rec.Outcome, rec.Actions)
		}
		calls += rec.APICalls
		b.StopTimer()
		breakRole(b, v, "app")
		b.StartTimer()
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}

func breakRole(b *testing.B, v *env, name string) {
	ctx := context.Background()
	if _, err := v.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name), PolicyDocument: aws.String(foreignTrust)}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(v.lockdownARN)}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(guardrail.RevokePolicyName)}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEvaluateRoleSnapshot measures the sweeper's per-role cost for a
// compliant role: no IAM call at all.
func BenchmarkEvaluateRoleSnapshot(b *testing.B) {
	v := newEnv(b)
	e := v.engine()
	role := guardrail.Role{Name: "app", Path: "/", ARN: "arn:aws:iam::" + account + ":role/app",
		TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rec, err := e.EvaluateRole(ctx, role, guardrail.Trigger{})
		if err != nil || rec.APICalls != 0 {
			b.Fatalf("%v calls %d", err, rec.APICalls)
		}
	}
}
