package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// The local organization of organization mode (DESIGN.md §11): the hub runs
// in the management account (Account), the member stack is deployed in
// Members, and Undeployed is an account of the organization without it
// (the hub cannot assume into it).
var (
	Members    = []string{"210000000001", "220000000002", "230000000003"}
	Undeployed = "290000000009"
)

// MemberRole is the member role's name, as the member stack names it.
const MemberRole = config.DefaultMemberRoleName

// OrganizationAccessRole is the role AWS Organizations creates in the
// accounts it creates, trusting the management account.
const OrganizationAccessRole = "OrganizationAccountAccessRole"

// OrgDeployment is what DeployOrg created.
type OrgDeployment struct {
	srv *iamtest.Server
	// Env is the hub functions' environment without credentials: the
	// GUARDRAIL_* configuration and the endpoints of the stand-in (IAM, STS
	// and Organizations on one URL).
	Env map[string]string
	// Config is the configuration the hub functions read from Env.
	Config config.Config
}

// StartOrg returns a new stand-in playing the local organization, closed
// when tb ends, with the hub and the member stacks deployed.
func StartOrg(tb testing.TB, mode config.Mode) (*iamtest.Server, OrgDeployment) {
	tb.Helper()
	srv := iamtest.NewServer(iamtest.WithAccounts(OrgAccounts()...))
	tb.Cleanup(srv.Close)
	dep, err := DeployOrg(context.Background(), srv, mode)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, dep
}

// OrgAccounts lists the organization's accounts, the management (hub)
// account first.
func OrgAccounts() []string { return append(append([]string{Account}, Members...), Undeployed) }

// DeployOrg deploys into srv (iamtest.WithAccounts(OrgAccounts()...)) what
// the organization stacks deploy: the hub's enforcer and sweeper roles in
// the management account, and in every member account, set up through
// OrganizationAccountAccessRole as an operator would, the lockdown policy
// and the member role trusting exactly the hub's two roles.
func DeployOrg(ctx context.Context, srv *iamtest.Server, mode config.Mode) (OrgDeployment, error) {
	return DeployOrgMembers(ctx, srv, mode, Members)
}

// DeployOrgMembers is DeployOrg with the member stack in members, accounts
// of srv's organization (benchmarks use larger organizations).
func DeployOrgMembers(ctx context.Context, srv *iamtest.Server, mode config.Mode, members []string) (OrgDeployment, error) {
	lambdaTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	for _, name := range []string{EnforcerRole, SweeperRole} {
		if _, err := srv.SeedRole(iamtest.Role{Name: name, TrustPolicy: lambdaTrust,
			AttachedPolicyARNs: []string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}}); err != nil {
			return OrgDeployment{}, fmt.Errorf("sandbox: seed %s: %w", name, err)
		}
	}
	memberTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` +
		HubRoleARN(EnforcerRole) + `","` + HubRoleARN(SweeperRole) + `"]},"Action":"sts:AssumeRole"}]}`
	dep := OrgDeployment{srv: srv}
	for _, m := range members {
		client, err := dep.Admin(ctx, m)
		if err != nil {
			return OrgDeployment{}, err
		}
		doc, err := lockdown.Document(lockdown.Config{Account: m, NamePrefix: NamePrefix, ExemptRoles: []string{OrganizationAccessRole}})
		if err != nil {
			return OrgDeployment{}, fmt.Errorf("sandbox: lockdown document of %s: %w", m, err)
		}
		if _, err := client.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(lockdown.PolicyName), PolicyDocument: aws.String(string(doc))}); err != nil {
			return OrgDeployment{}, fmt.Errorf("sandbox: lockdown policy in %s: %w", m, err)
		}
		if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(MemberRole), AssumeRolePolicyDocument: aws.String(memberTrust)}); err != nil {
			return OrgDeployment{}, fmt.Errorf("sandbox: member role in %s: %w", m, err)
		}
	}
	dep.Env = map[string]string{
		config.EnvMode:              string(mode),
		config.EnvProtectedRoleARNs: fmt.Sprintf("arn:aws:iam::%s:role/%s-*", Account, NamePrefix),
		// The hub's account in the ARN: each member's is substituted.
		config.EnvLockdownPolicyARN: "arn:aws:iam::" + Account + ":policy/" + lockdown.PolicyName,
		config.EnvMemberRoleName:    MemberRole,
		// AWS Organizations' own administration role in every member: the
		// management account's way in, which the operator keeps as it is.
		config.EnvExemptRoles:            OrganizationAccessRole,
		config.EnvRevokeSessions:         "true",
		config.EnvMetricsNamespace:       config.DefaultMetricsNamespace,
		"AWS_ENDPOINT_URL_IAM":           srv.URL,
		"AWS_ENDPOINT_URL_STS":           srv.URL,
		"AWS_ENDPOINT_URL_ORGANIZATIONS": srv.URL,
		"AWS_REGION":                     "us-east-1",
		"AWS_CONFIG_FILE":                "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE":    "/dev/null",
		"AWS_EC2_METADATA_DISABLED":      "true",
	}
	var err error
	if dep.Config, err = config.FromEnv(func(k string) string { return dep.Env[k] }); err != nil {
		return OrgDeployment{}, fmt.Errorf("sandbox: configuration: %w", err)
	}
	return dep, nil
}

