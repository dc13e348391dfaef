// Package stack provides the guardrail's CloudFormation stack as a CDK
// construct (DESIGN.md §2, §5–§8, §10): the lockdown managed policy, the
// enforcer and sweeper functions with least-privilege roles, the EventBridge
// rule on CloudTrail IAM events, the sweep schedule, dead-letter queues,
// alarms, saved Logs Insights queries and, on request, a minimal trail.
//
// Every resource with a physical name carries NamePrefix and '-', because
// the lockdown policy protects the guardrail by name pattern: it cannot name
// the resources' ARNs without a CloudFormation dependency cycle (the
// functions read the policy's ARN). The alarm key and the trail bucket,
// which do not depend on the policy, are protected by exact ARN and name.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/cloudtrail"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// Names shared by the stack and its tests.
const (
	// DefaultStackName is the stack's name: NamePrefix, or NamePrefix-…,
	// so the lockdown's ProtectGuardrailStack statement covers it.
	DefaultStackName = "IamRoleGuardrail"
	// NamePrefix starts the physical name of every named resource.
	NamePrefix = lockdown.DefaultNamePrefix
	// RequiredRegion is the only region the stack deploys to: IAM is a
	// global service whose CloudTrail events reach EventBridge in
	// us-east-1 only (EventBridge user guide; aws-facts.md §1.1).
	RequiredRegion = "us-east-1"

	// EnforcerName and SweeperName name both the functions and their
	// roles (at path "/", which the lockdown's role pattern assumes).
	EnforcerName = NamePrefix + "-Enforcer"
	SweeperName  = NamePrefix + "-Sweeper"

	// EnforcerZip and SweeperZip are the `make build` outputs in DistDir.
	EnforcerZip = "enforcer.zip"
	SweeperZip  = "sweeper.zip"

	// ErrorMetric counts ERROR-level log lines of both functions (failed
	// evaluations the enforcer acknowledged, configuration errors at
	// start), extracted by metric filters in MetricNamespace. pkg/decision
	// declares it among the metrics the guardrail writes, so the cost
	// estimate counts it.
	ErrorMetric     = decision.MetricErrorRecords
	MetricNamespace = config.DefaultMetricsNamespace
)

// Function settings (DESIGN.md §2, §8).
const (
	// The enforcer evaluates one role: a handful of IAM calls, stale-read
	// re-reads of about 6 s and SDK retries with backoff. An event whose
	// claim the reads never show is re-checked after IAM's consistency
	// window (2 minutes by default) in the same invocation (issue 19,
	// README "Consistency"): the timeout covers that wait, so a superseded
	// claim costs no failed invocation and no alarm.
	enforcerTimeoutSeconds = 180
	enforcerMemoryMB       = 128
	// The sweeper reads every role in a few paginated calls and evaluates
	// them concurrently; it stops early inside the 15-minute maximum.
	sweeperTimeoutSeconds = 900
	sweeperMemoryMB       = 256
	// One sweep at a time: overlapping sweeps only double IAM traffic.
	sweeperConcurrency = 1
	// Lambda's own retries of a failed asynchronous invocation before the
	// event goes to the failed-invocations queue.
	enforcerRetryAttempts = 2
	enforcerMaxEventAge   = 6  // hours, Lambda's maximum
	sweeperRetryAttempts  = 1  // a sweep that failed twice waits for the next schedule
	sweeperMaxEventAge    = 1  // hours
	queueRetentionDays    = 14 // SQS maximum: time to inspect and redrive
	// EventBridge's delivery retries to the function (its defaults, set
	// explicitly): only delivery failures (throttled invoke, missing
	// permission) count, not function errors.
	ruleRetryAttempts    = 185
	ruleMaxEventAgeHours = 24
)

// Props configures one guardrail stack.
type Props struct {
	// Settings is the validated configuration (infra/settings).
	Settings settings.Settings
	// Region is the region the deployment targets; anything but
	// RequiredRegion is refused.
	Region string
	// Account pins the stack to an account ID; "" leaves it
	// environment-agnostic (resolved by CloudFormation at deployment).
	Account string
	// StackName defaults to DefaultStackName.
	StackName string
}

