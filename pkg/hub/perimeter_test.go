package hub

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/member"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
)

// perimeterWorld is the local organization with two OUs, prevention
// enforce on both, and the perimeter policies deployed the way the hub
// stack deploys them (each attached to both OUs), by the management
// account.
type perimeterWorld struct {
	calls  func(action string) int // the stand-in's call counter
	mgmt   string                  // the management account
	cfg    config.Config
	org    *organizations.Client // the management account's
	ous    []string
	ids    map[string]string // policy name -> ID
	orgID  string
	deploy []perimeter.Document
	hubCfg aws.Config // the hub sweeper role's
}

func newPerimeterWorld(t *testing.T, skip ...string) *perimeterWorld {
	t.Helper()
	srv, dep := sandbox.StartOrg(t, config.Enforce)
	w := &perimeterWorld{calls: srv.Calls, mgmt: srv.Account(), cfg: dep.Config, org: organizations.NewFromConfig(srv.Config()), ids: map[string]string{}}
	w.ous = []string{srv.AddOrganizationalUnit("Workloads"), srv.AddOrganizationalUnit("Sandbox")}
	w.cfg.Prevention, w.cfg.PreventionTargets = config.PreventionEnforce, w.ous
	ctx := context.Background()
	d, err := w.org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	w.orgID = aws.ToString(d.Organization.Id)
	if w.deploy, err = PerimeterDocuments(w.cfg, w.orgID); err != nil {
		t.Fatal(err)
	}
	for _, doc := range w.deploy {
		if strings.Contains(strings.Join(skip, ","), doc.Name) {
			continue
		}
		out, err := w.org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(doc.Name), Type: orgtypes.PolicyType(doc.Type),
			Content: aws.String(string(doc.Content)), Description: aws.String("IAM role guardrail")})
		if err != nil {
			t.Fatalf("deploy %s: %v", doc.Name, err)
		}
		id := out.Policy.PolicySummary.Id
		w.ids[doc.Name] = aws.ToString(id)
		for _, ou := range w.ous {
			if _, err := w.org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: id, TargetId: aws.String(ou)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if w.hubCfg, err = dep.HubConfig(sandbox.SweeperRole); err != nil {
		t.Fatal(err)
	}
	return w
}

