package stack

import (
	"errors"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// Organization mode (DESIGN.md §11): names shared by the hub, the members'
// StackSet and their tests. Every physical name starts with NamePrefix and
// '-', so the lockdown deployed in each member account protects it.
const (
	// HubStackID and MembersStackID are the stacks' CDK IDs, which
	// `cdk deploy` selects and cdk.out names the templates after.
	HubStackID     = "IamRoleGuardrailHub"
	MembersStackID = "IamRoleGuardrailMembers"
	// HubStackName and MembersStackName are their CloudFormation names:
	// with the '-' the lockdown's ProtectGuardrailStack statement covers
	// them (it protects NamePrefix and NamePrefix-*).
	HubStackName     = NamePrefix + "-Hub"
	MembersStackName = NamePrefix + "-Members"
	// HubPrefix starts the name of every hub resource (functions, roles,
	// queues, alarms, rules) and is the hub event bus's name.
	HubPrefix = NamePrefix + "-Hub"
	// HubBusName is the hub's event bus, which every member's rule targets.
	HubBusName = HubPrefix
	// HubEnforcerName and HubSweeperName name the hub's functions and their
	// roles, the only principals the member role trusts.
	HubEnforcerName = HubPrefix + "-Enforcer"
	HubSweeperName  = HubPrefix + "-Sweeper"
	// MemberRoleName is the role the hub assumes in each member account
	// (the engine's default, GUARDRAIL_MEMBER_ROLE_NAME).
	MemberRoleName = config.DefaultMemberRoleName
)

// ErrNoOrganization is returned by NewHub and NewMembers when the settings
// have no organization.
var ErrNoOrganization = errors.New("organization mode needs the \"organization\" context (see README, Organization)")

// orgBuilder returns the builder of an organization stack: prefix names its
// resources; the exemptions and the bootstrap qualifier are those of the
// member accounts, which every organization stack shares (memberExemptions).
func orgBuilder(stack awscdk.Stack, s settings.Settings, prefix, qualifier string) *builder {
	b := newBuilder(stack, s, prefix)
	b.qualifier = qualifier
	b.exempt = memberExemptions(s, qualifier)
	return b
}

// memberExemptions are the exemptions in every member account: the
// forwarder role, then the CDK bootstrap roles of the hub account, by exact
// name, then the operator's.
//
// The forwarder is the member template's one role besides the member role,
// which the engine protects itself (config.Config.Member): a service role
// by its trust (events.amazonaws.com) that the member role's own deny keeps
// it from changing, so without the exemption every sweep would record a
// refused write on it. The bootstrap roles deploy the hub, and the hub
// account is usually a member too; their names hold the hub's account ID,
// so in any other account they name no existing role (and the lockdown
// forbids service roles to create one).
func memberExemptions(s settings.Settings, qualifier string) []string {
	out := append([]string{ForwarderRoleName}, settings.BootstrapRoleNames(qualifier, s.Organization.HubAccount, RequiredRegion)...)
	return append(out, s.ExemptRoles...)
}

// memberBuckets are the buckets the lockdown protects in every member
// account: the hub account's CDK assets bucket (the hub functions' code),
// then the operator's.
func memberBuckets(s settings.Settings, qualifier string) []string {
	return append([]string{settings.AssetsBucketName(qualifier, s.Organization.HubAccount, RequiredRegion)}, s.ProtectedBuckets...)
}

// hubRoleARNs are the exact ARNs of the hub's function roles in partition.
func hubRoleARNs(partition, hubAccount string) []string {
	return []string{
		"arn:" + partition + ":iam::" + hubAccount + ":role/" + HubEnforcerName,
		"arn:" + partition + ":iam::" + hubAccount + ":role/" + HubSweeperName,
	}
}

// qualifierOf returns the CDK bootstrap qualifier in scope's context.
func qualifierOf(scope constructs.Construct) string {
	if q, ok := scope.Node().TryGetContext(jsii.String(settings.BootstrapQualifierKey)).(string); ok && q != "" {
		return q
	}
	return settings.DefaultBootstrapQualifier
}

// NewHub adds the organization hub (IamRoleGuardrailHub) to scope: an event
// bus that accepts events from the organization's accounts only, the IAM
// event rule on it, the enforcer and sweeper (the same code as the
// single-account stack) in hub mode with permission to assume the member
// role in the organization's accounts and nothing else in IAM, and the same
// queues, alarms, saved queries, dashboard and decision notifications
// (with securityHub, each member's findings imported as that member, since
// only an account can import findings for itself). It deploys to the hub
// account in RequiredRegion; p.Account and p.StackName are not used
// (HubStackName).
func NewHub(scope constructs.Construct, p Props) (awscdk.Stack, error) {
	s := p.Settings
	org := s.Organization
	if org == nil {
		return nil, ErrNoOrganization
	}
	if p.Region != RequiredRegion {
		return nil, &RegionError{Region: p.Region}
	}
	zips, err := functionPackages(s.DistDir)
	if err != nil {
		return nil, err
	}
	stack := awscdk.NewStack(scope, jsii.String(HubStackID), &awscdk.StackProps{
		StackName:   jsii.String(HubStackName),
		Env:         &awscdk.Environment{Region: jsii.String(RequiredRegion), Account: jsii.String(org.HubAccount)},
		Description: jsii.String("IAM service-role guardrail, organization hub: evaluates the IAM events of every member account through its member role (see README, Organization)"),
	})
	b := orgBuilder(stack, s, HubPrefix, qualifierOf(stack))
	topic, key := b.alarmTopic()

	bus := awsevents.NewEventBus(stack, jsii.String("HubBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(HubBusName),
		Description:  jsii.String("IAM events forwarded by the guardrail's rule in every member account"),
	})
	// Only the organization's accounts may put events on the bus: Principal
	// "*" with aws:PrincipalOrgID is EventBridge's documented way to grant
	// a whole organization (EventBridge API reference, PutPermission:
	// "specifying Principal as "*" and specifying the AWS organization ID in
	// Condition"; https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html).
	// Members put events through their forwarding role, which an
	// organization grant requires (same page: "accounts in that
	// organization must specify a RoleArn").
	bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OrganizationPutEvents"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewStarPrincipal()},
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  &[]*string{bus.EventBusArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": org.ID}},
	}))

	lockdownARN := b.iamARN("policy/" + lockdown.PolicyName)
	rt := b.runtime(zips, runtimeSpec{
		statements: func(sweep bool) []awsiam.PolicyStatement {
			return hubStatements(b.partition, org.ID, sweep, s.Prevention == settings.PreventionEnforce)
		},
		enforcerDescription: "Evaluates the role named by each IAM event of a member account, through its member role, and enforces the guardrail",
		sweeperDescription:  "Evaluates every role of every member account on a schedule, through their member roles, and enforces the guardrail",
		// The hub's roles get no BatchImportFindings: an account imports
		// findings under its default product only for itself
		// (BatchImportFindings: "the identifier of the account that you
		// are calling BatchImportFindings from needs to be the same as
		// the AwsAccountId attribute for the finding", Security Hub API
		// reference), and the hub's records are the members'. With
		// securityHub the functions import each member's findings as that
		// member, through its member role (publish.MemberFindings), which
		// the member template allows to import its own (member.go).
		securityHub: false,
		env: func(awsiam.Role, awsiam.Role) map[string]*string {
			// The lockdown inputs are the member template's (member.go):
			// no alarm key (the hub's is not in the member accounts), the
			// members' buckets and exemptions. The policy ARN names the
			// hub account; the engine substitutes the member account.
			env := b.lockdownEnv(jsii.String(lockdownARN), jsii.String(""), memberBuckets(s, b.qualifier))
			for k, v := range org.Env(MemberRoleName) {
				env[k] = jsii.String(v)
			}
			// Exactly the hub's two roles, by the ARNs the member role
			// trusts (hubRoleARNs; the stack is pinned to the hub
			// account): the engine accepts these, and only these, in the
			// member role's trust (config.Config.HubRoleARNs), and adds
			// each member's own member role itself.
			env[config.EnvProtectedRoleARNs] = jsii.String(strings.Join(hubRoleARNs(b.partition, org.HubAccount), ","))
			// The prevention mode and the targets the policies are
			// attached to (addPrevention): with enforce, the sweeper
			// renders the same documents from this environment and
			// reports drift (pkg/hub checkPerimeter).
			for k, v := range preventionEnv(s) {
				env[k] = jsii.String(v)
			}
			if s.SecurityHub {
				// The hub's own product ARN; each member's account
				// replaces its account (publish.NewMemberFindings).
				env[publish.EnvSecurityHubProductARN] = jsii.String(productARN(b.partition, org.HubAccount))
			}
			return env
		},
	})

	rule := awsevents.NewRule(stack, jsii.String("RoleChangeRule"), &awsevents.RuleProps{
		EventBus:     bus,
		RuleName:     jsii.String(b.name("RoleChanges")),
		Description:  jsii.String("IAM role changes and lockdown policy versions forwarded by the member accounts, except the guardrail's own, to the enforcer"),
		EventPattern: rolePattern(HubEventPatternDetail()),
	})
	rule.AddTarget(ruleTarget(rt.enforcer, rt.deliveryDLQ))
	b.monitor(topic, key, rt)
	b.outputs(topic, rt)
	awscdk.NewCfnOutput(stack, jsii.String("HubEventBusArn"), &awscdk.CfnOutputProps{Value: bus.EventBusArn(), Description: jsii.String("The bus every member account forwards its IAM events to")})

	if err := addPrevention(stack, s, b.qualifier); err != nil {
		return nil, err
	}

	for _, id := range []string{"EnforcerRole", "SweeperRole"} {
		sup := []*cdknag.NagPackSuppression{
			suppression("AwsSolutions-IAM5",
				"The member role has the same name in every account and the hub serves accounts created later: the account is a wildcard, "+
					"and aws:ResourceOrgID limits the assumption to the organization's accounts",
				"Resource::arn:<AWS::Partition>:iam::*:role/"+MemberRoleName),
			suppression("AwsSolutions-IAM5",
				"organizations:DescribeOrganization and ListAccounts support no resource-level permissions (Service Authorization Reference), "+
					"DescribeAccount must answer AccountNotFound for an account outside the organization; all are read-only",
				"Resource::*"),
		}
		if id == "SweeperRole" && s.Prevention == settings.PreventionEnforce {
			reason := "The perimeter policies' IDs are assigned by AWS Organizations at creation and the hub does not know the management account " +
				"that owns them: the ARN pattern names the organization and the policy type, the actions are read-only (Service Authorization Reference, AWS Organizations, resource type policy)"
			for _, r := range perimeterPolicyARNs("<AWS::Partition>", org.ID) {
				sup = append(sup, suppression("AwsSolutions-IAM5", reason, "Resource::"+r))
			}
		}
		cdknag.NagSuppressions_AddResourceSuppressions(stack.Node().FindChild(jsii.String(id)), &sup, jsii.Bool(true))
	}
	suppressQueues(b)
	return stack, nil
}

