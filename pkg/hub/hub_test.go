package hub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/member"
)

const foreignTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`

type world struct {
	srv *iamtest.Server
	dep sandbox.OrgDeployment
	hub *Hub
}

func newWorld(t *testing.T, role string) *world {
	t.Helper()
	srv, dep := sandbox.StartOrg(t, config.Enforce)
	hubCfg, err := dep.HubConfig(role)
	if err != nil {
		t.Fatal(err)
	}
	org := member.NewOrganization(organizations.NewFromConfig(hubCfg), dep.Config.MemberAccounts)
	h, err := New(dep.Config, org, member.NewClients(hubCfg, dep.Config.MemberRoleARN), guardrail.WithVersion("test"),
		guardrail.WithStaleReadBackoff([]time.Duration{time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, dep: dep, hub: h}
}

// seed creates a role in a member account through its administrator.
func (w *world) seed(t *testing.T, account, name, trust string) *iam.Client {
	t.Helper()
	admin, err := w.dep.Admin(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	return admin
}

func trustOf(t *testing.T, c *iam.Client, name string) string {
	t.Helper()
	out, err := c.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Role.AssumeRolePolicyDocument)
}

func event(account, role, id string) guardrail.Event {
	return guardrail.Event{EventID: id, EventName: "CreateRole", EventTime: time.Now(), Account: account,
		Actor: "arn:aws:iam::" + account + ":user/alice", RoleName: role, TrustPolicy: foreignTrust}
}

// An event in member B is evaluated in B, with B's lockdown policy and the
// organization trusted; the record names B; the member credentials are
// assumed once for several events of the same account.
func TestHandleEventActsInTheMember(t *testing.T) {
	w := newWorld(t, sandbox.EnforcerRole)
	b := sandbox.Members[1]
	admin := w.seed(t, b, "app", foreignTrust)
	w.seed(t, sandbox.Members[0], "app", foreignTrust)
	rec, err := w.hub.HandleEvent(context.Background(), event(b, "app", "ev-1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Account != b || rec.Outcome != decision.OutcomeChanged || rec.RoleARN != "arn:aws:iam::"+b+":role/app" {
		t.Fatalf("record account %s outcome %s role %s, want account %s changed", rec.Account, rec.Outcome, rec.RoleARN, b)
	}
	if strings.Contains(trustOf(t, admin, "app"), "999988887777") {
		t.Error("the foreign principal is still trusted in B")
	}
	att, err := admin.ListAttachedRolePolicies(context.Background(), &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyArn) != "arn:aws:iam::"+b+":policy/GuardrailLockdown" {
		t.Errorf("attached %+v, %v; want B's own lockdown policy", att, err)
	}
	otherAdmin, _ := w.dep.Admin(context.Background(), sandbox.Members[0])
	if !strings.Contains(trustOf(t, otherAdmin, "app"), "999988887777") {
		t.Error("the event in B changed the same-named role in A")
	}
	second := event(b, "app", "ev-2")
	second.EventName, second.TrustPolicy = "AttachRolePolicy", ""
	if _, err := w.hub.HandleEvent(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	var assumes []iamtest.Call
	for _, c := range w.srv.CallLog() {
		if c.Action == "AssumeRole" && strings.HasPrefix(c.Caller, "ASIA") && c.Account == sandbox.Account {
			assumes = append(assumes, c)
		}
	}
	if len(assumes) != 1 {
		t.Errorf("%d AssumeRole calls by the hub for two events in one account, want 1 (cached credentials)", len(assumes))
	}
}

// What the hub does not evaluate: its own sessions' events, accounts it
// does not guard; what it fails on: an account it cannot assume into,
// while the rest of the organization is unaffected.
func TestHandleEventBoundaries(t *testing.T) {
	w := newWorld(t, sandbox.EnforcerRole)
	a := sandbox.Members[0]
	w.seed(t, a, "app", foreignTrust)
	own := event(a, "app", "ev-own")
	own.SessionIssuer = "arn:aws:iam::" + a + ":role/" + strings.ToLower(sandbox.MemberRole)
	tests := []struct {
		name    string
		ev      guardrail.Event
		ignored string // reason fragment; "" for not ignored
		assume  bool   // an *member.AssumeError naming the account
	}{
		{"the hub's own session", own, "member role", false},
		{"outside the organization", event("777766665555", "app", "ev-out"), "not in organization o-", false},
		{"the management account", event(sandbox.Account, "app", "ev-mgmt"), "management account", false},
		{"a member without the member stack", event(sandbox.Undeployed, "app", "ev-undeployed"), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.srv.WriteCalls()
			_, err := w.hub.HandleEvent(context.Background(), tc.ev)
			var ig *Ignored
			switch {
			case tc.ignored != "":
				if !errors.As(err, &ig) || !strings.Contains(ig.Reason, tc.ignored) {
					t.Errorf("err = %v, want ignored with %q", err, tc.ignored)
				}
			case tc.assume:
				var ae *member.AssumeError
				if !errors.As(err, &ae) || ae.Account != tc.ev.Account || !strings.Contains(err.Error(), tc.ev.Account) || !strings.Contains(err.Error(), "AccessDenied") {
					t.Errorf("err = %v, want an AssumeError naming %s and STS's reason", err, tc.ev.Account)
				}
				if !IsAssumeError(err) {
					t.Error("IsAssumeError = false")
				}
			}
			if w.srv.WriteCalls() != before {
				t.Error("the event wrote to IAM")
			}
		})
	}
	rec, err := w.hub.HandleEvent(context.Background(), event(a, "app", "ev-after"))
	if err != nil || rec.Outcome != decision.OutcomeChanged {
		t.Errorf("member A after the failures: %s, %v; want changed", rec.Outcome, err)
	}
}

// A sweep covers every member with one account summary each; the member
// without the stack fails alone and is left for the next run; a run out of
// time leaves every account, to be started first next time.
func TestSweepOrganization(t *testing.T) {
	w := newWorld(t, sandbox.SweeperRole)
	for _, m := range sandbox.Members {
		w.seed(t, m, "app", foreignTrust)
	}
	var recs []decision.Record
	var accounts []AccountSummary
	sum, err := w.hub.Sweep(context.Background(), SweepOptions{Trigger: guardrail.Trigger{EventID: "sweep-1", EventName: "Sweep"}},
		func(r decision.Record) { recs = append(recs, r) }, func(a AccountSummary) { accounts = append(accounts, a) })
	if err != nil {
		t.Fatal(err)
	}
	if sum.AccountsListed != 4 || sum.AccountsSwept != 3 || sum.AccountsFailed != 1 || len(accounts) != 4 ||
		sum.Changed != 3 || len(sum.SkippedAccounts) != 1 || !slicesEqual(sum.LeftAccounts, []string{sandbox.Undeployed}) {
		t.Errorf("summary %+v, accounts %+v", sum, accounts)
	}
	for _, a := range accounts {
		if a.Account == sandbox.Undeployed && (a.Outcome != AccountFailed || !strings.Contains(a.Error, sandbox.Undeployed)) {
			t.Errorf("undeployed account summary %+v", a)
		}
	}
	changed := map[string]bool{}
	for _, r := range recs {
		if r.Outcome == decision.OutcomeError || r.Lockdown == decision.LockdownRestored {
			t.Logf("%s %s: %s %s %s %+v", r.Account, r.RoleName, r.Outcome, r.Lockdown, r.Error, r.Findings)
		}
		if r.Outcome == decision.OutcomeChanged {
			changed[r.Account] = true
		}
	}
	if len(changed) != 3 {
		t.Errorf("changed records in %v, want every member", changed)
	}

	sum, err = w.hub.Sweep(context.Background(), SweepOptions{Deadline: time.Now().Add(-time.Second),
		FirstAccounts: []string{sandbox.Members[2], "123412341234"}}, func(decision.Record) {}, func(AccountSummary) {})
	if err != nil || sum.AccountsLeft != 4 || sum.FirstAccounts != 1 || sum.LeftAccounts[0] != sandbox.Members[2] {
		t.Errorf("past deadline: %+v, %v; want every account left, %s first", sum, err, sandbox.Members[2])
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }
