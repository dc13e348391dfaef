package publish

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

// In hub mode each member's findings go, in that member's own batches,
// under that member's product ARN, through that member's client; a member
// whose client cannot be had does not keep the others' findings.
func TestMemberFindings(t *testing.T) {
	hubProduct, _ := ParseProductARN(product) // the hub's: 111122223333
	const a, b, broken = "210000000001", "220000000002", "290000000009"
	hubs := map[string]*fakeHub{a: {}, b: {}}
	var asked []string
	m := NewMemberFindings(func(_ context.Context, account string) (FindingsAPI, error) {
		asked = append(asked, account)
		if h := hubs[account]; h != nil {
			return h, nil
		}
		return nil, errors.New("cannot assume the member role")
	}, hubProduct)
	recIn := func(account string) decision.Record {
		r := record(decision.OutcomeCompliant, decision.ResultDone)
		r.Actions = nil
		r.Account, r.RoleARN = account, "arn:aws:iam::"+account+":role/app"
		return r
	}
	ctx := context.Background()
	for range 60 { // 120 findings in a: a full batch is imported at once
		if err := m.Publish(ctx, recIn(a)); err != nil {
			t.Fatal(err)
		}
	}
	drift := decision.Record{Account: "100000000001", Outcome: decision.OutcomeError, PolicyARN: "arn:aws:organizations::100000000001:policy/o-x/service_control_policy/p-1"}
	for _, r := range []decision.Record{recIn(b), recIn(broken), drift, {Outcome: decision.OutcomeIgnored}} {
		if err := m.Publish(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if len(hubs[a].calls) != 1 || len(hubs[b].calls) != 0 {
		t.Fatalf("before flush: %d and %d imports", len(hubs[a].calls), len(hubs[b].calls))
	}
	err := m.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "member account "+broken) || !strings.Contains(err.Error(), "cannot assume") {
		t.Errorf("Flush = %v, want the broken member named", err)
	}
	if len(hubs[a].calls) != 2 || len(hubs[a].calls[1]) != 20 || len(hubs[b].calls) != 1 {
		t.Fatalf("after flush: %d and %d imports", len(hubs[a].calls), len(hubs[b].calls))
	}
	for account, h := range hubs {
		for _, batch := range h.calls {
			for _, f := range batch {
				want := "arn:aws:securityhub:us-east-1:" + account + ":product/" + account + "/default"
				if aws.ToString(f.AwsAccountId) != account || aws.ToString(f.ProductArn) != want || !strings.Contains(aws.ToString(f.Resources[0].Id), ":"+account+":") {
					t.Errorf("finding of %s imported through %s's client under %s", aws.ToString(f.AwsAccountId), account, aws.ToString(f.ProductArn))
				}
			}
		}
	}
	for _, acct := range asked {
		if acct == "100000000001" || acct == "" {
			t.Errorf("a client was asked for %q, which has no findings", acct)
		}
	}
}

// In hub mode (the member role's name set) findings are imported by each
// member.
func TestFromEnvHub(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	p, err := FromEnv(context.Background(), func(k string) string {
		return map[string]string{EnvSecurityHubProductARN: product, config.EnvMemberRoleName: config.DefaultMemberRoleName,
			config.EnvLockdownPolicyARN: "arn:aws:iam::111122223333:policy/GuardrailLockdown"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := p.(All)
	if len(all) != 1 {
		t.Fatalf("publishers %v", p)
	}
	if m, ok := all[0].(*MemberFindings); !ok || m.template.ARN != product {
		t.Errorf("hub mode publisher %T %+v, want *MemberFindings from the hub's product", all[0], all[0])
	}
}
