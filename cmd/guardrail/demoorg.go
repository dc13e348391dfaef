package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
)

// runDemoOrg shows organization mode (DESIGN.md §11) on a laptop: one local
// endpoint playing an organization (the management account hosting the
// hub, three member accounts with the member stack, one account without
// it), the hub's enforcer and sweeper bootstraps under the Runtime
// Interface Emulator with the hub roles' credentials. In each member an
// owner adds a foreign principal to a role and the event is delivered; then
// the hub's own event, an event from the account without the member stack
// and one from outside the organization; then one sweep of every member.
// It prints a per-account table and writes the records to
// <out>/decisions.jsonl. `make demo-org` builds the bootstraps and runs it.
func runDemoOrg(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runDemoCommand(ctx, newFlags("demo-org", stderr), args, ".demo-org", stdout, stderr, func(d *demo, enforcer, sweeper string) error {
		return d.runOrg(ctx, enforcer, sweeper)
	})
}

const (
	demoForeign = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`
	demoEC2     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	demoVendor  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::754728514883:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"a1b2c3"}}}]}`
)

func (d *demo) runOrg(ctx context.Context, enforcerBin, sweeperBin string) error {
	start := time.Now()
	jsonl, err := d.openRecords()
	if err != nil {
		return err
	}
	defer jsonl.Close()

	srv := iamtest.NewServer(iamtest.WithAccounts(sandbox.OrgAccounts()...))
	defer srv.Close()
	dep, err := sandbox.DeployOrg(ctx, srv, config.Enforce)
	if err != nil {
		return err
	}
	admins := map[string]*iam.Client{}
	for _, m := range sandbox.Members {
		c, err := dep.Admin(ctx, m)
		if err != nil {
			return err
		}
		admins[m] = c
		// Each member holds an application role and, in one account, a
		// vendor role that existed before the hub: only the sweep finds it.
		roles := map[string]string{"app": demoEC2}
		if m == sandbox.Members[2] {
			roles["vendor-monitoring"] = demoVendor
		}
		for name, trust := range roles {
			if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
				return fmt.Errorf("create %s in %s: %w", name, m, err)
			}
		}
	}
	fmt.Fprintf(d.stdout, "Local organization on %s: management account %s hosts the hub; members %v; %s has no member stack\n",
		srv.URL, sandbox.Account, sandbox.Members, sandbox.Undeployed)
	fmt.Fprintf(d.stdout, "Member role %s trusts only %s and %s\n\n", sandbox.MemberRole, sandbox.HubRoleARN(sandbox.EnforcerRole), sandbox.HubRoleARN(sandbox.SweeperRole))

	env, err := dep.Environ(sandbox.EnforcerRole)
	if err != nil {
		return err
	}
	enf, err := d.startEnv(ctx, "enforcer", enforcerBin, env)
	if err != nil {
		return err
	}
	defer enf.Close()
	fmt.Fprintf(d.stdout, "Enforcer (hub): each member's owner adds a foreign principal to role app; the event goes to the hub (%s)\n", enf.URL)
	tw := tabwriter.NewWriter(d.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tEVENT\tROLE\tCLASS\tOUTCOME\tREMOVED / REASON\tLOCKDOWN\tMS")
	deliver := func(label string, ev events.CloudWatchEvent) error {
		rec, err := d.invoke(ctx, enf, now(ev), func(m map[string]any) bool { return m["msg"] == "decision" })
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		// The full reasons are in the records; the table shows their start.
		if e := str(rec["function_error"]); e != "" {
			rec["function_error"] = shorten(e, 90)
		}
		if r := str(rec["reason"]); r != "" {
			rec["reason"] = shorten(r, 90)
		}
		fmt.Fprintf(tw, "%s\t", ev.AccountID)
		row(tw, label, rec)
		return nil
	}
	n := 0
	id := func() string { n++; return fmt.Sprintf("demo-org-%02d", n) }
	for _, m := range sandbox.Members {
		if _, err := admins[m].UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app"), PolicyDocument: aws.String(demoForeign)}); err != nil {
			return err
		}
		if err := deliver("UpdateAssumeRolePolicy", sandbox.OrgEvent(id(), m, "UpdateAssumeRolePolicy", "app", demoForeign, "arn:aws:iam::"+m+":role/"+sandbox.OrganizationAccessRole)); err != nil {
			return err
		}
	}
	b := sandbox.Members[1]
	out, err := admins[b].GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	if err != nil {
		return err
	}
	current, _ := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err := deliver("(hub's own write)", sandbox.OrgEvent(id(), b, "UpdateAssumeRolePolicy", "app", current, dep.Config.MemberRoleARN(b))); err != nil {
		return err
	}
	if err := deliver("(no member stack)", sandbox.OrgEvent(id(), sandbox.Undeployed, "UpdateAssumeRolePolicy", "app", demoForeign, "")); err != nil {
		return err
	}
	if err := deliver("(outside the org)", sandbox.OrgEvent(id(), "777766665555", "UpdateAssumeRolePolicy", "app", demoForeign, "")); err != nil {
		return err
	}
	tw.Flush()
	enf.Close()

	if env, err = dep.Environ(sandbox.SweeperRole); err != nil {
		return err
	}
	swp, err := d.startEnv(ctx, "sweeper", sweeperBin, env)
	if err != nil {
		return err
	}
	defer swp.Close()
	fmt.Fprintf(d.stdout, "\nSweeper (hub): one scheduled run over every member account (%s)\n", swp.URL)
	first := d.records.count()
	schedule := events.CloudWatchEvent{Version: "0", ID: "demo-org-sweep", DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: sandbox.Account, Time: time.Now().UTC(), Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:" + sandbox.Account + ":rule/" + sandbox.NamePrefix + "-Sweep"}, Detail: json.RawMessage(`{}`)}
	sum, err := d.invoke(ctx, swp, schedule, func(m map[string]any) bool { return m["msg"] == "sweep summary" })
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(d.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tOUTCOME\tROLES\tCHANGED\tCOMPLIANT\tSKIPPED\tERRORS\tIAM CALLS\tLOCKDOWN POLICY\tERROR")
	for _, rec := range d.records.since(first) {
		if rec["msg"] == "sweep account summary" {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%v\t%v\t%v\t%v\t%s\t%s\n", str(rec["account"]), str(rec["outcome"]), rec["listed"], rec["changed"],
				rec["compliant"], rec["skipped"], rec["errors"], rec["api_calls"], dash(rec["lockdown_policy"]), shorten(dash(rec["error"]), 80))
		}
	}
	tw.Flush()
	fmt.Fprintf(d.stdout, "Run: %v accounts, %v swept, %v failed, %v left; %v roles, %v changed; skipped: %v\n",
		sum["accounts_listed"], sum["accounts_swept"], sum["accounts_failed"], sum["accounts_left"], sum["listed"], sum["changed"], sum["skipped_accounts"])
	if fe, ok := sum["function_error"].(string); ok {
		fmt.Fprintf(d.stdout, "The sweeper returned an error, as it should with an account it cannot sweep (Lambda retries, the alarm fires):\n  %s\n", fe)
	}

	fmt.Fprintf(d.stdout, "\nFull JSON records: %s (decisions, one summary per account, one per run)\n", jsonl.Name())
	fmt.Fprintf(d.stdout, "Function logs: %s, %s\n", filepath.Join(d.out, "enforcer.log"), filepath.Join(d.out, "sweeper.log"))
	fmt.Fprintf(d.stdout, "Demo finished in %v\n", time.Since(start).Round(10*time.Millisecond))
	return nil
}

// shorten cuts s to n bytes with an ellipsis, for a table cell.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