// RegionError is returned for a deployment region other than
// RequiredRegion.
type RegionError struct{ Region string }

func (e *RegionError) Error() string {
	return fmt.Sprintf("the guardrail stack must be deployed to %s, not %q: IAM is a global service and its CloudTrail events reach EventBridge only in %s, so a rule in any other region never fires. Select %s (AWS_REGION=%s, or a profile whose region is %s)",
		RequiredRegion, e.Region, RequiredRegion, RequiredRegion, RequiredRegion, RequiredRegion)
}

// ContextSettings reads and validates the settings from scope's CDK context
// (cdk.json "context" and `cdk -c key=value`).
func ContextSettings(scope constructs.Construct) (settings.Settings, error) {
	return settings.Parse(func(key string) any { return scope.Node().TryGetContext(jsii.String(key)) })
}

// ErrMissingBuild is returned when DistDir lacks a function package.
var ErrMissingBuild = errors.New("function package missing; run `make build` first")

// functionPackages returns the paths of enforcer.zip and sweeper.zip in
// distDir, by file name.
func functionPackages(distDir string) (map[string]string, error) {
	zips := map[string]string{}
	for _, z := range []string{EnforcerZip, SweeperZip} {
		path := filepath.Join(distDir, z)
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w", path, ErrMissingBuild)
		}
		zips[z] = path
	}
	return zips, nil
}

// New adds the guardrail stack to scope. It validates the region, the
// account and the function packages before creating anything.
func New(scope constructs.Construct, p Props) (awscdk.Stack, error) {
	if p.Region != RequiredRegion {
		return nil, &RegionError{Region: p.Region}
	}
	if p.Account != "" {
		if err := config.ValidateAccountID(p.Account); err != nil {
			return nil, fmt.Errorf("deployment account: %w", err)
		}
	}
	name := p.StackName
	if name == "" {
		name = DefaultStackName
	}
	if name != NamePrefix && !strings.HasPrefix(name, NamePrefix+"-") {
		return nil, fmt.Errorf("stack name %q must be %q or start with %q: the lockdown policy protects the stack by that name", name, NamePrefix, NamePrefix+"-")
	}
	s := p.Settings
	zips, err := functionPackages(s.DistDir)
	if err != nil {
		return nil, err
	}
	env := &awscdk.Environment{Region: jsii.String(RequiredRegion)}
	if p.Account != "" {
		env.Account = jsii.String(p.Account)
	}
	stack := awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		StackName:   jsii.String(name),
		Env:         env,
		Description: jsii.String("IAM service-role guardrail: strips untrusted principals from role trust policies and attaches the lockdown deny policy (see README)"),
	})
	qualifier := settings.DefaultBootstrapQualifier
	if q, ok := stack.Node().TryGetContext(jsii.String(settings.BootstrapQualifierKey)).(string); ok && q != "" {
		qualifier = q
	}
	b := newBuilder(stack, s, NamePrefix)
	b.qualifier = qualifier
	b.exempt = append(settings.BootstrapRoleNames(qualifier, b.account, RequiredRegion), s.ExemptRoles...)
	if err := b.build(zips); err != nil {
		return nil, err
	}
	return stack, nil
}

// builder adds the guardrail's constructs to one stack. The single-account
// stack, the organization hub and the member template share it, so each
// construct is written once (hub.go, member.go).
type builder struct {
	stack              awscdk.Stack
	s                  settings.Settings
	partition, account string
	// qualifier is the CDK bootstrap qualifier (settings.BootstrapQualifierKey).
	qualifier string
	// prefix starts the physical name of every resource the builder names
	// (NamePrefix, or HubPrefix in the hub), always followed by '-'.
	prefix string
	// exempt are the exemption globs of the accounts the functions guard:
	// the lockdown document's ExemptRoles and GUARDRAIL_EXEMPT_ROLES.
	exempt []string
}

