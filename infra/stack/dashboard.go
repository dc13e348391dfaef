package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/iamguardrail/guardrail/pkg/decision"
)

// DashboardName is the single-account stack's CloudWatch dashboard; the
// hub's is HubPrefix (every dashboard is named after its stack's prefix).
const DashboardName = NamePrefix

// Widget is one Logs Insights widget of the dashboard. Its field names are
// the records' (TestDashboardQueryFields checks them against the records
// the Lambdas write).
type Widget struct {
	Title string
	Query string
	View  awscloudwatch.LogQueryVisualizationType
}

// DashboardQueries returns the dashboard's Logs Insights widgets, each run
// against both functions' log groups.
func DashboardQueries() []Widget {
	return []Widget{
		{
			Title: "Decisions over time by outcome",
			Query: `filter msg = "decision"
| stats count(*) as decisions by outcome, bin(1h)`,
			View: awscloudwatch.LogQueryVisualizationType_BAR,
		},
		{
			Title: "Principals removed (check mode: would be removed)",
			// The first three findings of each record; the record has all.
			Query: `fields @timestamp, role_arn, mode.trust, outcome, findings.0.principal, findings.0.reason, findings.1.principal, findings.2.principal, actor
| filter msg = "decision" and @message like /"removed":true/
| sort @timestamp desc
| limit 100`,
			View: awscloudwatch.LogQueryVisualizationType_TABLE,
		},
		{
			Title: "Roles by class and compliance (latest sweep)",
			Query: `fields @timestamp, listed, classes.service, ` + "`classes.aws-managed`" + `, classes.exempt, classes.guardrail, compliant, changed, would_change, skipped, errors, left, lockdown_policy
| filter msg = "sweep summary"
| sort @timestamp desc
| limit 1`,
			View: awscloudwatch.LogQueryVisualizationType_TABLE,
		},
		{
			Title: "Error records",
			Query: `fields @timestamp, @log, event_name, role_arn, outcome, lockdown, error, msg
| filter outcome = "error" or level = "ERROR" or msg = "` + decision.PublishMessage + `"
| sort @timestamp desc
| limit 100`,
			View: awscloudwatch.LogQueryVisualizationType_TABLE,
		},
	}
}

// dashboard adds the operators' dashboard: decisions, removals, the
// account's roles, errors (Logs Insights over the decision logs), and the
// functions' duration, errors and throttles, the failure queues' depth and
// the delivery lag (metrics).
func (b *builder) dashboard(fns map[string]awslambda.Function, queues map[string]awssqs.Queue, logGroups []awslogs.LogGroup) {
	names := make([]*string, 0, len(logGroups))
	for _, lg := range logGroups {
		names = append(names, lg.LogGroupName())
	}
	var rows [][]awscloudwatch.IWidget
	var row []awscloudwatch.IWidget
	for _, w := range DashboardQueries() {
		row = append(row, awscloudwatch.NewLogQueryWidget(&awscloudwatch.LogQueryWidgetProps{
			Title: jsii.String(w.Title), LogGroupNames: &names, QueryString: jsii.String(w.Query), View: w.View,
			Width: jsii.Number(12), Height: jsii.Number(6),
		}))
		if len(row) == 2 {
			rows, row = append(rows, row), nil
		}
	}
	five := awscdk.Duration_Minutes(jsii.Number(5))
	graph := func(title string, left []awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6)})
	}
	var duration, failures []awscloudwatch.IMetric
	for _, n := range []string{"Enforcer", "Sweeper"} {
		fn := fns[n]
		for _, stat := range []string{"p50", "p99", "Maximum"} {
			duration = append(duration, fn.MetricDuration(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String(stat), Label: jsii.String(n + " " + stat)}))
		}
		failures = append(failures,
			fn.MetricErrors(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum"), Label: jsii.String(n + " errors")}),
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum"), Label: jsii.String(n + " throttles")}))
	}
	custom := func(name, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(name),
			Period: five, Statistic: jsii.String("Sum"), Label: jsii.String(label)})
	}
	failures = append(failures, custom(decision.MetricErrorRecords, "ERROR records"), custom(decision.MetricPublishFailures, "publish failures"))
	var depth []awscloudwatch.IMetric
	for _, n := range []string{"FailedInvocations", "EventDeliveryDLQ", "RecheckDLQ"} {
		depth = append(depth, queues[n].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum"), Label: jsii.String(n)}))
	}
	rows = append(rows,
		[]awscloudwatch.IWidget{
			graph("Function duration (ms)", duration),
			graph("Errors and throttles", failures),
			graph("Failure queues: messages", depth),
		},
		[]awscloudwatch.IWidget{
			graph("Delivery lag (ms): IAM call to enforcer", []awscloudwatch.IMetric{LagMetric("p50"), LagMetric("p99")}),
		})
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	awscloudwatch.NewDashboard(b.stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(b.prefix),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(1)),
		Widgets:         &widgets,
	})
}