// productARN is account's default Security Hub product ARN in
// RequiredRegion, where the hub and the member stacks run:
// arn:<partition>:securityhub:<region>:<account>:product/<account>/default
// (Security Hub user guide, "Using custom product integrations to send
// findings to AWS Security Hub"; pkg/publish ParseProductARN).
func productARN(partition, account string) string {
	return "arn:" + partition + ":securityhub:" + RequiredRegion + ":" + account + ":product/" + account + "/default"
}

// preventionEnv returns the hub functions' prevention variables: the mode
// (config.EnvPrevention, "off" when unset) and, unless it is off, the
// targets the policies are attached to (the organization's targets, as
// addPrevention attaches them).
func preventionEnv(s settings.Settings) map[string]string {
	mode := s.Prevention
	if mode == "" {
		mode = settings.PreventionOff
	}
	env := map[string]string{config.EnvPrevention: mode, config.EnvPreventionTargets: ""}
	if mode != settings.PreventionOff {
		env[config.EnvPreventionTargets] = strings.Join(s.Organization.Targets, ",")
	}
	return env
}

// perimeterPolicyARNs are the ARN patterns of the organization's service
// and resource control policies: "arn:${Partition}:organizations::
// ${Account}:policy/o-${OrganizationId}/${PolicyType}/p-${PolicyId}", the
// account being the management account (Service Authorization Reference,
// "Actions, resources, and condition keys for AWS Organizations",
// resource type policy,
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html).
// The policy type is written in lower case in the ARN
// (service_control_policy), as Organizations returns it (PolicySummary
// Arn pattern "arn:aws:organizations::\d{12}:policy\/o-[a-z0-9]{10,32}\/[0-9a-z_]+\/p-[0-9a-z]{10,32}",
// Organizations API reference, PolicySummary).
func perimeterPolicyARNs(partition, orgID string) []string {
	return []string{
		"arn:" + partition + ":organizations::*:policy/" + orgID + "/service_control_policy/p-*",
		"arn:" + partition + ":organizations::*:policy/" + orgID + "/resource_control_policy/p-*",
	}
}

