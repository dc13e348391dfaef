package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/iamguardrail/guardrail/pkg/config"
)

// The re-check queue (issue 19, README "Consistency"): after the first
// evaluation of an event that sets a trust policy, the enforcer sends the
// event to this queue with a delay past IAM's consistency window, and the
// queue's event-source mapping delivers it back, so that a read made after
// the window can tell whether a concurrent write clobbered the owner's newer
// policy. A re-check that fails three deliveries lands in a dead-letter
// queue whose alarm pages, like the failed-invocations queue.
const (
	// RecheckQueueName and RecheckDLQName name the queue and its
	// dead-letter queue (NamePrefix: the lockdown protects them by name).
	RecheckQueueName = NamePrefix + "-Recheck"
	RecheckDLQName   = NamePrefix + "-RecheckDLQ"
	// recheckMaxReceives: a re-check delivered three times without success
	// goes to the dead-letter queue (the redrive policy's maxReceiveCount).
	recheckMaxReceives = 3
	// recheckVisibilitySeconds is six times the enforcer's timeout: "set
	// the source queue's visibility timeout to at least six times the
	// configuration timeout on your function. The extra time allows Lambda
	// to retry if your function is throttled while processing a previous
	// batch" (Lambda Developer Guide, "Creating and configuring an Amazon
	// SQS event source mapping",
	// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
	recheckVisibilitySeconds = 6 * enforcerTimeoutSeconds
	// recheckRetentionDays keeps an undelivered re-check four days (SQS's
	// default, stated); its dead-letter queue keeps it 14, longer, because
	// a standard queue's message keeps its original enqueue time when it
	// is redriven (Amazon SQS Developer Guide, "Using dead-letter queues").
	recheckRetentionDays = 4
	// recheckBatchSize: one re-check per invocation, like the EventBridge
	// events: a slow evaluation cannot make others in its batch time out,
	// and a re-check costs one invocation, as the cost model counts it.
	recheckBatchSize = 1
)

// recheckConcurrency is the event-source mapping's maximum concurrency:
// half the enforcer's reserved concurrency, so re-checks never take every
// unit from the EventBridge events, and at least 2, the smallest value
// Lambda accepts (AWS::Lambda::EventSourceMapping ScalingConfig,
// MaximumConcurrency 2–1000). The guide asks that it not exceed the reserved
// concurrency, or Lambda may throttle the messages (Lambda Developer Guide,
// "Configuring scaling behavior for SQS event source mappings"): that holds
// for every enforcerConcurrency but 1, where a throttled re-check returns to
// the queue after the visibility timeout.
func recheckConcurrency(reserved int) float64 {
	return float64(max(2, reserved/2))
}

// recheck creates the re-check queue and its dead-letter queue, maps the
// queue to the enforcer with partial batch responses, gives the enforcer
// the queue's URL and sqs:SendMessage on it, and returns the dead-letter
// queue for the alarms.
func (b *builder) recheck(enforcer awslambda.Function, enforcerRole awsiam.Role) awssqs.Queue {
	// RecheckQueueName and RecheckDLQName in the single-account stack;
	// the hub's carry its prefix.
	dlq := b.queue("RecheckDLQ", b.name("RecheckDLQ"))
	q := awssqs.NewQueue(b.stack, jsii.String("RecheckQueue"), &awssqs.QueueProps{
		QueueName: jsii.String(b.name("Recheck")),
		// Encrypted at rest with SQS-managed keys, like the other queues:
		// the stack has no KMS key for them, and none is needed for the
		// enforcer to send and Lambda to receive.
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(recheckVisibilitySeconds)),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(recheckRetentionDays)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(recheckMaxReceives)},
	})
	// The enforcer's variable naming the queue; the sweeper does not
	// re-check and does not get it.
	enforcer.AddEnvironment(jsii.String(config.EnvRecheckQueueURL), q.QueueUrl(), nil)
	// Sending only, on this queue only; the mapping below grants the
	// receive side (ReceiveMessage, DeleteMessage, ChangeMessageVisibility,
	// GetQueueAttributes, GetQueueUrl) on this queue.
	enforcerRole.AddToPrincipalPolicy(allow("ScheduleRechecks", []string{"sqs:SendMessage"}, []string{*q.QueueArn()}, nil))
	// A re-check makes the enforcer act on the event in the message: a
	// forged one could name a claim to restore. The lockdown denies sqs:*
	// on the guardrail's queues to service roles; this denies sending to
	// every other principal of the account too (an administrator's, or a
	// user's with sqs:* on "*"). For a role session aws:PrincipalArn is the
	// role's ARN (IAM User Guide, reference_policies_condition-keys,
	// aws:PrincipalArn).
	q.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyTheEnforcerSchedulesRechecks"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{q.QueueArn()},
		Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": enforcerRole.RoleArn()}},
	}))
	enforcer.AddEventSource(awslambdaeventsources.NewSqsEventSource(q, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize: jsii.Number(recheckBatchSize),
		// The enforcer answers events.SQSEventResponse: only the records it
		// lists are delivered again (Lambda Developer Guide, "Handling
		// errors for an SQS event source in Lambda").
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(recheckConcurrency(b.s.EnforcerConcurrency)),
		Enabled:                 jsii.Bool(true),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-SQS3",
			"This queue is the re-check queue's dead-letter queue, the end of the line; an alarm fires on its first message"),
	}, jsii.Bool(true))
	return dlq
}
