package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudformation"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
)

// Names of the member template and its StackSet.
const (
	// MemberTemplateID is the member stack's ID in its own app.
	MemberTemplateID = "IamRoleGuardrailMember"
	// StackSetName is the StackSet that deploys the member template.
	StackSetName = NamePrefix + "-Members"
	// MemberRuleName is the forwarding rule on each member's default bus.
	MemberRuleName = NamePrefix + "-Forward"
	// ForwarderRoleName is the role EventBridge uses to put the member's
	// events on the hub bus.
	ForwarderRoleName = NamePrefix + "-Forwarder"
	// MaxTemplateBody is CloudFormation's limit on a TemplateBody passed
	// inline (CloudFormation user guide, "CloudFormation quotas": template
	// body size in a request, 51,200 bytes).
	MaxTemplateBody = 51200
)

// MemberRegions are the regions of the member stack instances: IAM's
// CloudTrail events reach EventBridge in us-east-1 only (aws-facts.md §1.1),
// so the forwarding rule is useful there and nowhere else.
var MemberRegions = []string{RequiredRegion}

// Members is the members' StackSet stack and the member template it
// deploys.
type Members struct {
	// Stack is IamRoleGuardrailMembers, holding the StackSet.
	Stack awscdk.Stack
	// Template is the member stack, synthesized in its own app.
	Template awscdk.Stack
	// Body is the member template as embedded in the StackSet.
	Body string
}

// MembersProps configures NewMembers.
type MembersProps struct {
	Props
	// TemplateOutdir is where the member app is synthesized; "" uses a
	// temporary directory removed once the template is read.
	TemplateOutdir string
}