// HubRoleARN returns the ARN of one of the hub's roles.
func HubRoleARN(name string) string { return "arn:aws:iam::" + Account + ":role/" + name }

// Environ returns the environment of the hub function that runs as role
// (EnforcerRole or SweeperRole): Env and that role's temporary
// credentials, which the stand-in issues the way Lambda gives a function
// its execution role's.
func (d OrgDeployment) Environ(role string) ([]string, error) {
	cr, err := d.srv.ServiceCredentials("lambda.amazonaws.com", HubRoleARN(role), role)
	if err != nil {
		return nil, fmt.Errorf("sandbox: credentials of %s: %w", role, err)
	}
	env := maps.Clone(d.Env)
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"] = cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

// HubConfig returns an aws.Config acting as the hub role role, for tests
// that run the hub in process.
func (d OrgDeployment) HubConfig(role string) (aws.Config, error) {
	cr, err := d.srv.ServiceCredentials("lambda.amazonaws.com", HubRoleARN(role), role)
	if err != nil {
		return aws.Config{}, err
	}
	cfg := d.srv.Config()
	cfg.Credentials = credentials.StaticCredentialsProvider{Value: cr}
	return cfg, nil
}

// Admin returns an IAM client acting in account as its administrator:
// the management account's credentials through OrganizationAccountAccessRole.
func (d OrgDeployment) Admin(ctx context.Context, account string) (*iam.Client, error) {
	out, err := sts.NewFromConfig(d.srv.Config()).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/OrganizationAccountAccessRole"), RoleSessionName: aws.String("sandbox-admin")})
	if err != nil {
		return nil, fmt.Errorf("sandbox: administer %s: %w", account, err)
	}
	cfg := d.srv.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	return iam.NewFromConfig(cfg), nil
}

// OrgEvent returns the EventBridge event of an UpdateAssumeRolePolicy (or,
// with an empty document, another role event named eventName) made in
// account by the session of the role issuer (an ARN; "" for the account's
// root user), as the member's forwarding rule delivers it to the hub's bus:
// the envelope's account is the member's.
func OrgEvent(id, account, eventName, roleName, document, issuer string) events.CloudWatchEvent {
	now := time.Now().UTC().Truncate(time.Second)
	identity := map[string]any{"type": "Root", "arn": "arn:aws:iam::" + account + ":root", "accountId": account}
	if issuer != "" {
		name := issuer[strings.LastIndex(issuer, "/")+1:]
		identity = map[string]any{
			"type": "AssumedRole", "arn": "arn:aws:sts::" + account + ":assumed-role/" + name + "/session", "accountId": account,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": issuer, "accountId": account, "userName": name}},
		}
	}
	params := map[string]any{"roleName": roleName}
	if document != "" {
		params["policyDocument"] = document
	}
	detail, _ := json.Marshal(map[string]any{
		"eventVersion": "1.09", "userIdentity": identity, "eventTime": now.Format(time.RFC3339),
		"eventSource": "iam.amazonaws.com", "eventName": eventName, "awsRegion": "us-east-1",
		"requestParameters": params, "responseElements": nil, "eventID": id, "readOnly": false,
		"eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
	})
	return events.CloudWatchEvent{Version: "0", ID: id, DetailType: "AWS API Call via CloudTrail", Source: "aws.iam",
		AccountID: account, Time: now, Region: "us-east-1", Resources: []string{}, Detail: detail}
}