// hub returns the hub as its sweeper runs it, reading Organizations
// through api (the hub role's client when nil).
func (w *perimeterWorld) hub(t *testing.T, api member.OrganizationsAPI) *Hub {
	t.Helper()
	if api == nil {
		api = organizations.NewFromConfig(w.hubCfg)
	}
	h, err := New(w.cfg, member.NewOrganization(api, nil), member.NewClients(w.hubCfg, w.cfg.MemberRoleARN), guardrail.WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// check runs the hub's perimeter check and returns its records.
func (w *perimeterWorld) check(t *testing.T, api member.OrganizationsAPI) (perimeterCheck, []decision.Record) {
	t.Helper()
	var recs []decision.Record
	pc := w.hub(t, api).checkPerimeter(context.Background(), SweepOptions{Trigger: guardrail.Trigger{EventID: "sweep-1", EventName: "Sweep"}, Version: "test"},
		func(r decision.Record) { recs = append(recs, r) })
	return pc, recs
}

// failingDescribe answers DescribePolicy with an SDK error, as
// Organizations throttles.
type failingDescribe struct{ member.OrganizationsAPI }

func (f failingDescribe) DescribePolicy(context.Context, *organizations.DescribePolicyInput, ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "You have sent too many requests in too short a period of time."}
}

const (
	rcpName = "IamRoleGuardrail-Perimeter-RCP-1"
	scpName = "IamRoleGuardrail-Perimeter-SCP-1"
)

// The sweeper reports every way the deployed perimeter policies differ
// from what the configuration renders, one error record each, naming the
// policy, what differs and how to undo it; nothing when they agree; an
// error record, never silence, when it cannot read them.
func TestCheckPerimeter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		skip   []string                              // policies not deployed
		change func(t *testing.T, w *perimeterWorld) // after the deployment
		api    func(w *perimeterWorld) member.OrganizationsAPI
		state  string
		want   []string // per record: finding reason prefix, then what the error must name
	}{
		{name: "in step", state: PerimeterInStep},
		{name: "detached from one OU", state: PerimeterDrift, change: func(t *testing.T, w *perimeterWorld) {
			if _, err := w.org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: aws.String(w.ids[rcpName]), TargetId: aws.String(w.ous[1])}); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"perimeter-detached: not attached to " + "<ou1>", rcpName}},
		{name: "edited by hand", state: PerimeterDrift, change: func(t *testing.T, w *perimeterWorld) {
			edited := strings.Replace(string(w.deploy[1].Content), `"iam:CreateUser"`, `"iam:CreateGroup"`, 1)
			if edited == string(w.deploy[1].Content) {
				t.Fatal("the SCP denies no iam:CreateUser to edit")
			}
			if _, err := w.org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(w.ids[scpName]), Content: aws.String(edited)}); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"perimeter-edited: ", scpName, "statements changed: "}},
		{name: "missing", skip: []string{rcpName}, state: PerimeterDrift,
			want: []string{"perimeter-missing: ", rcpName}},
		{name: "configuration changed without redeploying", state: PerimeterDrift, change: func(t *testing.T, w *perimeterWorld) {
			w.cfg.TrustedAccounts = append(w.cfg.TrustedAccounts, "444455556666")
		}, want: []string{"perimeter-edited: ", rcpName, "configuration changed without a redeployment"}},
		{name: "check mode compares nothing", state: PerimeterNotChecked, change: func(t *testing.T, w *perimeterWorld) {
			w.cfg.Prevention = config.PreventionCheck
			if _, err := w.org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: aws.String(w.ids[rcpName]), TargetId: aws.String(w.ous[0])}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "read fails", state: PerimeterError, api: func(w *perimeterWorld) member.OrganizationsAPI {
			return failingDescribe{organizations.NewFromConfig(w.hubCfg)}
		}, want: []string{"perimeter-unchecked: ", "organizations:DescribePolicy", "TooManyRequestsException", rcpName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newPerimeterWorld(t, tc.skip...)
			if tc.change != nil {
				tc.change(t, w)
			}
			var api member.OrganizationsAPI
			if tc.api != nil {
				api = tc.api(w)
			}
			before := w.calls("ListPolicies")
			pc, recs := w.check(t, api)
			if pc.state != tc.state {
				t.Errorf("state %s, want %s", pc.state, tc.state)
			}
			if tc.state == PerimeterNotChecked && w.calls("ListPolicies") != before {
				t.Error("check mode read the policies")
			}
			if len(tc.want) == 0 {
				if len(recs) != 0 {
					t.Errorf("records %+v, want none", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records %+v, want 1", len(recs), recs)
			}
			rec := recs[0]
			reason := strings.ReplaceAll(tc.want[0], "<ou1>", w.ous[1])
			if rec.Outcome != decision.OutcomeError || len(rec.Findings) != 1 || rec.Findings[0].Control != ControlPerimeter ||
				!strings.HasPrefix(rec.Findings[0].Reason, reason) {
				t.Errorf("record %+v, want an error with a %q finding", rec, reason)
			}
			if rec.Account != w.mgmt || rec.EventName != "Sweep" || rec.Version != "test" {
				t.Errorf("record account %s, event %s, version %s; want the management account %s", rec.Account, rec.EventName, rec.Version, w.mgmt)
			}
			for _, s := range tc.want[1:] {
				if !strings.Contains(rec.Error, s) && !strings.Contains(rec.Findings[0].Reason, s) && rec.Findings[0].Policy != s {
					t.Errorf("record names no %q: error %q, finding %+v", s, rec.Error, rec.Findings[0])
				}
			}
			if tc.state == PerimeterDrift {
				if !strings.Contains(rec.Error, "redeploy the hub stack") || !strings.HasPrefix(rec.PolicyARN, "arn:aws:organizations::"+w.mgmt+":policy/") == (tc.name != "missing") {
					t.Errorf("record error %q, policy ARN %q", rec.Error, rec.PolicyARN)
				}
			}
			if tc.name == "edited by hand" && !strings.Contains(string(rec.PolicyBefore), "iam:CreateGroup") {
				t.Errorf("policy_before %s, want the deployed content", rec.PolicyBefore)
			}
		})
	}
}

// The sweep runs the perimeter check first and counts it in its summary;
// its records go to emit with the members' records.
func TestSweepReportsPerimeterDrift(t *testing.T) {
	w := newPerimeterWorld(t)
	if _, err := w.org.DetachPolicy(context.Background(), &organizations.DetachPolicyInput{PolicyId: aws.String(w.ids[scpName]), TargetId: aws.String(w.ous[0])}); err != nil {
		t.Fatal(err)
	}
	var drift []decision.Record
	sum, err := w.hub(t, nil).Sweep(context.Background(), SweepOptions{Trigger: guardrail.Trigger{EventID: "s", EventName: "Sweep"}},
		func(r decision.Record) {
			if r.PolicyARN != "" && strings.Contains(r.PolicyARN, ":policy/o-") {
				drift = append(drift, r)
			}
		}, func(AccountSummary) {})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Perimeter != PerimeterDrift || sum.PerimeterDrifts != 1 || len(drift) != 1 || sum.OrgCalls < 5 {
		t.Errorf("summary perimeter %s/%d, org calls %d, %d drift records", sum.Perimeter, sum.PerimeterDrifts, sum.OrgCalls, len(drift))
	}
	if sum.AccountsSwept != len(sandbox.Members) {
		t.Errorf("%d accounts swept, want %d: the drift must not stop the sweep", sum.AccountsSwept, len(sandbox.Members))
	}
}
