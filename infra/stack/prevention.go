package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsorganizations"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// PreventionDir is the directory of the cloud assembly (cdk.out) that
// prevention=check renders the organization policies into, one file per
// document named after the policy (perimeter.PolicyName).
const PreventionDir = "perimeter"

// preventionPartition is the partition of the organization policies: the
// hub deploys to RequiredRegion (us-east-1), which is in the aws partition.
const preventionPartition = "aws"

// PreventionDocuments returns the organization policies of issue 18 for an
// organization deployment: the RCP of the members' trust zone and the
// lockdown SCPs of the members' lockdown, from the same settings as the
// hub's functions and the member template (memberExemptions,
// memberBuckets; no alarm key, which the member accounts do not have). The
// zone's account is the hub's; its organizations are the
// organization.trustedOrgIds override or the organization itself, as the
// functions read them.
func PreventionDocuments(s settings.Settings, qualifier string) ([]perimeter.Document, error) {
	org := s.Organization
	if org == nil {
		return nil, ErrNoOrganization
	}
	orgs := org.TrustedOrgIDs
	if len(orgs) == 0 {
		orgs = []string{org.ID}
	}
	z := trust.Zone{Account: org.HubAccount, Partition: preventionPartition, TrustedAccounts: s.TrustedAccounts, TrustedOrgIDs: orgs,
		TrustedAudiences: s.TrustedAudiences, TrustedOIDCTenants: s.TrustedOIDCTenants}
	l := lockdown.Config{Partition: preventionPartition, Account: org.HubAccount, NamePrefix: NamePrefix,
		ExtraDeniedActions: s.ExtraDeniedActions, ExemptRoles: memberExemptions(s, qualifier),
		ProtectedBuckets: memberBuckets(s, qualifier), AllowedTokenAudiences: s.AllowedTokenAudiences}
	docs, err := perimeter.Render(z, l, perimeter.SCPOptions{ProtectedRoleARNs: hubRoleARNs(preventionPartition, org.HubAccount)})
	if err != nil {
		return nil, fmt.Errorf("prevention: %w", err)
	}
	return docs, nil
}

// addPrevention adds the organization policies to the hub stack as the
// prevention setting says: off, nothing; check, the documents written into
// the cloud assembly (cdk.out/perimeter/) for the README's review steps and
// nothing deployed; enforce, one AWS::Organizations::Policy per document,
// of type RESOURCE_CONTROL_POLICY or SERVICE_CONTROL_POLICY, attached to
// the organization's targets (organization.memberOUs, or the root for
// "all").
//
// Content is the document as a JSON object, as CloudFormation recommends
// for its drift detection (AWS CloudFormation User Guide,
// AWS::Organizations::Policy, Content: "When you specify the policy
// content as a JSON string, you can't perform drift detection"), and as the
// CDK's CfnPolicy requires (it refuses a string: "should be an 'object'").
// Organizations enforces 5,120 characters for both types (same page:
// "Service control policies: 5,120 characters / Resource control policies:
// 5,120 characters"); the documents are measured minified, as an object
// serializes without insignificant white space (RFC 8259 §2 makes all of it
// optional). perimeter.Compare reports drift of the deployed content as
// JSON values, whatever its formatting.
//
// Creating and attaching these policies from the hub account needs the
// management account's delegation of Organizations policy management to the
// hub ("From the organization's management account, you can delegate policy
// management for Organizations to specified member accounts", AWS
// Organizations User Guide, "Delegated administrator for AWS
// Organizations"), or a deployment from the management account.
func addPrevention(stack awscdk.Stack, s settings.Settings, qualifier string) error {
	if s.Prevention == settings.PreventionOff || s.Prevention == "" {
		return nil
	}
	docs, err := PreventionDocuments(s, qualifier)
	if err != nil {
		return err
	}
	switch s.Prevention {
	case settings.PreventionCheck:
		dir := filepath.Join(*awscdk.Stage_Of(stack).Outdir(), PreventionDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("prevention: create %s: %w", dir, err)
		}
		for _, d := range docs {
			p := filepath.Join(dir, d.Name+".json")
			if err := os.WriteFile(p, d.Content, 0o644); err != nil {
				return fmt.Errorf("prevention: write %s: %w", p, err)
			}
		}
	case settings.PreventionEnforce:
		targets := make([]*string, len(s.Organization.Targets))
		for i, t := range s.Organization.Targets {
			targets[i] = jsii.String(t)
		}
		for _, d := range docs {
			what := "lockdown as a service control policy: the guardrail's denies for every principal of the member accounts but the exempt and protected roles"
			if d.Type == perimeter.TypeRCP {
				what = "trust zone as a resource control policy: sts:AssumeRole* on the member accounts' roles refused to callers outside the zone"
			}
			var content map[string]any
			if err := json.Unmarshal(d.Content, &content); err != nil {
				return fmt.Errorf("prevention: %s: %w", d.Name, err)
			}
			awsorganizations.NewCfnPolicy(stack, jsii.String(d.Name), &awsorganizations.CfnPolicyProps{
				Name:        jsii.String(d.Name),
				Type:        jsii.String(d.Type),
				Content:     content,
				Description: jsii.String("IAM role guardrail, the " + what + " (README, Prevention)"),
				TargetIds:   &targets,
			})
		}
	default:
		return fmt.Errorf("prevention: unknown mode %q", s.Prevention)
	}
	return nil
}