func newBuilder(stack awscdk.Stack, s settings.Settings, prefix string) *builder {
	return &builder{stack: stack, s: s, partition: *stack.Partition(), account: *stack.Account(),
		qualifier: settings.DefaultBootstrapQualifier, prefix: prefix}
}

// name returns the physical name of one of the builder's resources.
func (b *builder) name(suffix string) string { return b.prefix + "-" + suffix }

func (b *builder) iamARN(resource string) string {
	return "arn:" + b.partition + ":iam::" + b.account + ":" + resource
}

func (b *builder) build(zips map[string]string) error {
	st := b.stack

	// The alarm topic's key and the trail bucket come first: the lockdown
	// names them exactly (neither depends on the policy).
	topic, alarmKey := b.alarmTopic()
	buckets := []string{settings.AssetsBucketName(b.qualifier, b.account, RequiredRegion)}
	if b.s.CreateTrail {
		buckets = append(buckets, *b.trail().BucketName())
	}
	buckets = append(buckets, b.s.ProtectedBuckets...)

	// The lockdown policy, built by pkg/lockdown with the stack's own
	// partition and account (tokens resolved by CloudFormation).
	policy, err := b.lockdownPolicy(*alarmKey.KeyArn(), buckets)
	if err != nil {
		return err
	}
	lockdownARN := policy.AttrPolicyArn()

	rt := b.runtime(zips, runtimeSpec{
		statements:          func(sweep bool) []awsiam.PolicyStatement { return b.engineStatements(lockdownARN, sweep) },
		enforcerDescription: "Evaluates the role named by each CloudTrail IAM event and enforces the guardrail",
		sweeperDescription:  "Evaluates every role in the account on a schedule and enforces the guardrail",
		securityHub:         b.s.SecurityHub,
		env: func(enforcerRole, sweeperRole awsiam.Role) map[string]*string {
			env := b.lockdownEnv(lockdownARN, alarmKey.KeyArn(), buckets)
			// The guardrail's own roles are never evaluated: the name pattern
			// covers both roles and any future one; the exact ARNs are listed too
			// so the enforcer's own-actor check does not depend on the pattern.
			env[config.EnvProtectedRoleARNs] = awscdk.Fn_Join(jsii.String(","), &[]*string{
				jsii.String(b.iamARN("role/" + NamePrefix + "-*")), enforcerRole.RoleArn(), sweeperRole.RoleArn(),
			})
			return env
		},
	})

	// The IAM event rule (DESIGN.md §2). Pinning source aws.iam also
	// stops forged events: PutEvents cannot use an aws.* source.
	detail := EventPatternDetail([]string{*rt.enforcerRole.RoleArn(), *rt.sweeperRole.RoleArn()}, *lockdownARN)
	rule := awsevents.NewRule(st, jsii.String("RoleChangeRule"), &awsevents.RuleProps{
		RuleName:     jsii.String(b.name("RoleChanges")),
		Description:  jsii.String("Successful IAM role changes and lockdown policy versions recorded by CloudTrail, except the guardrail's own, to the enforcer"),
		EventPattern: rolePattern(detail),
	})
	rule.AddTarget(ruleTarget(rt.enforcer, rt.deliveryDLQ))
	b.monitor(topic, alarmKey, rt)

	awscdk.NewCfnOutput(st, jsii.String("LockdownPolicyArn"), &awscdk.CfnOutputProps{Value: lockdownARN, Description: jsii.String("The lockdown managed policy")})
	b.outputs(topic, rt)

	suppress(b)
	return nil
}

