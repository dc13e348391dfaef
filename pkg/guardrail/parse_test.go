package guardrail_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/policy"
)

// One pass through the engine parses each policy document once: one
// policy.Parse per document read (each GetRole's trust policy, each inline
// or managed policy document fetched, a snapshot's trust policy) or claimed
// by the event, whatever the path. The expected count is derived from the
// stand-in's call log, and written out as a number for each path.
func TestOneParsePerDocument(t *testing.T) {
	snapshot := func(v *env, trustDoc string, attached ...string) guardrail.Role {
		return guardrail.Role{Name: "app", Path: "/", ARN: "arn:aws:iam::" + account + ":role/app",
			TrustPolicy: trustDoc, AttachedPolicyARNs: attached, InlinePolicies: map[string]string{}}
	}
	tests := []parseCase{
		{name: "compliant", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker}},
			outcome: decision.OutcomeCompliant, want: 1},
		{name: "compliant, claimed", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker}},
			claim: guardrail.Claim{TrustPolicy: lambdaTrust}, outcome: decision.OutcomeCompliant, want: 2},
		{name: "non-compliant", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			outcome: decision.OutcomeChanged, want: 1},
		{name: "non-compliant, claimed", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			claim: guardrail.Claim{TrustPolicy: foreignTrust}, outcome: decision.OutcomeChanged, want: 2},
		{name: "non-compliant, check mode", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			mods: []func(*config.Config){checkMode}, outcome: decision.OutcomeWouldChange, want: 1},
		{name: "inline lockdown read", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, InlinePolicies: map[string]string{lockdown.PolicyName: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`}},
			outcome: decision.OutcomeChanged, want: 2},
		{name: "stale reads", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker}},
			stale: 1, claim: guardrail.Claim{TrustPolicy: foreignTrust}, outcome: decision.OutcomeChanged, want: 1 + 2},
		{name: "revocation restored", role: iamtest.Role{Name: "app", TrustPolicy: lambdaTrust, AttachedPolicyARNs: []string{lockdownARNMarker},
			InlinePolicies: map[string]string{guardrail.RevokePolicyName: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`}},
			claim: guardrail.Claim{RevocationChanged: true}, outcome: decision.OutcomeChanged, want: 2},
		{name: "exempt", role: iamtest.Role{Name: "breakglass-admin", TrustPolicy: foreignTrust},
			outcome: decision.OutcomeSkipped, want: 1},
		{name: "sweeper snapshot, compliant", snap: func(v *env) *guardrail.Role { r := snapshot(v, lambdaTrust, v.lockdownARN); return &r },
			outcome: decision.OutcomeCompliant, want: 1},
		{name: "sweeper snapshot, check mode", snap: func(v *env) *guardrail.Role { r := snapshot(v, foreignTrust); return &r },
			mods: []func(*config.Config){checkMode}, outcome: decision.OutcomeWouldChange, want: 1},
		{name: "sweeper snapshot, re-read for a write", role: iamtest.Role{Name: "app", TrustPolicy: foreignTrust},
			snap: func(v *env) *guardrail.Role { r := snapshot(v, foreignTrust); return &r }, outcome: decision.OutcomeChanged, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t) })
	}
}

// parseCase is one path through the engine and the parses it may make.
type parseCase struct {
	name    string
	role    iamtest.Role
	stale   int // stale GetRole reads after the event's change
	claim   guardrail.Claim
	snap    func(v *env) *guardrail.Role
	mods    []func(*config.Config)
	outcome decision.Outcome
	// want is the number of parses: documents read plus claimed.
	want int
}

func (tc parseCase) run(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	if tc.role.Name != "" {
		tc.role.AttachedPolicyARNs = slices.Clone(tc.role.AttachedPolicyARNs)
		for i, a := range tc.role.AttachedPolicyARNs {
			if a == lockdownARNMarker {
				tc.role.AttachedPolicyARNs[i] = v.lockdownARN
			}
		}
		v.seed(t, tc.role)
	}
	if tc.stale > 0 {
		v.srv.SetStaleReads("app", tc.stale)
		if _, err := v.client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(foreignTrust)}); err != nil {
			t.Fatal(err)
		}
	}
	var parses atomic.Int64
	e := v.newEngine(v.client, v.config(tc.mods...), guardrail.WithClock(func() time.Time { return evalTime }),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}),
		guardrail.WithPolicyParser(func(b []byte) (*policy.Document, error) {
			parses.Add(1)
			return policy.Parse(b)
		}))
	v.srv.ResetCalls()
	var rec decision.Record
	var err error
	trig := guardrail.Trigger{EventName: "UpdateAssumeRolePolicy", EventTime: evalTime.Add(-time.Minute)}
	if tc.snap != nil {
		rec, err = e.EvaluateRole(ctx, *tc.snap(v), guardrail.Trigger{EventName: "Sweep"})
	} else {
		rec, err = e.Evaluate(ctx, tc.role.Name, trig, tc.claim)
	}
	if err != nil || rec.Outcome != tc.outcome {
		t.Fatalf("outcome %s, error %v; want %s", rec.Outcome, err, tc.outcome)
	}
	// Documents read: every GetRole's trust policy, every inline
	// document fetched, the snapshot's trust policy; documents
	// claimed: the event's trust policy.
	read := v.srv.Calls("GetRole") + v.srv.Calls("GetRolePolicy")
	if tc.snap != nil {
		read++
	}
	if tc.claim.TrustPolicy != "" {
		read++
	}
	if got := int(parses.Load()); got != tc.want || got != read {
		t.Errorf("%d parses, want %d (%d documents read or claimed; calls %v)", got, tc.want, read, v.srv.CallLog())
	}
}

// lockdownARNMarker stands for the env's lockdown policy ARN in the table.
const lockdownARNMarker = "lockdown"
