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
	benchEvaluate(b, func(v *env) iamtest.Role {
		return iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{v.lockdownARN}}
	}, decision.OutcomeCompliant, nil)
}

// BenchmarkEvaluateNonCompliant measures the evaluation of a role with a
// foreign principal and no lockdown: strip, revoke, attach. The role is
// broken again between iterations, outside the timer.
func BenchmarkEvaluateNonCompliant(b *testing.B) {
	benchEvaluate(b, func(*env) iamtest.Role { return iamtest.Role{Name: "app", TrustPolicy: foreignTrust} },
		decision.OutcomeChanged, breakRole)
}

// benchEvaluate evaluates the role seed returns once per iteration, wants
// outcome, and calls reset (if any) between iterations outside the timer.
func benchEvaluate(b *testing.B, seed func(*env) iamtest.Role, outcome decision.Outcome, reset func(*testing.B, *env, string)) {
	v := newEnv(b)
	role := seed(v)
	v.seed(b, role)
	e := v.engine()
	ctx := context.Background()
	calls := 0
	b.ReportAllocs()
	for b.Loop() {
		rec, err := e.Evaluate(ctx, role.Name, guardrail.Trigger{}, guardrail.Claim{})
		if err != nil || rec.Outcome != outcome {
			b.Fatalf("%v %s %v", err, rec.Outcome, rec.Actions)
		}
		calls += rec.APICalls
		if reset != nil {
			b.StopTimer()
			reset(b, v, role.Name)
			b.StartTimer()
		}
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