// lockdownPolicy is the lockdown managed policy built by pkg/lockdown for
// the builder's partition and account, exemptions and settings.
func (b *builder) lockdownPolicy(alarmKeyARN string, buckets []string) (awsiam.CfnManagedPolicy, error) {
	doc, err := lockdown.Document(lockdown.Config{
		Partition: b.partition, Account: b.account, NamePrefix: NamePrefix,
		ExtraDeniedActions: b.s.ExtraDeniedActions, ExemptRoles: b.exempt,
		AlarmKeyARN: alarmKeyARN, ProtectedBuckets: buckets,
		AllowedTokenAudiences: b.s.AllowedTokenAudiences,
	})
	if err != nil {
		return nil, fmt.Errorf("lockdown policy: %w", err)
	}
	var docJSON map[string]any
	if err := json.Unmarshal(doc, &docJSON); err != nil {
		return nil, fmt.Errorf("lockdown policy: %w", err)
	}
	return awsiam.NewCfnManagedPolicy(b.stack, jsii.String("LockdownPolicy"), &awsiam.CfnManagedPolicyProps{
		ManagedPolicyName: jsii.String(lockdown.PolicyName),
		Description:       jsii.String("Guardrail lockdown: explicit denies attached to every service role (protects the guardrail, audit, credentials, account)"),
		PolicyDocument:    docJSON,
	}), nil
}

// lockdownEnv returns the functions' environment: the settings' variables,
// the exemptions, and every input of the lockdown document besides the
// settings' extra actions, so the functions rebuild exactly the document
// deployed and can restore it (TestFunctionsRebuildLockdown).
func (b *builder) lockdownEnv(lockdownARN, alarmKeyARN *string, buckets []string) map[string]*string {
	env := map[string]*string{}
	for k, v := range b.s.Env() {
		env[k] = jsii.String(v)
	}
	env[config.EnvExemptRoles] = jsii.String(strings.Join(b.exempt, ","))
	env[config.EnvLockdownPolicyARN] = lockdownARN
	env[config.EnvLockdownAlarmKeyARN] = alarmKeyARN
	env[config.EnvLockdownProtectedBuckets] = jsii.String(strings.Join(buckets, ","))
	return env
}

// rolePattern is the IAM event rule's pattern with the given detail.
func rolePattern(detail map[string]any) *awsevents.EventPattern {
	return &awsevents.EventPattern{
		Source:     jsii.Strings(cloudtrail.Source),
		DetailType: jsii.Strings(cloudtrail.DetailType),
		Detail:     &detail,
	}
}

// runtimeSpec holds what differs between the single-account functions and
// the hub's.
type runtimeSpec struct {
	// statements returns the role's permissions besides writing its own
	// log group; sweep is true for the sweeper.
	statements                              func(sweep bool) []awsiam.PolicyStatement
	enforcerDescription, sweeperDescription string
	// env returns both functions' environment, given their roles.
	env func(enforcerRole, sweeperRole awsiam.Role) map[string]*string
	// securityHub lets the functions import Security Hub findings
	// (publishing, notify.go).
	securityHub bool
}

// runtime is what runs the guardrail: the two functions with their log
// groups and roles, the queues where undeliverable and failed events end,
// the enforcer's re-check queue and the sweep schedule.
type runtime struct {
	deliveryDLQ, failedQ awssqs.Queue
	// recheckDLQ is the re-check queue's dead-letter queue (recheck.go).
	recheckDLQ                awssqs.Queue
	enforcerLogs, sweeperLogs awslogs.LogGroup
	enforcerRole, sweeperRole awsiam.Role
	enforcer, sweeper         awslambda.Function
}

