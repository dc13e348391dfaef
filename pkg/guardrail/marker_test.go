package guardrail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// A forged write marker (anyone allowed to tag the role can write one) may
// make the engine pick another document to restrict, but never admit an
// outsider: whatever the marker says, what is written is restricted.
func TestForgedMarkerAdmitsNoOutsider(t *testing.T) {
	const orgID = "o-a1b2c3d4e5"
	// Kept by the trust control only under its condition.
	foreignInOrg := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + foreignAccount + `:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + orgID + `"}}}]}`
	// The read document: the foreign account without condition, and a
	// service, so that what it has in common with a claim differs from it.
	read := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + foreignAccount + `:root","Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	eventTime := evalTime.Add(-time.Minute)
	claimHash, err := guardrail.DocHash(foreignInOrg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		at    time.Time // the marker's intent time
		src   string
		claim string
	}{
		{"same second, another source: what both admit, restricted again", eventTime, strings.Repeat("a", 64), foreignInOrg},
		{"newer intent: the read is evaluated", eventTime.Add(time.Hour), strings.Repeat("b", 64), foreignInOrg},
		{"older intent: the claim is restored, restricted", eventTime.Add(-time.Hour), strings.Repeat("c", 64), lambdaTrust},
		{"names this claim: the read is evaluated", eventTime, claimHash, foreignInOrg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t)
			tag, err := guardrail.MarkerValue(tc.at, read, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			v.seed(t, iamtest.Role{Name: "app", TrustPolicy: read, Tags: map[string]string{guardrail.MarkerTagKey: tag},
				AttachedPolicyARNs: []string{v.lockdownARN}})
			e := v.engine(func(c *config.Config) { c.TrustedOrgIDs = []string{orgID} })
			_, err = e.Evaluate(context.Background(), "app",
				guardrail.Trigger{EventName: "UpdateAssumeRolePolicy", EventTime: eventTime}, guardrail.Claim{TrustPolicy: tc.claim})
			if err != nil {
				t.Fatal(err)
			}
			got := mustParse(t, v.role(t, "app").TrustPolicy)
			res, err := trust.Analyze(got, trust.Zone{Account: account, Partition: "aws", TrustedAccounts: []string{trustedAccount}, TrustedOrgIDs: []string{orgID}})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Principals {
				if p.Effect == "Allow" && !p.Trusted {
					t.Errorf("final policy admits %s:%s (%s): %s", p.Type, p.Value, p.Reason, v.role(t, "app").TrustPolicy)
				}
			}
		})
	}
}

// A trust write follows its read by at most the write budget: a slower
// evaluation writes nothing and fails for a retry that reads again.
func TestTrustWriteFollowsItsRead(t *testing.T) {
	v := newEnv(t)
	v.seed(t, iamtest.Role{Name: "app", TrustPolicy: foreignTrust, AttachedPolicyARNs: []string{v.lockdownARN}})
	now := evalTime
	slow := func() time.Time { now = now.Add(61 * time.Second); return now } // every step takes longer than the budget (60 s with the default window)
	e := v.newEngine(v.client, v.config(), guardrail.WithClock(slow))
	rec, err := e.Evaluate(context.Background(), "app", guardrail.Trigger{}, guardrail.Claim{})
	if !errors.Is(err, guardrail.ErrReadTooOld) || !guardrail.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable ErrReadTooOld", err)
	}
	if n := v.srv.Calls("UpdateAssumeRolePolicy"); n != 0 || rec.Outcome != "error" {
		t.Errorf("%d trust writes, outcome %s; want none and error", n, rec.Outcome)
	}
}
