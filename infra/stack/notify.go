package stack

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/infra/settings"
	"github.com/iamguardrail/guardrail/pkg/decision"
	"github.com/iamguardrail/guardrail/pkg/publish"
)

// Names of the operations resources (issue 13) in the single-account
// stack; the hub's start with HubPrefix instead of NamePrefix.
const (
	// DecisionTopicName is the SNS topic of decision notifications.
	DecisionTopicName = NamePrefix + "-" + decisionTopicSuffix
	// DecisionRuleName is the rule from decision events to the topic.
	DecisionRuleName = NamePrefix + "-" + decisionRuleSuffix
	// HeartbeatAlarmName fires when no sweep completed in two intervals.
	HeartbeatAlarmName = NamePrefix + "-" + heartbeatAlarmSuffix
	// LagAlarmName fires when the delivery lag's p99 exceeds lagAlarmSeconds.
	LagAlarmName = NamePrefix + "-" + lagAlarmSuffix
	// SweepSummaryFilter selects the summary line of a sweep that finished
	// its run (INFO; an incomplete or failed sweep logs it at ERROR).
	SweepSummaryFilter = `{ ($.msg = "sweep summary") && ($.level = "INFO") }`
	// lagPeriod is the delivery-lag alarm's period.
	lagPeriod = 15 * time.Minute

	decisionTopicSuffix  = "Decisions"
	decisionRuleSuffix   = "DecisionNotifications"
	heartbeatAlarmSuffix = "Sweeper-Heartbeat"
	lagAlarmSuffix       = "DeliveryLag-p99"
)

// Operators see without asking (issue 13): publishing lets the functions
// publish decision events to their account's default bus (and, with
// securityHub, findings); notifications turns the events into readable
// messages on the decision topic and adds two alarms, on the sweeper's
// heartbeat and on the delivery lag. The dashboard is built by dashboard.
// builder.runtime calls publishing, builder.monitor notifications, so the
// single-account stack and the organization hub both have them.

// publishing adds the publishing environment to env and the permissions to
// roles; securityHub adds the Security Hub findings.
func (b *builder) publishing(env map[string]*string, roles []awsiam.Role, securityHub bool) {
	region := *b.stack.Region()
	// Decision events: PutEvents on the default bus, and only with the
	// guardrail's source (events:source, Service Authorization Reference
	// for EventBridge), so the functions cannot put events that pose as
	// another application's.
	env[publish.EnvEventBus] = jsii.String("default")
	bus := "arn:" + b.partition + ":events:" + region + ":" + b.account + ":event-bus/default"
	put := allow("PutDecisionEvents", []string{"events:PutEvents"}, []string{bus},
		map[string]any{"StringEquals": map[string]any{"events:source": publish.Source}})
	var findings awsiam.PolicyStatement
	if securityHub {
		// The account's own custom-integration product ARN (Security Hub
		// user guide, "Using custom product integrations"); the
		// permission exists only when findings are asked for.
		product := "arn:" + b.partition + ":securityhub:" + region + ":" + b.account + ":product/" + b.account + "/default"
		env[publish.EnvSecurityHubProductARN] = jsii.String(product)
		findings = allow("ImportFindings", []string{"securityhub:BatchImportFindings"}, []string{product}, nil)
	}
	for _, r := range roles {
		r.AddToPrincipalPolicy(put)
		if findings != nil {
			r.AddToPrincipalPolicy(findings)
		}
	}
}