// runtime adds the functions, their roles and log groups, the queues and
// the sweep schedule. The caller adds the event rule, whose pattern needs
// the roles' ARNs.
func (b *builder) runtime(zips map[string]string, spec runtimeSpec) runtime {
	var rt runtime
	// Queues: where events end when EventBridge cannot deliver them
	// (rule DLQ) and when the functions fail them after Lambda's retries
	// (on-failure destination). Both keep the whole event for a redrive.
	rt.deliveryDLQ = b.queue("EventDeliveryDLQ", b.name("EventDeliveryDLQ"))
	rt.failedQ = b.queue("FailedInvocationsQueue", b.name("FailedInvocations"))

	enforcerName, sweeperName := b.name("Enforcer"), b.name("Sweeper")
	rt.enforcerLogs = b.logGroup("EnforcerLogs", enforcerName)
	rt.sweeperLogs = b.logGroup("SweeperLogs", sweeperName)
	rt.enforcerRole = b.role("EnforcerRole", enforcerName, "the enforcer", rt.enforcerLogs, spec.statements(false))
	rt.sweeperRole = b.role("SweeperRole", sweeperName, "the sweeper", rt.sweeperLogs, spec.statements(true))

	env := spec.env(rt.enforcerRole, rt.sweeperRole)
	// Decision events and, on request, Security Hub findings (notify.go);
	// they add to env, so before the functions.
	b.publishing(env, []awsiam.Role{rt.enforcerRole, rt.sweeperRole}, spec.securityHub)
	rt.enforcer = b.function(functionSpec{
		id: "Enforcer", name: enforcerName, zip: zips[EnforcerZip], role: rt.enforcerRole, logs: rt.enforcerLogs,
		description: spec.enforcerDescription,
		memoryMB:    enforcerMemoryMB, timeoutSeconds: enforcerTimeoutSeconds,
		concurrency: float64(b.s.EnforcerConcurrency), retryAttempts: enforcerRetryAttempts, maxEventAgeHours: enforcerMaxEventAge,
	}, env, rt.failedQ)
	// The enforcer's re-check queue (recheck.go).
	rt.recheckDLQ = b.recheck(rt.enforcer, rt.enforcerRole)
	rt.sweeper = b.function(functionSpec{
		id: "Sweeper", name: sweeperName, zip: zips[SweeperZip], role: rt.sweeperRole, logs: rt.sweeperLogs,
		description: spec.sweeperDescription,
		memoryMB:    sweeperMemoryMB, timeoutSeconds: sweeperTimeoutSeconds,
		concurrency: sweeperConcurrency, retryAttempts: sweeperRetryAttempts, maxEventAgeHours: sweeperMaxEventAge,
	}, env, rt.failedQ)

	sweep := awsevents.NewRule(b.stack, jsii.String("SweepSchedule"), &awsevents.RuleProps{
		RuleName:    jsii.String(b.name("Sweep")),
		Description: jsii.String("Runs the sweeper over every role"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(b.s.SweepSchedule)),
	})
	sweep.AddTarget(ruleTarget(rt.sweeper, rt.deliveryDLQ))
	return rt
}

// monitor adds what operators watch over the runtime: the alarms on topic,
// the decision notifications and the heartbeat and lag alarms (notify.go;
// the decision topic is encrypted with key, the alarm topic's), the
// dashboard (dashboard.go) and the saved queries.
func (b *builder) monitor(topic awssns.Topic, key awskms.Key, rt runtime) {
	fns := map[string]awslambda.Function{"Enforcer": rt.enforcer, "Sweeper": rt.sweeper}
	queues := map[string]awssqs.Queue{"EventDeliveryDLQ": rt.deliveryDLQ, "FailedInvocations": rt.failedQ, "RecheckDLQ": rt.recheckDLQ}
	logGroups := []awslogs.LogGroup{rt.enforcerLogs, rt.sweeperLogs}
	b.alarms(topic, fns, queues, logGroups)
	b.notifications(key, topic, rt.sweeperLogs)
	b.dashboard(fns, queues, logGroups)

	for i, q := range Queries(b.prefix) {
		awslogs.NewCfnQueryDefinition(b.stack, jsii.String(fmt.Sprintf("Query%d", i)), &awslogs.CfnQueryDefinitionProps{
			Name:          jsii.String(q.Name),
			QueryString:   jsii.String(q.String),
			LogGroupNames: &[]any{rt.enforcerLogs.LogGroupName(), rt.sweeperLogs.LogGroupName()},
		})
	}
}

// outputs adds the alarm topic and the decision log groups as outputs.
func (b *builder) outputs(topic awssns.Topic, rt runtime) {
	awscdk.NewCfnOutput(b.stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn(), Description: jsii.String("Subscribe here to receive the guardrail's alarms")})
	awscdk.NewCfnOutput(b.stack, jsii.String("DecisionLogGroups"), &awscdk.CfnOutputProps{
		Value:       awscdk.Fn_Join(jsii.String(","), &[]*string{rt.enforcerLogs.LogGroupName(), rt.sweeperLogs.LogGroupName()}),
		Description: jsii.String("Log groups holding the decision records"),
	})
}

