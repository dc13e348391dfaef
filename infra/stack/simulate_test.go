package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The attacker-request table: requests a compromised workload (a service
// role holding AdministratorAccess and the lockdown) or a compromised
// guardrail function would make, and an application's ordinary work,
// evaluated against the synthesized template's policies, resolved as
// CloudFormation would deploy them, by an IAM policy evaluator that shares
// no code with the guardrail: @cloud-copilot/iam-simulate, pinned in
// testdata/iamsim/package.json. `make test` installs it and names its
// node_modules in GUARDRAIL_IAMSIM; without the variable (a plain
// `go test ./...`) the test skips, and with it a missing tool fails.

// envIAMSim names the node_modules directory holding the evaluator.
const envIAMSim = "GUARDRAIL_IAMSIM"

// Who makes a request.
const (
	svc      = "service" // a service role: AdministratorAccess + lockdown
	enforcer = "enforcer"
	sweeper  = "sweeper"
	fns      = "functions" // the enforcer and the sweeper alike
)

// simCase is one request and the decision it must get.
type simCase struct {
	name     string
	who      string
	action   string
	resource string
	// context holds the request's condition keys: a string for a
	// single-valued key, a []string for a multivalued one
	// (sts:IdentityTokenAudience), as the evaluator takes them.
	context     map[string]any
	allow       bool
	fullOnly    bool // needs the fully configured stack (exemptions, trail, protectedBuckets, token audiences)
	defaultOnly bool // needs the default stack (no token audience approved)
}

// ARNs of the deployment the resolver plays (testAccount, us-east-1).
const (
	acctID      = testAccount
	iamPrefix   = "arn:aws:iam::" + acctID + ":"
	lockdownArn = iamPrefix + "policy/GuardrailLockdown"
	adminPolicy = "arn:aws:iam::aws:policy/AdministratorAccess"
	appRole     = iamPrefix + "role/orders-api"
	otherApp    = iamPrefix + "role/orders-worker"
	cfnExec     = iamPrefix + "role/cdk-hnb659fds-cfn-exec-role-" + acctID + "-us-east-1"
	deployRole  = iamPrefix + "role/cdk-hnb659fds-deploy-role-" + acctID + "-us-east-1"
	publishRole = iamPrefix + "role/cdk-hnb659fds-file-publishing-role-" + acctID + "-us-east-1"
	enforcerArn = iamPrefix + "role/" + EnforcerName
	sweeperArn  = iamPrefix + "role/" + SweeperName
	assets      = "arn:aws:s3:::cdk-hnb659fds-assets-" + acctID + "-us-east-1"
	orgTrail    = "arn:aws:s3:::org-trail-logs-111122223333"
	reg         = ":us-east-1:" + acctID + ":"
	enforcerFn  = "arn:aws:lambda" + reg + "function:" + EnforcerName
	sweeperFn   = "arn:aws:lambda" + reg + "function:" + SweeperName
	stackArn    = "arn:aws:cloudformation" + reg + "stack/" + DefaultStackName + "/0d5e9f70-1111-2222-3333-444455556666"
	decisionLog = "arn:aws:logs" + reg + "log-group:/aws/lambda/" + EnforcerName
)

func pol(arn string) map[string]any      { return map[string]any{"iam:PolicyARN": arn} }
func boundary(arn string) map[string]any { return map[string]any{"iam:PermissionsBoundary": arn} }
func passedTo(svc string) map[string]any {
	return map[string]any{"iam:PassedToService": svc + ".amazonaws.com"}
}

// tokenFor is the context of a GetWebIdentityToken request naming
// audiences. sts:IdentityTokenAudience is multivalued (Service
// Authorization Reference, STS: ArrayOfString; the request's
// Audience.member.N holds 1 to 10, STS API reference), so the audiences go
// in as one list; no audiences leaves the key out. The signing algorithm
// and lifetime are those of an ordinary request (STS's default duration).
func tokenFor(audiences ...string) map[string]any {
	ctx := map[string]any{"sts:SigningAlgorithm": "ES384", "sts:DurationSeconds": "300"}
	if len(audiences) > 0 {
		ctx["sts:IdentityTokenAudience"] = audiences
	}
	return ctx
}

// An audience no one approved: where a compromised workload would send a
// token asserting the account's identity.
const attackerAudience = "https://collector.attacker.example"

// simCases returns the table; alarmKey and trailBucket are the resolved
// ARNs of the stack's key and (full stack) trail bucket.
func simCases(alarmKey, trailBucket string) []simCase {
	deny := func(name, action, resource string, ctx map[string]any) simCase {
		return simCase{name: name, who: svc, action: action, resource: resource, context: ctx}
	}
	allow := func(name, action, resource string, ctx map[string]any) simCase {
		return simCase{name: name, who: svc, action: action, resource: resource, context: ctx, allow: true}
	}
	full := func(c simCase) simCase { c.fullOnly = true; return c }
	dflt := func(c simCase) simCase { c.defaultOnly = true; return c }
	fn := func(who, name, action, resource string, ctx map[string]any, ok bool) simCase {
		return simCase{name: name, who: who, action: action, resource: resource, context: ctx, allow: ok}
	}
	cases := []simCase{
		// 1. Exempt roles: every write, pass and assume is an escape.
		deny("assume the CDK cfn-exec role", "sts:AssumeRole", cfnExec, nil),
		deny("assume the CDK deploy role (trusts the account)", "sts:AssumeRole", deployRole, nil),
		deny("assume the CDK file-publishing role", "sts:AssumeRole", publishRole, nil),
		deny("pass cfn-exec to CloudFormation (stack runs as it)", "iam:PassRole", cfnExec, passedTo("cloudformation")),
		deny("pass cfn-exec to Lambda", "iam:PassRole", cfnExec, passedTo("lambda")),
		deny("pass cfn-exec to EC2", "iam:PassRole", cfnExec, passedTo("ec2")),
		deny("pass cfn-exec to Glue", "iam:PassRole", cfnExec, passedTo("glue")),
		deny("pass cfn-exec to CodeBuild", "iam:PassRole", cfnExec, passedTo("codebuild")),
		deny("pass the deploy role to ECS tasks", "iam:PassRole", deployRole, passedTo("ecs-tasks")),
		deny("rewrite cfn-exec trust", "iam:UpdateAssumeRolePolicy", cfnExec, nil),
		deny("inline policy on cfn-exec", "iam:PutRolePolicy", cfnExec, nil),
		deny("attach admin to cfn-exec", "iam:AttachRolePolicy", cfnExec, pol(adminPolicy)),
		deny("delete an inline policy of the deploy role", "iam:DeleteRolePolicy", deployRole, nil),
		deny("detach a policy from the deploy role", "iam:DetachRolePolicy", deployRole, pol(adminPolicy)),
		deny("boundary on the deploy role", "iam:PutRolePermissionsBoundary", deployRole, boundary(adminPolicy)),
		deny("remove cfn-exec boundary", "iam:DeleteRolePermissionsBoundary", cfnExec, nil),
		deny("tag cfn-exec", "iam:TagRole", cfnExec, nil),
		deny("untag cfn-exec", "iam:UntagRole", cfnExec, nil),
		deny("lengthen the deploy role's sessions", "iam:UpdateRole", deployRole, nil),
		deny("redescribe the deploy role", "iam:UpdateRoleDescription", deployRole, nil),
		deny("delete the file-publishing role", "iam:DeleteRole", publishRole, nil),
		deny("recreate an exempt name at another path", "iam:CreateRole", iamPrefix+"role/x/y/cdk-hnb659fds-cfn-exec-role-"+acctID+"-us-east-1", nil),
		deny("recreate an exempt name at the root path", "iam:CreateRole", cfnExec, nil),
		full(deny("rewrite break-glass trust", "iam:UpdateAssumeRolePolicy", iamPrefix+"role/BreakGlass", nil)),
		full(deny("create a break-glass look-alike at a path", "iam:CreateRole", iamPrefix+"role/team/BreakGlass", nil)),
		full(deny("assume a path-exempt role", "sts:AssumeRole", iamPrefix+"role/admin/ops", nil)),
		full(deny("pass a path-exempt role", "iam:PassRole", iamPrefix+"role/admin/ops", passedTo("lambda"))),
		full(deny("create a role under the exempt path", "iam:CreateRole", iamPrefix+"role/admin/backdoor", nil)),
		full(deny("inline policy on a path-exempt role", "iam:PutRolePolicy", iamPrefix+"role/admin/ops", nil)),

		// The guardrail's own roles.
		deny("assume the enforcer role", "sts:AssumeRole", enforcerArn, nil),
		deny("pass the enforcer role to Lambda", "iam:PassRole", enforcerArn, passedTo("lambda")),
		deny("rewrite the enforcer role's trust", "iam:UpdateAssumeRolePolicy", enforcerArn, nil),
		deny("inline policy on the sweeper role", "iam:PutRolePolicy", sweeperArn, nil),
		deny("attach a boundary to the sweeper role", "iam:PutRolePermissionsBoundary", sweeperArn, boundary(adminPolicy)),
		deny("delete the enforcer role", "iam:DeleteRole", enforcerArn, nil),
		deny("create a role in the guardrail's name", "iam:CreateRole", iamPrefix+"role/"+NamePrefix+"-Backdoor", nil),

		// The guardrail's runtime and stack.
		deny("replace the enforcer's code", "lambda:UpdateFunctionCode", enforcerFn, nil),
		deny("change the enforcer's configuration", "lambda:UpdateFunctionConfiguration", enforcerFn, nil),
		deny("throttle the enforcer to zero", "lambda:PutFunctionConcurrency", enforcerFn, nil),
		deny("delete the sweeper", "lambda:DeleteFunction", sweeperFn, nil),
		deny("read the enforcer's environment", "lambda:GetFunctionConfiguration", enforcerFn, nil),
		deny("disable the role-change rule", "events:DisableRule", "arn:aws:events"+reg+"rule/"+NamePrefix+"-RoleChanges", nil),
		deny("rewrite the rule's pattern", "events:PutRule", "arn:aws:events"+reg+"rule/"+NamePrefix+"-RoleChanges", nil),
		deny("remove the rule's target", "events:RemoveTargets", "arn:aws:events"+reg+"rule/"+NamePrefix+"-RoleChanges", nil),
		deny("delete the sweep schedule", "events:DeleteRule", "arn:aws:events"+reg+"rule/"+NamePrefix+"-Sweep", nil),
		deny("purge the failed-invocations queue", "sqs:PurgeQueue", "arn:aws:sqs"+reg+NamePrefix+"-FailedInvocations", nil),
		deny("consume the delivery DLQ", "sqs:ReceiveMessage", "arn:aws:sqs"+reg+NamePrefix+"-EventDeliveryDLQ", nil),
		deny("delete the delivery DLQ", "sqs:DeleteQueue", "arn:aws:sqs"+reg+NamePrefix+"-EventDeliveryDLQ", nil),
		deny("redirect the alarm topic", "sns:SetTopicAttributes", "arn:aws:sns"+reg+NamePrefix+"-Alarms", nil),
		deny("delete the alarm topic", "sns:DeleteTopic", "arn:aws:sns"+reg+NamePrefix+"-Alarms", nil),
		deny("delete an alarm", "cloudwatch:DeleteAlarms", "arn:aws:cloudwatch"+reg+"alarm:"+NamePrefix+"-Enforcer-Errors", nil),
		deny("silence an alarm", "cloudwatch:DisableAlarmActions", "arn:aws:cloudwatch"+reg+"alarm:"+NamePrefix+"-ErrorRecords", nil),
		deny("delete the decision logs", "logs:DeleteLogGroup", decisionLog+":*", nil),
		deny("shorten the decision logs' retention", "logs:PutRetentionPolicy", decisionLog+":*", nil),
		deny("copy the decision logs out", "logs:PutSubscriptionFilter", decisionLog+":*", nil),
		deny("delete a decision log stream", "logs:DeleteLogStream", decisionLog+":log-stream:2026/12/03/x", nil),
		deny("read the decision logs", "logs:GetLogEvents", decisionLog+":log-stream:2026/12/03/x", nil),
		deny("delete the guardrail stack", "cloudformation:DeleteStack", stackArn, nil),
		deny("update the guardrail stack", "cloudformation:UpdateStack", stackArn, nil),
		deny("change set on the guardrail stack", "cloudformation:CreateChangeSet", stackArn, nil),

		// The lockdown policy and its attachment.
		deny("new lockdown version (Rhino: CreatePolicyVersion)", "iam:CreatePolicyVersion", lockdownArn, nil),
		deny("older lockdown version as default (Rhino: SetDefaultPolicyVersion)", "iam:SetDefaultPolicyVersion", lockdownArn, nil),
		deny("delete a lockdown version", "iam:DeletePolicyVersion", lockdownArn, nil),
		deny("delete the lockdown policy", "iam:DeletePolicy", lockdownArn, nil),
		deny("detach the lockdown from itself", "iam:DetachRolePolicy", appRole, pol(lockdownArn)),
		deny("detach the lockdown from another role", "iam:DetachRolePolicy", otherApp, pol(lockdownArn)),

		// 2. Other escalation paths.
		deny("put a boundary on itself", "iam:PutRolePermissionsBoundary", appRole, boundary(adminPolicy)),
		deny("remove its own boundary", "iam:DeleteRolePermissionsBoundary", appRole, nil),
		deny("remove another role's boundary", "iam:DeleteRolePermissionsBoundary", otherApp, nil),
		deny("attach admin to a user (Rhino: AttachUserPolicy)", "iam:AttachUserPolicy", iamPrefix+"user/alice", pol(adminPolicy)),
		deny("inline policy on a user (Rhino: PutUserPolicy)", "iam:PutUserPolicy", iamPrefix+"user/alice", nil),
		deny("join an admin group (Rhino: AddUserToGroup)", "iam:AddUserToGroup", iamPrefix+"group/admins", nil),
		deny("attach admin to a group (Rhino: AttachGroupPolicy)", "iam:AttachGroupPolicy", iamPrefix+"group/devs", pol(adminPolicy)),
		deny("inline policy on a group (Rhino: PutGroupPolicy)", "iam:PutGroupPolicy", iamPrefix+"group/devs", nil),
		deny("remove a user's boundary", "iam:DeleteUserPermissionsBoundary", iamPrefix+"user/alice", nil),
		deny("disable the alarm key", "kms:DisableKey", alarmKey, nil),
		deny("schedule the alarm key's deletion", "kms:ScheduleKeyDeletion", alarmKey, nil),
		deny("rewrite the alarm key's policy", "kms:PutKeyPolicy", alarmKey, nil),
		deny("grant itself the alarm key", "kms:CreateGrant", alarmKey, nil),
		deny("stop the alarm key's rotation", "kms:DisableKeyRotation", alarmKey, nil),
		deny("account-wide log subscription (copy every log out)", "logs:PutAccountPolicy", "*", nil),
		deny("delete an account-wide log policy", "logs:DeleteAccountPolicy", "*", nil),
		deny("overwrite the guardrail's code asset", "s3:PutObject", assets+"/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.zip", nil),
		deny("delete a code asset", "s3:DeleteObject", assets+"/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.zip", nil),
		deny("assets bucket policy", "s3:PutBucketPolicy", assets, nil),
		deny("assets bucket lifecycle", "s3:PutLifecycleConfiguration", assets, nil),
		full(deny("write into the trail bucket", "s3:PutObject", trailBucket+"/AWSLogs/x.json.gz", nil)),
		full(deny("delete a trail log file", "s3:DeleteObject", trailBucket+"/AWSLogs/x.json.gz", nil)),
		full(deny("trail bucket policy", "s3:PutBucketPolicy", trailBucket, nil)),
		full(deny("trail bucket lifecycle (expire the logs)", "s3:PutLifecycleConfiguration", trailBucket, nil)),
		full(deny("delete the trail bucket", "s3:DeleteBucket", trailBucket, nil)),
		full(deny("existing trail's bucket policy (protectedBuckets)", "s3:PutBucketPolicy", orgTrail, nil)),
		full(deny("existing trail's bucket lifecycle", "s3:PutLifecycleConfiguration", orgTrail, nil)),
		full(deny("delete an old version of a trail log", "s3:DeleteObjectVersion", orgTrail+"/AWSLogs/x.json.gz", nil)),
		full(deny("replicate the trail bucket away", "s3:PutReplicationConfiguration", orgTrail, nil)),

		// Classic privilege escalation (Rhino Security Labs' list) and
		// long-term credentials.
		deny("access key for a user (Rhino: CreateAccessKey)", "iam:CreateAccessKey", iamPrefix+"user/alice", nil),
		deny("console password (Rhino: CreateLoginProfile)", "iam:CreateLoginProfile", iamPrefix+"user/alice", nil),
		deny("reset a console password (Rhino: UpdateLoginProfile)", "iam:UpdateLoginProfile", iamPrefix+"user/alice", nil),
		deny("new IAM user", "iam:CreateUser", iamPrefix+"user/backdoor", nil),
		deny("re-activate an access key", "iam:UpdateAccessKey", iamPrefix+"user/alice", nil),
		deny("service-specific credential", "iam:CreateServiceSpecificCredential", iamPrefix+"user/alice", nil),
		deny("SSH key for CodeCommit", "iam:UploadSSHPublicKey", iamPrefix+"user/alice", nil),
		deny("signing certificate", "iam:UploadSigningCertificate", iamPrefix+"user/alice", nil),
		deny("new OIDC provider", "iam:CreateOpenIDConnectProvider", iamPrefix+"oidc-provider/token.actions.githubusercontent.com", nil),
		deny("new SAML provider", "iam:CreateSAMLProvider", iamPrefix+"saml-provider/evil", nil),
		deny("new OIDC audience", "iam:AddClientIDToOpenIDConnectProvider", iamPrefix+"oidc-provider/token.actions.githubusercontent.com", nil),
		deny("new OIDC thumbprint", "iam:UpdateOpenIDConnectProviderThumbprint", iamPrefix+"oidc-provider/token.actions.githubusercontent.com", nil),

		// Audit.
		deny("stop CloudTrail", "cloudtrail:StopLogging", "arn:aws:cloudtrail"+reg+"trail/org", nil),
		deny("delete a trail", "cloudtrail:DeleteTrail", "arn:aws:cloudtrail"+reg+"trail/org", nil),
		deny("narrow a trail's selectors", "cloudtrail:PutEventSelectors", "arn:aws:cloudtrail"+reg+"trail/org", nil),
		deny("redirect a trail", "cloudtrail:UpdateTrail", "arn:aws:cloudtrail"+reg+"trail/org", nil),
		deny("delete the GuardDuty detector", "guardduty:DeleteDetector", "arn:aws:guardduty"+reg+"detector/12abc34d567e8fa901bc2d34e56789f0", nil),
		deny("GuardDuty trusted IP list", "guardduty:CreateIPSet", "*", nil),
		deny("disable Security Hub", "securityhub:DisableSecurityHub", "arn:aws:securityhub"+reg+"hub/default", nil),
		deny("delete Access Analyzer", "access-analyzer:DeleteAnalyzer", "arn:aws:access-analyzer"+reg+"analyzer/org", nil),
		deny("leave the organization", "organizations:LeaveOrganization", "*", nil),
		deny("close the account", "account:CloseAccount", "arn:aws:account::"+acctID+":account", nil),
		deny("redirect the security contact", "account:PutAlternateContact", "arn:aws:account::"+acctID+":account", nil),
		deny("Roles Anywhere trust anchor", "rolesanywhere:CreateTrustAnchor", "*", nil),
		full(deny("an action the operator added (extraDeniedActions)", "ram:CreateResourceShare", "*", nil)),

		// Outbound identity federation: a token asserting the role's
		// identity to an outside service is a way out of the account.
		// By default no audience is approved (allowedTokenAudiences
		// empty); the configured stack approves tokenAudience and
		// tokenAudience2.
		deny("switch outbound identity federation on for the account", "iam:EnableOutboundWebIdentityFederation", "*", nil),
		deny("switch outbound identity federation off for the account", "iam:DisableOutboundWebIdentityFederation", "*", nil),
		dflt(deny("identity token, no audience approved", "sts:GetWebIdentityToken", "*", tokenFor(tokenAudience))),
		dflt(deny("identity token for the attacker, no audience approved", "sts:GetWebIdentityToken", "*", tokenFor(attackerAudience))),
		dflt(deny("identity token without audience, none approved", "sts:GetWebIdentityToken", "*", tokenFor())),
		dflt(deny("tags on an identity token, no audience approved", "sts:TagGetWebIdentityToken", "*", map[string]any{"aws:TagKeys": []string{"team"}})),
		full(deny("identity token for an approved and an unapproved audience together", "sts:GetWebIdentityToken", "*", tokenFor(tokenAudience, attackerAudience))),
		full(deny("identity token for an unapproved and an approved audience together", "sts:GetWebIdentityToken", "*", tokenFor(attackerAudience, tokenAudience2))),
		full(deny("identity token for an unapproved audience", "sts:GetWebIdentityToken", "*", tokenFor(attackerAudience))),
		full(deny("identity token for an approved audience in capitals (exact match)", "sts:GetWebIdentityToken", "*", tokenFor(strings.ToUpper(tokenAudience)))),
		full(deny("identity token without audience", "sts:GetWebIdentityToken", "*", tokenFor())),
		full(allow("identity token for an approved audience", "sts:GetWebIdentityToken", "*", tokenFor(tokenAudience))),
		full(allow("identity token for two approved audiences", "sts:GetWebIdentityToken", "*", tokenFor(tokenAudience, tokenAudience2))),
		full(allow("tags on an identity token (its audiences are judged on GetWebIdentityToken)", "sts:TagGetWebIdentityToken", "*", map[string]any{"aws:TagKeys": []string{"team"}})),
		allow("read the account's outbound federation settings", "iam:GetOutboundWebIdentityFederationInfo", "*", nil),

		// Contained: allowed to the workload, and harmless to the
		// guardrail, because the lockdown still binds whoever ends up
		// with the permissions (a role's own allows cannot outweigh its
		// explicit denies, and a new role is a service role the enforcer
		// locks down when CloudTrail reports its creation).
		allow("attach admin to itself (Rhino: AttachRolePolicy; lockdown still applies)", "iam:AttachRolePolicy", appRole, pol(adminPolicy)),
		allow("inline admin policy on itself (Rhino: PutRolePolicy; lockdown still applies)", "iam:PutRolePolicy", appRole, nil),
		allow("new version of its own policy (Rhino: CreatePolicyVersion on another policy)", "iam:CreatePolicyVersion", iamPrefix+"policy/orders", nil),
		allow("its own trust policy (judged by the trust engine)", "iam:UpdateAssumeRolePolicy", appRole, nil),
		allow("create an application role (the enforcer locks it down)", "iam:CreateRole", iamPrefix+"role/orders-batch", nil),
		allow("assume another application role (locked down too)", "sts:AssumeRole", otherApp, nil),
		allow("pass an application role to Lambda (Rhino: PassRole+Lambda)", "iam:PassRole", otherApp, passedTo("lambda")),
		allow("pass an application role to EC2 (Rhino: PassRole+EC2)", "iam:PassRole", otherApp, passedTo("ec2")),
		allow("pass an application role to CloudFormation", "iam:PassRole", otherApp, passedTo("cloudformation")),
		allow("pass an application role to Glue (Rhino: PassRole+Glue)", "iam:PassRole", otherApp, passedTo("glue")),

		// An application's ordinary work.
		allow("read an object", "s3:GetObject", "arn:aws:s3:::orders-data/2026/12/03.json", nil),
		allow("write an object", "s3:PutObject", "arn:aws:s3:::orders-data/2026/12/03.json", nil),
		allow("delete an object", "s3:DeleteObject", "arn:aws:s3:::orders-data/2026/12/03.json", nil),
		allow("list a bucket", "s3:ListBucket", "arn:aws:s3:::orders-data", nil),
		allow("read a code asset", "s3:GetObject", assets+"/0123.zip", nil),
		allow("put an item", "dynamodb:PutItem", "arn:aws:dynamodb"+reg+"table/orders", nil),
		allow("query a table", "dynamodb:Query", "arn:aws:dynamodb"+reg+"table/orders", nil),
		allow("send a message", "sqs:SendMessage", "arn:aws:sqs"+reg+"orders-queue", nil),
		allow("receive a message", "sqs:ReceiveMessage", "arn:aws:sqs"+reg+"orders-queue", nil),
		allow("publish a notification", "sns:Publish", "arn:aws:sns"+reg+"orders-events", nil),
		allow("write its logs", "logs:PutLogEvents", "arn:aws:logs"+reg+"log-group:/aws/lambda/orders-api:log-stream:x", nil),
		allow("create its log stream", "logs:CreateLogStream", "arn:aws:logs"+reg+"log-group:/aws/lambda/orders-api:log-stream:x", nil),
		allow("decrypt with an application key", "kms:Decrypt", "arn:aws:kms"+reg+"key/1234abcd-12ab-34cd-56ef-1234567890ab", nil),
		allow("data key from an application key", "kms:GenerateDataKey", "arn:aws:kms"+reg+"key/1234abcd-12ab-34cd-56ef-1234567890ab", nil),
		allow("read a secret", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager"+reg+"secret:orders-db-AbCdEf", nil),
		allow("read a parameter", "ssm:GetParameter", "arn:aws:ssm"+reg+"parameter/orders/config", nil),
		allow("invoke a function", "lambda:InvokeFunction", "arn:aws:lambda"+reg+"function:orders-worker", nil),
		allow("deploy its own function", "lambda:UpdateFunctionCode", "arn:aws:lambda"+reg+"function:orders-worker", nil),
		allow("a function whose name starts with the guardrail's word", "lambda:UpdateFunctionCode", "arn:aws:lambda"+reg+"function:"+NamePrefix+"Tests", nil),
		allow("a role whose name starts with the guardrail's word", "iam:PutRolePolicy", iamPrefix+"role/"+NamePrefix+"Demo", nil),
		allow("a queue whose name starts with the guardrail's word", "sqs:SendMessage", "arn:aws:sqs"+reg+NamePrefix+"Jobs", nil),
		allow("put events on its bus", "events:PutEvents", "arn:aws:events"+reg+"event-bus/orders", nil),
		allow("start a state machine", "states:StartExecution", "arn:aws:states"+reg+"stateMachine:orders", nil),
		allow("put a metric", "cloudwatch:PutMetricData", "*", nil),
		allow("read its own stack", "cloudformation:DescribeStacks", "arn:aws:cloudformation"+reg+"stack/orders/0d5e9f70-1111-2222-3333-444455556666", nil),
		allow("look up CloudTrail events", "cloudtrail:LookupEvents", "*", nil),
		allow("detach another policy from itself", "iam:DetachRolePolicy", appRole, pol(iamPrefix+"policy/orders")),
		allow("read its own role", "iam:GetRole", appRole, nil),

		// The guardrail's functions: what they need, and nothing on the
		// roles the guardrail leaves alone.
		fn(fns, "read a role", "iam:GetRole", appRole, nil, true),
		fn(fns, "read an exempt role (to classify it)", "iam:GetRole", cfnExec, nil, true),
		fn(fns, "list attached policies", "iam:ListAttachedRolePolicies", appRole, nil, true),
		fn(fns, "list inline policies", "iam:ListRolePolicies", appRole, nil, true),
		fn(fns, "read an inline policy (revocation policy check)", "iam:GetRolePolicy", appRole, nil, true),
		fn(fns, "restrict a trust policy", "iam:UpdateAssumeRolePolicy", appRole, nil, true),
		fn(fns, "attach the lockdown", "iam:AttachRolePolicy", appRole, pol(lockdownArn), true),
		fn(fns, "inline lockdown or revocation policy", "iam:PutRolePolicy", appRole, nil, true),
		fn(fns, "read the lockdown policy", "iam:GetPolicy", lockdownArn, nil, true),
		fn(fns, "read a lockdown version", "iam:GetPolicyVersion", lockdownArn, nil, true),
		fn(fns, "list lockdown versions", "iam:ListPolicyVersions", lockdownArn, nil, true),
		fn(fns, "restore the lockdown document", "iam:CreatePolicyVersion", lockdownArn, nil, true),
		fn(fns, "delete the oldest lockdown version", "iam:DeletePolicyVersion", lockdownArn, nil, true),
		fn(fns, "set the lockdown's default version", "iam:SetDefaultPolicyVersion", lockdownArn, nil, true),
		fn(enforcer, "write its decision log", "logs:PutLogEvents", decisionLog+":log-stream:x", nil, true),
		fn(sweeper, "read every role at once", "iam:GetAccountAuthorizationDetails", "*", nil, true),
		fn(enforcer, "no account-wide read for the enforcer", "iam:GetAccountAuthorizationDetails", "*", nil, false),
		fn(fns, "no trust rewrite of an exempt role", "iam:UpdateAssumeRolePolicy", cfnExec, nil, false),
		fn(fns, "no trust rewrite of the deploy role", "iam:UpdateAssumeRolePolicy", deployRole, nil, false),
		fn(fns, "no inline policy on an exempt role", "iam:PutRolePolicy", publishRole, nil, false),
		fn(fns, "no lockdown on an exempt role", "iam:AttachRolePolicy", cfnExec, pol(lockdownArn), false),
		fn(fns, "no inline policy on an exempt role at a path", "iam:PutRolePolicy", iamPrefix+"role/team/cdk-hnb659fds-deploy-role-"+acctID+"-us-east-1", nil, false),
		full(fn(fns, "no trust rewrite of break-glass", "iam:UpdateAssumeRolePolicy", iamPrefix+"role/BreakGlass", nil, false)),
		full(fn(fns, "no inline policy on a path-exempt role", "iam:PutRolePolicy", iamPrefix+"role/admin/ops", nil, false)),
		fn(fns, "no trust rewrite of its own roles", "iam:UpdateAssumeRolePolicy", sweeperArn, nil, false),
		fn(fns, "no inline policy on its own roles", "iam:PutRolePolicy", enforcerArn, nil, false),
		fn(fns, "no write to a service-linked role", "iam:PutRolePolicy", iamPrefix+"role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", nil, false),
		fn(fns, "no other policy attached", "iam:AttachRolePolicy", appRole, pol(adminPolicy), false),
		fn(fns, "no version of another policy", "iam:CreatePolicyVersion", iamPrefix+"policy/orders", nil, false),
		fn(fns, "no detach", "iam:DetachRolePolicy", appRole, pol(lockdownArn), false),
		fn(fns, "no inline policy deletion", "iam:DeleteRolePolicy", appRole, nil, false),
		fn(fns, "no role creation", "iam:CreateRole", iamPrefix+"role/new", nil, false),
		fn(fns, "no role deletion", "iam:DeleteRole", appRole, nil, false),
		fn(fns, "no PassRole", "iam:PassRole", appRole, passedTo("lambda"), false),
		fn(fns, "no AssumeRole", "sts:AssumeRole", cfnExec, nil, false),
		fn(fns, "no lockdown deletion", "iam:DeletePolicy", lockdownArn, nil, false),
		fn(fns, "no code change of its own function", "lambda:UpdateFunctionCode", enforcerFn, nil, false),
		fn(fns, "no access key", "iam:CreateAccessKey", iamPrefix+"user/alice", nil, false),
		fn(fns, "no asset overwrite", "s3:PutObject", assets+"/0123.zip", nil, false),
		fn(fns, "no identity token", "sts:GetWebIdentityToken", "*", tokenFor(tokenAudience), false),
		fn(fns, "no outbound federation switch", "iam:EnableOutboundWebIdentityFederation", "*", nil, false),
	}
	return cases
}

// simResult is one line of simulate.js's output.
type simResult struct {
	Name       string          `json:"name"`
	ResultType string          `json:"resultType"`
	Result     string          `json:"result"`
	Errors     json.RawMessage `json:"errors"`
	DenySids   []string        `json:"denySids"`
	Ignored    []string        `json:"ignoredContextKeys"`
}

// iamSim returns the node binary and the evaluator's node_modules, failing
// the test when `make test` named a directory that lacks the pinned version.
func iamSim(t *testing.T) (node, modules string) {
	t.Helper()
	modules = os.Getenv(envIAMSim)
	if modules == "" {
		// No test is left out silently: the evaluator is a prerequisite,
		// like the emulator of the end-to-end tests (left out only under
		// `go test -short`).
		msg := fmt.Sprintf("%s is not set: the attacker-request table needs @cloud-copilot/iam-simulate; `make test` installs it into .tools/iamsim and sets %s (or run `make tools` and set it to .tools/iamsim/node_modules)", envIAMSim, envIAMSim)
		if testing.Short() {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	var pin struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var installed struct {
		Version string `json:"version"`
	}
	for _, f := range []struct {
		path string
		v    any
	}{
		{filepath.Join("testdata", "iamsim", "package.json"), &pin},
		{filepath.Join(modules, "@cloud-copilot", "iam-simulate", "package.json"), &installed},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatalf("%s=%s: %v", envIAMSim, modules, err)
		}
		if err := json.Unmarshal(data, f.v); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
	}
	if want := pin.Dependencies["@cloud-copilot/iam-simulate"]; installed.Version != want {
		t.Fatalf("installed @cloud-copilot/iam-simulate is %q, want the pinned %q (make test reinstalls it)", installed.Version, want)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	return node, modules
}

// simPolicies returns each principal's identity policies as deployed.
func simPolicies(t *testing.T, s synthesized, r resolver) map[string][]any {
	t.Helper()
	named := func(name string, doc any) any { return map[string]any{"name": name, "policy": doc} }
	_, lockdownProps := s.byName(t, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", "GuardrailLockdown")
	out := map[string][]any{
		svc: {
			named("AdministratorAccess", map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}),
			named("GuardrailLockdown", r.resolve(lockdownProps["PolicyDocument"])),
		},
	}
	for who, name := range map[string]string{enforcer: EnforcerName, sweeper: SweeperName} {
		id, props := s.byName(t, "AWS::IAM::Role", "RoleName", name)
		if props["ManagedPolicyArns"] != nil {
			t.Fatalf("%s has managed policies; the table models inline ones only", name)
		}
		for i, p := range props["Policies"].([]any) {
			p := p.(map[string]any)
			out[who] = append(out[who], named(fmt.Sprintf("inline%d-%v", i, p["PolicyName"]), r.resolve(p["PolicyDocument"])))
		}
		for pid, res := range s.resources("AWS::IAM::Policy") {
			p := res["Properties"].(map[string]any)
			if jsonEqual(t, p["Roles"], []any{ref(id)}) {
				out[who] = append(out[who], named(pid, r.resolve(p["PolicyDocument"])))
			}
		}
	}
	return out
}

func TestAttackerRequests(t *testing.T) {
	node, modules := iamSim(t)
	type run struct {
		name string
		s    synthesized
	}
	total := 0
	for _, st := range []run{{"default", defaults(t)}, {"full", full(t)}} {
		t.Run(st.name, func(t *testing.T) {
			r := newResolver(t, st.s)
			keyID, _ := st.s.byName(t, "AWS::KMS::Key", "Description", "Encrypts the guardrail's alarm topic")
			trailBucket := "arn:aws:s3:::no-trail-bucket"
			for id := range st.s.resources("AWS::S3::Bucket") {
				trailBucket = r.getAtt(id, "Arn")
			}
			policies := simPolicies(t, st.s, r)
			principals := map[string]string{svc: appRole, enforcer: enforcerArn, sweeper: sweeperArn}

			var cases []simCase
			var input []map[string]any
			for _, c := range simCases(r.getAtt(keyID, "Arn"), trailBucket) {
				if (c.fullOnly && st.name != "full") || (c.defaultOnly && st.name != "default") {
					continue
				}
				whos := []string{c.who}
				if c.who == fns {
					whos = []string{enforcer, sweeper}
				}
				for _, who := range whos {
					c := c
					c.who = who
					cases = append(cases, c)
					req := map[string]any{
						"name": fmt.Sprintf("%s: %s", who, c.name), "principal": principals[who], "account": acctID,
						"action": c.action, "resource": c.resource, "context": c.context, "policies": policies[who],
					}
					if strings.HasPrefix(c.action, "kms:") {
						// KMS needs a key policy; this is the default one,
						// which lets IAM policies decide (the CDK gives the
						// alarm key the same statement).
						req["resourcePolicy"] = map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
							"Sid": "EnableIAMPolicies", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + acctID + ":root"},
							"Action": "kms:*", "Resource": "*"}}}
					}
					input = append(input, req)
				}
			}
			in, err := json.Marshal(map[string]any{"cases": input})
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, filepath.Join("testdata", "iamsim", "simulate.js"))
			cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			outData, err := cmd.Output()
			if err != nil {
				t.Fatalf("simulate.js: %v\n%s", err, stderr.String())
			}
			var results []simResult
			if err := json.Unmarshal(outData, &results); err != nil {
				t.Fatalf("simulate.js output: %v\n%s", err, outData)
			}
			if len(results) != len(cases) {
				t.Fatalf("%d results for %d requests", len(results), len(cases))
			}
			counts := map[string]int{}
			decisive := map[string]bool{}
			for i, c := range cases {
				res := results[i]
				if res.ResultType == "error" {
					t.Errorf("%s: the evaluator refused the request: %s", res.Name, res.Errors)
					continue
				}
				if len(res.Ignored) > 0 {
					t.Errorf("%s: context keys %v do not apply to %s; the request is mis-modelled", res.Name, res.Ignored, c.action)
				}
				if c.who == svc {
					for _, sid := range res.DenySids {
						decisive[sid] = true
					}
				}
				want := "ExplicitlyDenied"
				if c.allow {
					want = "Allowed"
				}
				// A guardrail function is denied most things implicitly
				// (never granted); a service role only explicitly (it
				// holds AdministratorAccess).
				got := res.Result
				if c.who != svc && !c.allow && got == "ImplicitlyDenied" {
					got = want
				}
				if got != want {
					t.Errorf("%s (%s on %s): %s, want %s", res.Name, c.action, c.resource, res.Result, want)
				}
				counts[fmt.Sprintf("%s %s", c.who, map[bool]string{true: "allowed", false: "denied"}[c.allow])]++
			}
			// Every lockdown statement denies at least one request of the
			// table: none is dead or untested.
			_, lp := st.s.byName(t, "AWS::IAM::ManagedPolicy", "ManagedPolicyName", "GuardrailLockdown")
			for _, stmt := range r.resolve(lp["PolicyDocument"]).(map[string]any)["Statement"].([]any) {
				if sid := stmt.(map[string]any)["Sid"].(string); !decisive[sid] {
					t.Errorf("no request of the table is denied by lockdown statement %s", sid)
				}
			}
			t.Logf("%d requests evaluated by @cloud-copilot/iam-simulate: %v", len(cases), counts)
			total += len(cases)
		})
	}
	if total < 120 && !t.Failed() {
		t.Errorf("only %d requests; the table must hold at least 120", total)
	}
}