// NewMembers adds IamRoleGuardrailMembers to scope: a service-managed
// StackSet, deployed from the management account or a StackSets delegated
// administrator, that puts the member template (MemberTemplate) into every
// account of the configured OUs (or the whole organization) in us-east-1,
// including accounts that join later. It deploys to RequiredRegion of the
// account `cdk deploy` runs in (p.Account pins it); p.StackName is not used
// (MembersStackName).
func NewMembers(scope constructs.Construct, p MembersProps) (Members, error) {
	s := p.Settings
	org := s.Organization
	if org == nil {
		return Members{}, ErrNoOrganization
	}
	if p.Region != RequiredRegion {
		return Members{}, &RegionError{Region: p.Region}
	}
	env := &awscdk.Environment{Region: jsii.String(RequiredRegion)}
	if p.Account != "" {
		env.Account = jsii.String(p.Account)
	}
	stack := awscdk.NewStack(scope, jsii.String(MembersStackID), &awscdk.StackProps{
		StackName:   jsii.String(MembersStackName),
		Env:         env,
		Description: jsii.String("IAM service-role guardrail, member accounts: the StackSet that forwards their IAM events to the hub and lets the hub act there (see README, Organization)"),
	})
	tpl, body, err := MemberTemplate(s, qualifierOf(stack), p.TemplateOutdir)
	if err != nil {
		return Members{}, err
	}

	// Service-managed permissions with automatic deployment: accounts that
	// join a target OU get the member stack, accounts that leave lose it
	// (CloudFormation user guide, AWS::CloudFormation::StackSet
	// AutoDeployment, "RetainStacksOnAccountRemoval"; aws-facts.md §6.1).
	// A parent OU includes its children; the management account is never a
	// target of a service-managed StackSet, so it runs the single-account
	// stack (README, Organization).
	awscloudformation.NewCfnStackSet(stack, jsii.String("MemberStackSet"), &awscloudformation.CfnStackSetProps{
		StackSetName:    jsii.String(StackSetName),
		Description:     jsii.String("IAM role guardrail member: forwards IAM events to the hub, the member role the hub assumes, the lockdown policy"),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		CallAs:          jsii.String(org.CallAs),
		AutoDeployment: &awscloudformation.CfnStackSet_AutoDeploymentProperty{
			Enabled:                      jsii.Bool(true),
			RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		// The template names its roles.
		Capabilities: jsii.Strings("CAPABILITY_NAMED_IAM"),
		// (An untyped property in the L1 construct: CloudFormation's casing.)
		ManagedExecution: map[string]any{"Active": true},
		// Thousands of accounts: a quarter at a time, and an account that
		// refuses the stack (an SCP, a suspended account) does not stop the
		// rest (SOFT_FAILURE_TOLERANCE keeps the concurrency; CloudFormation
		// user guide, StackSet OperationPreferences, ConcurrencyMode).
		OperationPreferences: &awscloudformation.CfnStackSet_OperationPreferencesProperty{
			ConcurrencyMode:            jsii.String("SOFT_FAILURE_TOLERANCE"),
			MaxConcurrentPercentage:    jsii.Number(25),
			FailureTolerancePercentage: jsii.Number(10),
			RegionConcurrencyType:      jsii.String("PARALLEL"),
		},
		StackInstancesGroup: []any{&awscloudformation.CfnStackSet_StackInstancesProperty{
			DeploymentTargets: &awscloudformation.CfnStackSet_DeploymentTargetsProperty{
				OrganizationalUnitIds: jsii.Strings(org.Targets...),
			},
			Regions: jsii.Strings(MemberRegions...),
		}},
		TemplateBody: jsii.String(body),
	})
	return Members{Stack: stack, Template: tpl, Body: body}, nil
}

// MemberTemplate builds the member stack in an app of its own, with the
// same cdk-nag checks as every other stack, synthesizes it in-process and
// returns it with its template as JSON. The stack uses the bootstrapless
// synthesizer, which refuses assets: a member account has no CDK bootstrap
// bucket, and the template carries everything inline. Any cdk-nag finding,
// or a template over MaxTemplateBody, is an error.
//
// The template holds, in the member account:
//   - the lockdown managed policy, built by pkg/lockdown for that account;
//   - the member role, trusting exactly the hub's two function roles, with
//     the single-account functions' permissions (engineStatements) and,
//     with securityHub, the import of the account's own findings;
//   - the forwarding rule on the default bus: the single-account rule's
//     pattern, excluding exactly the member role's sessions, to the hub bus
//     through the forwarder role.
func MemberTemplate(s settings.Settings, qualifier, outdir string) (awscdk.Stack, string, error) {
	org := s.Organization
	if org == nil {
		return nil, "", ErrNoOrganization
	}
	if outdir == "" {
		dir, err := os.MkdirTemp("", "guardrail-member-")
		if err != nil {
			return nil, "", fmt.Errorf("member template: %w", err)
		}
		defer os.RemoveAll(dir)
		outdir = dir
	}
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir:             jsii.String(outdir),
		AnalyticsReporting: jsii.Bool(false),
		// No aws:cdk:path metadata: it only costs TemplateBody bytes.
		Context: &map[string]any{"aws:cdk:enable-path-metadata": false},
	})
	stack := awscdk.NewStack(app, jsii.String(MemberTemplateID), &awscdk.StackProps{
		Synthesizer: awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{}),
		Description: jsii.String("IAM role guardrail member (StackSet " + StackSetName + "): forwards IAM events to the hub, the member role the hub assumes, the lockdown policy"),
	})
	b := orgBuilder(stack, s, NamePrefix, qualifier)

	policy, err := b.lockdownPolicy("", memberBuckets(s, qualifier))
	if err != nil {
		return nil, "", err
	}
	lockdownARN := policy.AttrPolicyArn()

	hub := hubRoleARNs(b.partition, org.HubAccount)
	stmts := b.engineStatements(lockdownARN, true)
	if s.SecurityHub {
		// The hub imports this account's findings as this account
		// (publish.MemberFindings): BatchImportFindings on the account's
		// own default product ARN and nothing else (Service
		// Authorization Reference, AWS Security Hub: BatchImportFindings
		// takes the product resource type).
		stmts = append(stmts, allow("ImportOwnFindings", []string{"securityhub:BatchImportFindings"}, []string{productARN(b.partition, b.account)}, nil))
	}
	memberRole := awsiam.NewRole(stack, jsii.String("MemberRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(MemberRoleName),
		Description: jsii.String("Assumed by the IAM role guardrail's hub (" + org.HubAccount + ") to evaluate and correct this account's roles"),
		// Exactly the hub's enforcer and sweeper roles: no account root, no
		// organization-wide grant.
		AssumedBy: awsiam.NewCompositePrincipal(awsiam.NewArnPrincipal(jsii.String(hub[0])), awsiam.NewArnPrincipal(jsii.String(hub[1]))),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"Guardrail": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &stmts}),
		},
	})
	suppressEngineRole(memberRole, true)

	// EventBridge puts events on another account's bus with a role of the
	// sending account when the bus grants an organization ("accounts in
	// that organization must specify a RoleArn with proper permissions when
	// they use PutTarget to add your account's event bus as a target",
	// EventBridge API reference, PutPermission,
	// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html;
	// and "We recommend always using IAM roles when the target of a rule is
	// an event bus", EventBridge user guide, "Permissions for event buses",
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html).
	// The target grants the role events:PutEvents on the hub bus only.
	forwarder := awsiam.NewRole(stack, jsii.String("ForwarderRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(ForwarderRoleName),
		Description: jsii.String("Lets EventBridge forward this account's IAM events to the guardrail hub's event bus"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil),
	})
	hubBus := awsevents.EventBus_FromEventBusArn(stack, jsii.String("HubBus"), jsii.String(
		"arn:"+b.partition+":events:"+RequiredRegion+":"+org.HubAccount+":event-bus/"+HubBusName))

	detail := EventPatternDetail([]string{*memberRole.RoleArn()}, *lockdownARN)
	rule := awsevents.NewRule(stack, jsii.String("ForwardRule"), &awsevents.RuleProps{
		RuleName:     jsii.String(MemberRuleName),
		Description:  jsii.String("Successful IAM role changes and lockdown policy versions recorded by CloudTrail, except the guardrail hub's own, to the hub's event bus"),
		EventPattern: rolePattern(detail),
	})
	rule.AddTarget(awseventstargets.NewEventBus(hubBus, &awseventstargets.EventBusProps{Role: forwarder}))

	AddChecks(app)
	asm := app.Synth(nil)
	art := asm.GetStackArtifact(stack.ArtifactId())
	if findings := findings(art); len(findings) > 0 {
		return nil, "", fmt.Errorf("member template: %d cdk-nag or synthesis findings:\n%s", len(findings), strings.Join(findings, "\n"))
	}
	body, err := templateBody(art.Template())
	if err != nil {
		return nil, "", err
	}
	return stack, body, nil
}

// templateBody returns tpl as the JSON a StackSet's TemplateBody holds,
// refusing a template over MaxTemplateBody bytes.
func templateBody(tpl any) (string, error) {
	body, err := json.Marshal(tpl)
	if err != nil {
		return "", fmt.Errorf("member template: %w", err)
	}
	if len(body) > MaxTemplateBody {
		return "", fmt.Errorf("member template is %d bytes, over CloudFormation's %d-byte TemplateBody limit", len(body), MaxTemplateBody)
	}
	return string(body), nil
}