// hubStatements are the hub functions' permissions besides their logs.
// They write nothing in IAM themselves: every read and write happens
// through the member role of the account concerned. With prevention
// enforce (readPerimeter), the sweeper also reads the organization's service
// and resource control policies to report their drift.
func hubStatements(partition, orgID string, sweep, readPerimeter bool) []awsiam.PolicyStatement {
	// The member role in any account of the organization, and only there:
	// aws:ResourceOrgID is the organization of the account that owns the
	// resource, here the role being assumed (IAM user guide, "AWS global
	// condition context keys", aws:ResourceOrgID,
	// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid).
	// A role of that name in a foreign account stays out of reach even if
	// it trusts the hub.
	stmts := []awsiam.PolicyStatement{
		allow("AssumeMemberRole", []string{"sts:AssumeRole"},
			[]string{"arn:" + partition + ":iam::*:role/" + MemberRoleName},
			map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": orgID}}),
	}
	// The organization's ID and management account (the default trusted
	// organization; the management account has no member role), then the
	// membership of the account an event names (enforcer, pkg/hub
	// HandleEvent) or the list of accounts to sweep (sweeper). Read-only;
	// DescribeAccount stays on "*" because an account outside the
	// organization must get AccountNotFound (ignored), not AccessDenied
	// (retried).
	actions := []string{"organizations:DescribeOrganization", "organizations:DescribeAccount"}
	if sweep {
		actions = []string{"organizations:DescribeOrganization", "organizations:ListAccounts"}
	}
	stmts = append(stmts, allow("ReadOrganization", actions, []string{"*"}, nil))
	if sweep && readPerimeter {
		// The perimeter drift check (pkg/hub checkPerimeter), read-only
		// and as narrow as the Service Authorization Reference allows
		// (AWS Organizations): ListPolicies has no resource type, but its
		// organizations:PolicyType condition key keeps it to the two
		// types the check reads; DescribePolicy and ListTargetsForPolicy
		// take the policy resource type, here the organization's SCPs
		// and RCPs only (perimeterPolicyARNs).
		stmts = append(stmts,
			allow("ListPerimeterPolicies", []string{"organizations:ListPolicies"}, []string{"*"},
				map[string]any{"StringEquals": map[string]any{"organizations:PolicyType": []string{perimeter.TypeSCP, perimeter.TypeRCP}}}),
			allow("ReadPerimeterPolicies", []string{"organizations:DescribePolicy", "organizations:ListTargetsForPolicy"},
				perimeterPolicyARNs(partition, orgID), nil))
	}
	return stmts
}