// functionSpec holds what differs between the enforcer and the sweeper.
type functionSpec struct {
	id, name, description, zip string
	role                       awsiam.Role
	logs                       awslogs.LogGroup
	memoryMB, timeoutSeconds   float64
	concurrency                float64 // reserved concurrency
	retryAttempts              float64 // Lambda's retries of a failed asynchronous invocation
	maxEventAgeHours           float64
}

// function creates a guardrail function: the bootstrap on arm64, JSON logs
// into its own log group, reserved concurrency, and failed invocations sent
// to failedQ after Lambda's retries. Recursive loops are stopped.
func (b *builder) function(f functionSpec, env map[string]*string, failedQ awssqs.Queue) awslambda.Function {
	return awslambda.NewFunction(b.stack, jsii.String(f.id), &awslambda.FunctionProps{
		FunctionName: jsii.String(f.name),
		Description:  jsii.String(f.description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(), Architecture: awslambda.Architecture_ARM_64(),
		Handler: jsii.String("bootstrap"), Code: awslambda.Code_FromAsset(jsii.String(f.zip), nil),
		MemorySize: jsii.Number(f.memoryMB), Timeout: awscdk.Duration_Seconds(jsii.Number(f.timeoutSeconds)),
		Role: f.role, LogGroup: f.logs,
		LoggingFormat: awslambda.LoggingFormat_JSON, ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO, SystemLogLevelV2: awslambda.SystemLogLevel_INFO,
		ReservedConcurrentExecutions: jsii.Number(f.concurrency),
		Environment:                  &env,
		OnFailure:                    awslambdadestinations.NewSqsDestination(failedQ),
		RetryAttempts:                jsii.Number(f.retryAttempts),
		MaxEventAge:                  awscdk.Duration_Hours(jsii.Number(f.maxEventAgeHours)),
		RecursiveLoop:                awslambda.RecursiveLoop_TERMINATE,
	})
}

// ruleTarget delivers an EventBridge rule's events to fn with EventBridge's
// delivery retries; what still cannot be delivered goes to dlq.
func ruleTarget(fn awslambda.Function, dlq awssqs.Queue) awsevents.IRuleTarget {
	return awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(ruleRetryAttempts),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(ruleMaxEventAgeHours)),
	})
}

// queue is an end-of-line dead-letter queue: encrypted at rest with
// SQS-managed keys (which EventBridge and Lambda can write to without a key
// policy) and refusing any request not made over TLS.
func (b *builder) queue(id, name string) awssqs.Queue {
	return awssqs.NewQueue(b.stack, jsii.String(id), &awssqs.QueueProps{
		QueueName:       jsii.String(name),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(queueRetentionDays)),
	})
}

// logGroup creates a function's log group ahead of the function, so it has
// a retention and outlives the stack: decision records are the undo log.
func (b *builder) logGroup(id, function string) awslogs.LogGroup {
	lg := awslogs.NewLogGroup(b.stack, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + function),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// The L2 construct takes an enum; the validated day count goes
	// straight to CloudFormation.
	lg.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(jsii.Number(float64(b.s.LogRetentionDays)))
	return lg
}

// role returns a function's role: writing its own log group, and stmts.
func (b *builder) role(id, name, what string, lg awslogs.LogGroup, stmts []awsiam.PolicyStatement) awsiam.Role {
	stmts = append([]awsiam.PolicyStatement{
		allow("WriteOwnLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{*lg.LogGroupArn()}, nil),
	}, stmts...)
	return awsiam.NewRole(b.stack, jsii.String(id), &awsiam.RoleProps{
		RoleName:       jsii.String(name),
		Description:    jsii.String("Execution role of " + what + " of the IAM role guardrail"),
		AssumedBy:      awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"Guardrail": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &stmts})},
	})
}

