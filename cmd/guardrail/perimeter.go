package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// perimeterOutput is what `guardrail perimeter` prints: both documents as
// AWS Organizations would store them, and their sizes against the limit.
type perimeterOutput struct {
	ResourceControlPolicies []json.RawMessage `json:"resource_control_policies"`
	ServiceControlPolicies  []json.RawMessage `json:"service_control_policies"`
	Sizes                   perimeterSizes    `json:"sizes"`
}

type perimeterSizes struct {
	ResourceControlPolicies []int `json:"resource_control_policies"`
	ServiceControlPolicies  []int `json:"service_control_policies"`
	Limit                   int   `json:"limit"`
}

func runPerimeter(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("perimeter", stderr,
		"usage: guardrail perimeter --account ID --trusted-orgs o-…[,…] [--trusted-accounts ID,…] [--trusted-audiences APP-ID,…] [--trusted-oidc-tenants KIND:ID,…]",
		"         [--exempt-roles GLOB,…] [--protected-role-arns ARN,…] [--name-prefix P] [--policy-name N] [--extra-denied-actions A,…]",
		"         [--protected-buckets B,…] [--allowed-token-audiences AUD,…] [--control-tower] [--partition aws] [--out DIR]",
		"\nPrints, for review, the resource control policies (the trust zone as RCPs) and the",
		"service control policies (the lockdown as SCPs) that organization mode deploys with",
		"prevention=check or enforce, built from the same settings as the functions. Writes",
		"nothing to AWS; --out DIR also writes rcp-N.json and scp-N.json there.")
	var z trust.Zone
	var accounts, orgs, audiences, tenants, exempt, protected, extras, buckets, tokenAudiences, out string
	var l lockdown.Config
	var ct bool
	fs.StringVar(&z.Account, "account", "", "the account the guardrail runs in (the hub); required")
	fs.StringVar(&orgs, "trusted-orgs", "", "comma-separated trusted organization IDs; the organization the policies are attached in must be one (required)")
	fs.StringVar(&accounts, "trusted-accounts", "", "comma-separated trusted account IDs, as GUARDRAIL_TRUSTED_ACCOUNTS")
	fs.StringVar(&audiences, "trusted-audiences", "", "comma-separated application IDs of public identity providers, as GUARDRAIL_TRUSTED_AUDIENCES")
	fs.StringVar(&tenants, "trusted-oidc-tenants", "", "comma-separated owners of shared OIDC issuers (github:acme-corp,…), as GUARDRAIL_TRUSTED_OIDC_TENANTS")
	fs.StringVar(&exempt, "exempt-roles", "", "comma-separated exemption globs, as GUARDRAIL_EXEMPT_ROLES")
	fs.StringVar(&protected, "protected-role-arns", "", "comma-separated role ARNs or patterns of the guardrail's own roles, as GUARDRAIL_PROTECTED_ROLE_ARNS")
	fs.StringVar(&l.NamePrefix, "name-prefix", lockdown.DefaultNamePrefix, "name prefix of the guardrail's resources")
	fs.StringVar(&l.PolicyName, "policy-name", lockdown.PolicyName, "name of the lockdown managed policy")
	fs.StringVar(&extras, "extra-denied-actions", "", "comma-separated operator-added lockdown actions, as GUARDRAIL_LOCKDOWN_EXTRA_ACTIONS")
	fs.StringVar(&buckets, "protected-buckets", "", "comma-separated buckets the lockdown protects, as GUARDRAIL_LOCKDOWN_PROTECTED_BUCKETS")
	fs.StringVar(&tokenAudiences, "allowed-token-audiences", "", "comma-separated outbound identity token audiences, as GUARDRAIL_ALLOWED_TOKEN_AUDIENCES")
	fs.BoolVar(&ct, "control-tower", false, "exempt AWSControlTowerExecution from the lockdown SCPs (an organization AWS Control Tower manages)")
	fs.StringVar(&z.Partition, "partition", "aws", "the partition")
	fs.StringVar(&out, "out", "", "also write the documents into this directory")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if z.Account == "" || orgs == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	z.TrustedAccounts, z.TrustedOrgIDs, z.TrustedAudiences = splitList(accounts), splitList(orgs), splitList(audiences)
	z.TrustedOIDCTenants = splitList(tenants)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "guardrail perimeter: %v\n", err)
		return 2
	}
	l.Partition = z.Partition
	l.ExemptRoles = splitList(exempt)
	l.ExtraDeniedActions = splitList(extras)
	l.ProtectedBuckets = splitList(buckets)
	l.AllowedTokenAudiences = splitList(tokenAudiences)
	for _, g := range l.ExemptRoles {
		if err := config.ValidateGlob(g); err != nil {
			return fail(fmt.Errorf("--exempt-roles: %w", err))
		}
	}
	opts := perimeter.SCPOptions{ProtectedRoleARNs: splitList(protected), ControlTower: ct}
	for _, a := range opts.ProtectedRoleARNs {
		if err := config.ValidateRoleARNPattern(a); err != nil {
			return fail(fmt.Errorf("--protected-role-arns: %w", err))
		}
	}

	rcps, err := perimeter.RCPs(z, l.ExemptRoles)
	if err != nil {
		return fail(err)
	}
	scps, err := perimeter.SCPs(l, opts)
	if err != nil {
		return fail(err)
	}
	res := perimeterOutput{Sizes: perimeterSizes{Limit: perimeter.MaxSize}}
	for _, d := range rcps {
		res.ResourceControlPolicies = append(res.ResourceControlPolicies, d)
		res.Sizes.ResourceControlPolicies = append(res.Sizes.ResourceControlPolicies, len(d))
	}
	for _, d := range scps {
		res.ServiceControlPolicies = append(res.ServiceControlPolicies, d)
		res.Sizes.ServiceControlPolicies = append(res.Sizes.ServiceControlPolicies, len(d))
	}
	if out != "" {
		if err := writePerimeter(out, rcps, scps); err != nil {
			return fail(err)
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		return fail(fmt.Errorf("write result: %w", err))
	}
	return 0
}

// writePerimeter writes the documents, byte for byte as they would be
// stored, into dir.
func writePerimeter(dir string, rcps, scps [][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	files := map[string][]byte{}
	for i, d := range rcps {
		files[fmt.Sprintf("rcp-%d.json", i+1)] = d
	}
	for i, d := range scps {
		files[fmt.Sprintf("scp-%d.json", i+1)] = d
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