// notifications adds the decision topic (encrypted with key, the alarm
// topic's), the rule from decision events to it, and the heartbeat and lag
// alarms, which notify alarmTopic.
func (b *builder) notifications(key awskms.Key, alarmTopic awssns.Topic, sweeperLogs awslogs.LogGroup) {
	st := b.stack
	// The decision topic, under the alarm key: EventBridge publishes to
	// an encrypted topic only when the key lets it (EventBridge user
	// guide, "Amazon SNS permissions").
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowEventBridgeDecisionNotifications"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}), nil)
	topic := awssns.NewTopic(st, jsii.String("DecisionTopic"), &awssns.TopicProps{
		TopicName:   jsii.String(b.name(decisionTopicSuffix)),
		DisplayName: jsii.String("IAM role guardrail decisions"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	if b.s.NotifyEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(b.s.NotifyEmail), nil))
	}
	rule := awsevents.NewRule(st, jsii.String("DecisionRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(b.name(decisionRuleSuffix)),
		Description: jsii.String("Changed, would-change and failed guardrail decisions to the decision topic, as a readable message"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(publish.Source),
			DetailType: jsii.Strings(publish.DetailType),
		},
	})
	rule.AddTarget(awseventstargets.NewSnsTopic(topic, &awseventstargets.SnsTopicProps{
		Message: awsevents.RuleTargetInput_FromMultilineText(jsii.String(NotificationTemplate(b.prefix, func(path string) string {
			return *awsevents.EventField_FromPath(jsii.String(path))
		}))),
	}))

	// The sweeper heartbeat: a data point per sweep that finished its run
	// (metric filter on its INFO summary), and an alarm when two schedule
	// intervals pass without one. Missing data is breaching: a sweeper
	// that stopped running writes nothing at all.
	awslogs.NewMetricFilter(st, jsii.String("SweepsCompletedFilter"), &awslogs.MetricFilterProps{
		LogGroup:        sweeperLogs,
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(SweepSummaryFilter)),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String(decision.MetricSweepsCompleted),
		MetricValue:     jsii.String("1"),
	})
	interval, _ := settings.SweepInterval(b.s.SweepSchedule) // validated by settings.Parse
	heartbeat := awscloudwatch.NewAlarm(st, jsii.String("SweeperHeartbeatAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(b.name(heartbeatAlarmSuffix)),
		AlarmDescription: jsii.String(fmt.Sprintf("No sweep completed in two intervals of %s: the schedule, the rule or the sweeper is broken, and roles that events missed stay unchecked",
			b.s.SweepSchedule)),
		// Two periods of one schedule interval each (PutMetricAlarm:
		// Period × EvaluationPeriods at most 7 days; settings checks it).
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(decision.MetricSweepsCompleted),
			Period: awscdk.Duration_Seconds(jsii.Number(interval.Seconds())), Statistic: jsii.String("Sum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	heartbeat.AddAlarmAction(awscloudwatchactions.NewSnsAction(alarmTopic))

	// Delivery lag p99 (the enforcer's DeliveryLag metric, raw values per
	// record): CloudTrail or the rule falling behind shows here before a
	// role is noticed unchecked. No events, no data: not breaching.
	lag := awscloudwatch.NewAlarm(st, jsii.String("DeliveryLagAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(b.name(lagAlarmSuffix)),
		AlarmDescription: jsii.String(fmt.Sprintf("The p99 delay between an IAM call and the enforcer seeing it exceeded %d s: the trail or the event rule is broken or backed up; roles stay exposed meanwhile",
			b.s.LagAlarmSeconds)),
		Metric:             LagMetric("p99"),
		Threshold:          jsii.Number(float64(b.s.LagAlarmSeconds) * 1000),
		EvaluationPeriods:  jsii.Number(1),
		DatapointsToAlarm:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	lag.AddAlarmAction(awscloudwatchactions.NewSnsAction(alarmTopic))

	awscdk.NewCfnOutput(st, jsii.String("DecisionTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn(), Description: jsii.String("Subscribe here to be told of every changed, would-change or failed decision")})
}

// LagMetric is the enforcer's delivery lag at a statistic (p50, p99).
func LagMetric(stat string) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(decision.MetricDeliveryLag),
		Period: awscdk.Duration_Seconds(jsii.Number(lagPeriod.Seconds())), Statistic: jsii.String(stat),
	})
}

// NotificationTemplate is the decision message's text, each line with
// event fields placed by field (a JSON path into the decision event):
// role, account, what changed, who caused it and how to undo it. prefix is
// the stack's name prefix, the folder of its saved queries (Queries).
func NotificationTemplate(prefix string, field func(path string) string) string {
	d := func(name string) string { return field("$.detail." + name) }
	n := func(name string) string { return field("$.detail." + publish.NotificationField + "." + name) }
	return n("summary") + "\n" +
		"Role: " + d("role_arn") + " (account " + d("account") + ")\n" +
		"Outcome: " + d("outcome") + " (trust " + d("mode.trust") + ", lockdown " + d("mode.lockdown") + "; lockdown policy " + d("lockdown") + ")\n" +
		"Caused by: " + d("actor") + ", " + d("event_name") + " at " + d("event_time") + " (CloudTrail event " + d("event_id") + ")\n" +
		"What changed: " + n("changes") + "\n" +
		"Principals removed: " + n("removed") + "\n" +
		"Undo: " + n("undo") + "\n" +
		"The full record: the guardrail's decision logs, saved query \"" + prefix + "/History of one role\"."
}