// engineStatements are the IAM permissions of the engine in the builder's
// account: only what it calls (pkg/guardrail.IAM), the sweeper's listing
// when sweep is set. The single-account functions' roles hold them, and so
// does the member role the hub assumes in each member account.
func (b *builder) engineStatements(lockdownARN *string, sweep bool) []awsiam.PolicyStatement {
	anyRole := b.iamARN("role/*")
	// Roles the functions may never write to: their own (the guardrail
	// class), service-linked and AWS-reserved roles (IAM refuses those
	// anyway), and every exempt role, by the same patterns the lockdown
	// denies service roles. Were the functions' code compromised, their
	// IAM writes still could not reach a role the guardrail leaves alone.
	never := append([]string{
		b.iamARN("role/" + NamePrefix + "-*"),
		b.iamARN("role/aws-service-role/*"),
		b.iamARN("role/aws-reserved/*"),
	}, lockdown.RolePatterns(b.partition, b.account, b.exempt)...)
	stmts := []awsiam.PolicyStatement{
		// Reading a role's current state: trust policy, managed and inline
		// policies. IAM has no narrower resource: any role may be a
		// service role.
		allow("ReadRoles", []string{"iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:GetRolePolicy"}, []string{anyRole}, nil),
		// The engine reads the lockdown policy's document (for the inline
		// fallback) and restores it when its default version was changed:
		// a new default version, and the oldest non-default version
		// deleted when the policy already has five (IAM user guide,
		// "Versioning IAM policies"). On the lockdown policy only.
		allow("RestoreLockdownPolicy", []string{"iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:GetPolicy",
			"iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:SetDefaultPolicyVersion"}, []string{*lockdownARN}, nil),
		// Stripping untrusted principals from trust policies.
		allow("RestrictTrust", []string{"iam:UpdateAssumeRolePolicy"}, []string{anyRole}, nil),
		// The write marker that goes with each trust write (issue 19,
		// pkg/guardrail marker.go): TagRole with that one tag key only
		// (aws:TagKeys, IAM User Guide, "Controlling access to and for IAM
		// users and roles using tags"); the functions never untag.
		allow("MarkTrustWrites", []string{"iam:TagRole"}, []string{anyRole},
			map[string]any{"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": lockdown.MarkerTagKey}}),
		// Only the lockdown policy can be attached: iam:PolicyARN is the
		// documented condition key of AttachRolePolicy.
		allow("AttachLockdown", []string{"iam:AttachRolePolicy"}, []string{anyRole},
			map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": *lockdownARN}}),
		// The inline fallback GuardrailLockdown and the session revocation
		// GuardrailRevokeOlderSessions, also when restoring a deleted or
		// rewritten one (read back with iam:GetRolePolicy, above).
		// PutRolePolicy has no condition key naming the inline policy (its
		// only key is iam:PermissionsBoundary, Service Authorization
		// Reference), so it cannot be narrowed to those two names; the
		// deny below keeps it off protected and exempt roles.
		allow("PutLockdownInline", []string{"iam:PutRolePolicy"}, []string{anyRole}, nil),
		// Defence in depth: classification already keeps the engine off
		// these roles; the explicit deny holds even if the code does not.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("NeverTouchProtectedRoles"),
			Effect:    awsiam.Effect_DENY,
			Actions:   jsii.Strings("iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:TagRole"),
			Resources: jsii.Strings(never...),
		}),
	}
	if sweep {
		// Lists every role with its trust and attached policies in a few
		// paginated calls. The action supports no resource-level
		// permissions, so its resource must be "*".
		stmts = append(stmts, allow("ListAllRoles", []string{"iam:GetAccountAuthorizationDetails"}, []string{"*"}, nil))
	}
	return stmts
}

func allow(sid string, actions, resources []string, cond map[string]any) awsiam.PolicyStatement {
	p := &awsiam.PolicyStatementProps{
		Sid: jsii.String(sid), Effect: awsiam.Effect_ALLOW,
		Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...),
	}
	if cond != nil {
		p.Conditions = &cond
	}
	return awsiam.NewPolicyStatement(p)
}

