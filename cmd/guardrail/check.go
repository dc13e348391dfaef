package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/policy"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// checkResult is one output line of `guardrail check`.
type checkResult struct {
	File              string            `json:"file"`
	EventName         string            `json:"event_name,omitempty"`
	RoleName          string            `json:"role_name,omitempty"`
	Changed           bool              `json:"changed"`
	Findings          []trust.Finding   `json:"findings"`
	Principals        []trust.Principal `json:"principals"`
	TrustPolicyBefore json.RawMessage   `json:"trust_policy_before"`
	TrustPolicyAfter  json.RawMessage   `json:"trust_policy_after"`
}

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guardrail check --account ID [--trusted-accounts ID,…] [--trusted-orgs o-…,…] [--trusted-audiences APP-ID,…] [--trusted-oidc-tenants KIND:ID,…] [--partition aws] FILE...")
		fmt.Fprintln(stderr, "\nEach FILE is a trust policy (plain or URL-encoded JSON), or a CloudTrail record or")
		fmt.Fprintln(stderr, "EventBridge event that carries one. Prints one JSON line per file; writes nothing.")
		fs.PrintDefaults()
	}
	var z trust.Zone
	var accounts, orgs, audiences, tenants string
	fs.StringVar(&z.Account, "account", "", "the role's own account ID (required)")
	fs.StringVar(&accounts, "trusted-accounts", "", "comma-separated trusted account IDs")
	fs.StringVar(&orgs, "trusted-orgs", "", "comma-separated trusted organization IDs")
	fs.StringVar(&audiences, "trusted-audiences", "", "comma-separated application IDs of public identity providers (Cognito identity pools, Google, Facebook, Login with Amazon) to keep, as GUARDRAIL_TRUSTED_AUDIENCES")
	fs.StringVar(&tenants, "trusted-oidc-tenants", "", "comma-separated owners of shared OIDC issuers to keep (github:acme-corp,github-id:123456,gitlab:acme-group,…), as GUARDRAIL_TRUSTED_OIDC_TENANTS; unset keeps any owner a statement names, flagged as unchecked")
	fs.StringVar(&z.Partition, "partition", "aws", "the role's partition")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	z.TrustedAccounts, z.TrustedOrgIDs, z.TrustedAudiences = splitList(accounts), splitList(orgs), splitList(audiences)
	z.TrustedOIDCTenants = splitList(tenants)
	if z.Account == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if err := z.Validate(); err != nil {
		fmt.Fprintf(stderr, "guardrail check: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	status := 0
	for _, file := range fs.Args() {
		res, err := checkFile(file, z)
		if err != nil {
			fmt.Fprintf(stderr, "guardrail check: %s: %v\n", file, err)
			status = 2
			continue
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "guardrail check: write result: %v\n", err)
			return 2
		}
	}
	return status
}

func checkFile(file string, z trust.Zone) (checkResult, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return checkResult{}, err
	}
	res := checkResult{File: file}
	doc, err := readTrustInput(data, &res)
	if err != nil {
		return checkResult{}, err
	}
	r, err := trust.Restrict(doc, z)
	if err != nil {
		return checkResult{}, err
	}
	res.Changed = r.Changed
	res.Findings = nonNil(r.Findings)
	res.Principals = nonNil(r.Principals)
	res.TrustPolicyBefore = json.RawMessage(doc.String())
	res.TrustPolicyAfter = json.RawMessage(r.Policy.String())
	return res, nil
}

// readTrustInput finds the trust policy in a file: a policy document itself,
// or a CloudTrail record (bare or inside an EventBridge envelope) whose
// request carries one.
func readTrustInput(data []byte, res *checkResult) (*policy.Document, error) {
	var probe struct {
		Statement json.RawMessage `json:"Statement"`
	}
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "%") {
		return policy.Parse(data) // a URL-encoded policy, as IAM returns it
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if probe.Statement != nil {
		return policy.Parse(data)
	}
	rec, err := cloudtrail.TrustDocument(data)
	if err != nil {
		return nil, fmt.Errorf("not a policy or a CloudTrail record: %w", err)
	}
	res.EventName, res.RoleName = rec.EventName, rec.RoleName
	if rec.TrustPolicy == "" {
		return nil, fmt.Errorf("no trust policy: neither a policy document nor a CloudTrail record with requestParameters.assumeRolePolicyDocument (event %q)", rec.EventName)
	}
	return policy.Parse([]byte(rec.TrustPolicy))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
