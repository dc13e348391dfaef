package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/hub"
	"github.com/iamguardrail/guardrail/pkg/member"
)

// hubRun is what one hub sweep invocation logged.
type hubRun struct {
	summary  map[string]any
	accounts []map[string]any // per-account summaries, in order
	records  int
}

func takeHub(t *testing.T, out *bytes.Buffer) hubRun {
	t.Helper()
	var r hubRun
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		switch m["msg"] {
		case SummaryMessage:
			r.summary = m
		case AccountSummaryMessage:
			r.accounts = append(r.accounts, m)
		case "decision":
			r.records++
		}
	}
	out.Reset()
	return r
}

// A hub sweep that runs out of time names the accounts it left; the next
// invocation in the same environment starts with them.
func TestHubSweepStartsWithTheAccountsLeft(t *testing.T) {
	_, dep := sandbox.StartOrg(t, config.Enforce)
	hubCfg, err := dep.HubConfig(sandbox.SweeperRole)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(dep.Config, member.NewOrganization(organizations.NewFromConfig(hubCfg), nil),
		member.NewClients(hubCfg, dep.Config.MemberRoleARN), guardrail.WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	w := newHubHandler(h, dep.Config, out, "test")

	// On the handler's clock one second is left, so the start margin (2 s
	// at least) has passed: the accounts are listed, none is started. The
	// context's real deadline is far away, so nothing depends on speed.
	deadline := time.Now().Add(time.Hour)
	w.now = func() time.Time { return deadline.Add(-time.Second) }
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	err = w.Handle(ctx, schedule)
	cancel()
	w.now = time.Now
	first := takeHub(t, out)
	if err == nil || !strings.Contains(err.Error(), "accounts left") || first.summary["accounts_left"] != float64(4) || len(first.accounts) != 0 {
		t.Fatalf("out of time: err %v, summary %v", err, first.summary)
	}
	left, _ := first.summary["left_accounts"].([]any)

	err = w.Handle(context.Background(), schedule)
	second := takeHub(t, out)
	if err == nil || !strings.Contains(err.Error(), "could not be swept") {
		t.Errorf("second run: %v, want the account without the member stack reported", err)
	}
	if second.summary["first_accounts"] != float64(4) || second.summary["accounts_swept"] != float64(3) || len(second.accounts) != 4 || second.records == 0 {
		t.Fatalf("second run: summary %v, %d account summaries", second.summary, len(second.accounts))
	}
	// With the default of 8 accounts at once all four start together, so
	// only the set is checked; the order is the hub package's test.
	got := map[string]bool{}
	for _, a := range second.accounts {
		got[a["account"].(string)] = true
	}
	for _, a := range left {
		if !got[a.(string)] {
			t.Errorf("account %v left by the first run was not swept by the second", a)
		}
	}
	if l, _ := second.summary["left_accounts"].([]any); len(l) != 1 || l[0] != sandbox.Undeployed {
		t.Errorf("second run left %v, want only %s (it cannot be assumed)", l, sandbox.Undeployed)
	}
}

// With prevention enforce, a sweep whose perimeter policies drifted logs
// the drift as an ERROR decision record (which the stack's ErrorRecords
// filter counts and alarms on) and names it in the summary; the
// invocation itself succeeds, since retrying cannot undo the drift.
func TestHubSweepReportsPerimeterDrift(t *testing.T) {
	ctx := context.Background()
	srv, dep := sandbox.StartOrg(t, config.Enforce)
	cfg := dep.Config
	cfg.Prevention, cfg.PreventionTargets = config.PreventionEnforce, []string{srv.AddOrganizationalUnit("Workloads")}
	mgmt := organizations.NewFromConfig(srv.Config())
	d, err := mgmt.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := hub.PerimeterDocuments(cfg, aws.ToString(d.Organization.Id))
	if err != nil {
		t.Fatal(err)
	}
	// Only the RCP is deployed: the SCPs are missing.
	rcp := docs[0]
	out, err := mgmt.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(rcp.Name), Type: orgtypes.PolicyType(rcp.Type),
		Content: aws.String(string(rcp.Content)), Description: aws.String("guardrail")})
	if err == nil {
		_, err = mgmt.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: out.Policy.PolicySummary.Id, TargetId: aws.String(cfg.PreventionTargets[0])})
	}
	if err != nil {
		t.Fatal(err)
	}
	hubCfg, err := dep.HubConfig(sandbox.SweeperRole)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(cfg, member.NewOrganization(organizations.NewFromConfig(hubCfg), sandbox.Members),
		member.NewClients(hubCfg, cfg.MemberRoleARN), guardrail.WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	buf := &bytes.Buffer{}
	if err := newHubHandler(h, cfg, buf, "test").Handle(ctx, schedule); err != nil {
		t.Fatalf("Handle = %v, want success: drift is reported, not retried", err)
	}
	var drift []map[string]any
	var summary map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		findings, _ := m["findings"].([]any)
		switch {
		case m["msg"] == SummaryMessage:
			summary = m
		case m["msg"] == decision.Message && len(findings) == 1 && findings[0].(map[string]any)["control"] == hub.ControlPerimeter:
			drift = append(drift, m)
		}
	}
	if len(drift) != len(docs)-1 || len(docs) < 2 {
		t.Fatalf("%d drift records for %d documents, one deployed: %v", len(drift), len(docs), drift)
	}
	for i, rec := range drift {
		if rec["level"] != "ERROR" || rec["outcome"] != "error" || rec["version"] != "test" || rec["account"] != srv.Account() ||
			!strings.Contains(rec["error"].(string), docs[i+1].Name+" is missing") {
			t.Errorf("drift record %v", rec)
		}
	}
	if summary["perimeter"] != hub.PerimeterDrift || summary["perimeter_drifts"] != float64(len(drift)) || summary["level"] != "INFO" {
		t.Errorf("summary %v", summary)
	}
}