// alarmTopic is the SNS topic every alarm notifies, encrypted with a
// customer-managed key because CloudWatch cannot use SNS's AWS-managed key.
func (b *builder) alarmTopic() (awssns.Topic, awskms.Key) {
	key := awskms.NewKey(b.stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Alias:             jsii.String("alias/" + b.name("Alarms")),
		Description:       jsii.String("Encrypts the guardrail's alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
	})
	// CloudWatch alarms publish to the encrypted topic with these two
	// calls (CloudWatch user guide, alarms and encrypted SNS topics).
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(b.stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		TopicName:   jsii.String(b.name("Alarms")),
		DisplayName: jsii.String("IAM role guardrail alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	if b.s.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(b.s.AlarmEmail), nil))
	}
	return topic, key
}

// alarms fire on the first occurrence of anything that means a role may
// have gone unchecked: a function error or throttle, an event in a
// dead-letter queue, an ERROR record. They use the free AWS/Lambda and
// AWS/SQS metrics wherever those say the same as a custom one (a sweep that
// leaves roles or fails evaluations returns an error, so Sweeper-Errors
// covers it); the one custom metric, ErrorRecords, receives data only when
// an ERROR line is logged, so a healthy month pays for no hour of it
// (issue 20; pkg/cost).
func (b *builder) alarms(topic awssns.Topic, fns map[string]awslambda.Function, queues map[string]awssqs.Queue, logGroups []awslogs.LogGroup) {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	add := func(id, name, desc string, m awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(b.stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(b.name(name)),
			AlarmDescription:   jsii.String(desc),
			Metric:             m,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			DatapointsToAlarm:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	}
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	for _, n := range []string{"Enforcer", "Sweeper"} {
		fn := fns[n]
		add(n+"ErrorsAlarm", n+"-Errors", "The "+n+" function failed an invocation; Lambda retries it, then the event lands in the failed-invocations queue", fn.MetricErrors(sum))
		add(n+"ThrottlesAlarm", n+"-Throttles", "The "+n+" function was throttled at its reserved concurrency; events are retried, but a role stays unchecked meanwhile", fn.MetricThrottles(sum))
	}
	names := make([]string, 0, len(queues))
	for n := range queues {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		add(n+"Alarm", n+"-NotEmpty", "An event reached the "+n+" queue: a role change was not evaluated. Inspect the message, fix the cause, redrive it",
			queues[n].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}))
	}
	for i, lg := range logGroups {
		awslogs.NewMetricFilter(b.stack, jsii.String(fmt.Sprintf("ErrorRecordsFilter%d", i)), &awslogs.MetricFilterProps{
			LogGroup:        lg,
			FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(`{ $.level = "ERROR" }`)),
			MetricNamespace: jsii.String(MetricNamespace),
			MetricName:      jsii.String(ErrorMetric),
			MetricValue:     jsii.String("1"),
		})
	}
	add("ErrorRecordsAlarm", "ErrorRecords", "A function logged an ERROR record (failed evaluation or invalid configuration); see the Failures saved query",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(ErrorMetric), Period: five, Statistic: jsii.String("Sum")}))
}

// trail is the minimal trail for accounts without one: write management
// events of every region, including IAM's global events, to a private,
// encrypted, TLS-only bucket. EventBridge receives CloudTrail API events
// only while a trail logs them (EventBridge user guide).
func (b *builder) trail() awss3.Bucket {
	bucket := awss3.NewBucket(b.stack, jsii.String("TrailBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	awscloudtrail.NewTrail(b.stack, jsii.String("Trail"), &awscloudtrail.TrailProps{
		TrailName:                  jsii.String(NamePrefix + "-ManagementEvents"),
		Bucket:                     bucket,
		IsMultiRegionTrail:         jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(true),
		ManagementEvents:           awscloudtrail.ReadWriteType_WRITE_ONLY,
		EnableFileValidation:       jsii.Bool(true),
	})
	return bucket
}
