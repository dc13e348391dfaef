package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/guardrail"
	"github.com/iamguardrail/guardrail/pkg/hub"
	"github.com/iamguardrail/guardrail/pkg/member"
	"github.com/iamguardrail/guardrail/pkg/publish"
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

// In hub mode Security Hub findings are imported by the account each one
// names, with that account's member role (issue 18, item 5): the hub
// sweeper's publisher, built by publish.FromEnv from the hub's product
// ARN, assumes each member's role and imports under the member's own
// product ARN, which the local Security Hub only accepts from that
// account.
func TestHubSweepImportsFindingsAsEachMember(t *testing.T) {
	ctx := context.Background()
	srv, dep := sandbox.StartOrg(t, config.Check)
	for _, m := range sandbox.Members {
		admin, err := dep.Admin(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": srv.URL, "AWS_ENDPOINT_URL_SECURITYHUB": srv.URL,
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	hubCfg, err := dep.HubConfig(sandbox.SweeperRole)
	if err != nil {
		t.Fatal(err)
	}
	hubProduct := "arn:aws:securityhub:us-east-1:" + sandbox.Account + ":product/" + sandbox.Account + "/default"
	env := map[string]string{publish.EnvSecurityHubProductARN: hubProduct}
	for k, v := range dep.Env {
		env[k] = v
	}
	pub, err := publish.FromEnv(ctx, func(k string) string { return env[k] }, awsconfig.WithCredentialsProvider(hubCfg.Credentials))
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(dep.Config, member.NewOrganization(organizations.NewFromConfig(hubCfg), sandbox.Members),
		member.NewClients(hubCfg, dep.Config.MemberRoleARN), guardrail.WithVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	buf := &bytes.Buffer{}
	if err := startHub(h, dep.Config, decision.NewWriter(buf, dep.Config.MetricsNamespace, decision.WithPublisher(pub)), "test").Handle(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), decision.PublishMessage) {
		t.Errorf("publishing failed:\n%s", buf)
	}
	imported := map[string]int{}
	for _, f := range srv.ImportedFindings() {
		role, _ := f.Finding["Resources"].([]any)[0].(map[string]any)["Id"].(string)
		want := "arn:aws:sts::" + f.AwsAccountID + ":assumed-role/" + sandbox.MemberRole + "/"
		if f.Caller != f.AwsAccountID || !strings.HasPrefix(f.CallerARN, want) || role != "arn:aws:iam::"+f.Caller+":role/app" ||
			f.ProductARN != "arn:aws:securityhub:us-east-1:"+f.Caller+":product/"+f.Caller+"/default" {
			t.Errorf("finding %s of %s (%s) imported by %s", f.ID, f.AwsAccountID, role, f.CallerARN)
		}
		imported[f.Caller]++
	}
	for _, m := range sandbox.Members {
		// One finding per control of the member's service role.
		if imported[m] != 2 {
			t.Errorf("member %s imported %d findings, want 2 (trust and lockdown of its role app)", m, imported[m])
		}
	}
	if len(imported) != len(sandbox.Members) {
		t.Errorf("findings imported by %v, want exactly the members", imported)
	}
}
