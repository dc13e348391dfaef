package decision

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Metric names. They are a contract with the stack's alarms and anyone's
// graphs. Each metric is one aggregate series: CloudWatch bills every
// combination of dimension values as a separate metric (issue 20), and
// what the counters cannot say per role, class or mode the decision
// records say, where Logs Insights finds it at no standing cost.
const (
	// MetricRolesNonCompliant counts records in which a control found
	// something to change: changed in enforce mode, would-change in check.
	MetricRolesNonCompliant = "RolesNonCompliant"
	// MetricPrincipalsRemoved counts principals removed from trust policies
	// (in check mode: that would be removed).
	MetricPrincipalsRemoved = "PrincipalsRemoved"
	// MetricErrorRecords counts ERROR-level lines; the stack's metric
	// filters extract it from both log groups (EmitMetrics never writes it).
	MetricErrorRecords = "ErrorRecords"
)

// Metric describes one CloudWatch metric the guardrail writes, so that the
// cost estimate counts exactly the series the code can emit.
type Metric struct {
	Name string
	Unit string
	// Dimensions names the metric's dimensions; none means one aggregate
	// series. DimensionValues says how many values each takes.
	Dimensions []string
	// OnError is true for a metric that receives data only when a function
	// logs an ERROR line (a metric filter without a default value), false
	// for one that receives a data point with every decision record.
	OnError bool
}

// recordMetric is a metric EmitMetrics writes with every record.
type recordMetric struct {
	Metric
	value func(Record) int
}

// recordDimensions is the dimension set of every metric EmitMetrics writes:
// empty, so each metric is one aggregate series. A dimension added here
// must be written to the line's root and declared in dimensionValues.
var recordDimensions = []string{}

// recordMetrics is the table EmitMetrics writes from; Metrics lists it.
var recordMetrics = []recordMetric{
	{Metric{Name: MetricRolesNonCompliant, Unit: "Count"}, func(r Record) int {
		return b2i(r.Outcome == OutcomeChanged || r.Outcome == OutcomeWouldChange || len(r.Actions) > 0)
	}},
	{Metric{Name: MetricPrincipalsRemoved, Unit: "Count"}, func(r Record) int { return removedCount(r.Findings) }},
}

// errorRecords is the metric the stack's metric filters extract.
var errorRecords = Metric{Name: MetricErrorRecords, Unit: "Count", OnError: true}

// Metrics returns every metric the guardrail writes: those EmitMetrics
// writes with every record, then the ERROR-line metric of the stack's
// metric filters.
func Metrics() []Metric {
	out := make([]Metric, 0, len(recordMetrics)+1)
	for _, m := range recordMetrics {
		m.Dimensions = recordDimensions
		out = append(out, m.Metric)
	}
	return append(out, errorRecords)
}

// dimensionValues is, for each dimension a metric may carry, how many
// values it takes in one deployment. Empty: no metric has a dimension.
var dimensionValues = map[string]int{}

// DimensionValues returns how many values the named dimension takes in one
// deployment, and false for a dimension no metric is declared to carry.
func DimensionValues(name string) (int, bool) {
	n, ok := dimensionValues[name]
	return n, ok
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// EmitMetrics writes the record's counters to w as one CloudWatch Embedded
// Metric Format line: a JSON object whose "_aws" member holds the timestamp
// (epoch milliseconds) and one metric directive, and whose root holds every
// metric it names, as the EMF specification requires
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
// The directive's dimension set is empty ("Dimensions":[[]]), which
// publishes each metric without dimensions: one aggregate series each (an
// empty dimension set is valid EMF, as AWS's OpenTelemetry EMF exporter
// relies on: open-telemetry/opentelemetry-collector-contrib#13766).
// role_arn, outcome and event_id are kept as plain properties so a spike
// can be traced to its records. Every record, ignored ones included,
// writes one line, so each invocation leaves a data point.
func EmitMetrics(w io.Writer, namespace string, r Record) error {
	return emitMetrics(w, namespace, r, time.Now())
}

func emitMetrics(w io.Writer, namespace string, r Record, ts time.Time) error {
	if namespace == "" {
		return fmt.Errorf("emit metrics: empty namespace")
	}
	root := map[string]any{
		"outcome":  r.Outcome,
		"role_arn": r.RoleARN,
		"event_id": r.EventID,
	}
	metrics := make([]emfMetric, 0, len(recordMetrics))
	for _, m := range recordMetrics {
		metrics = append(metrics, emfMetric{Name: m.Name, Unit: m.Unit})
		root[m.Name] = m.value(r)
	}
	root["_aws"] = emfMetadata{
		Timestamp: ts.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  namespace,
			Dimensions: [][]string{recordDimensions},
			Metrics:    metrics,
		}},
	}
	line, err := json.Marshal(root)
	if err != nil {
		return fmt.Errorf("emit metrics: %w", err)
	}
	line = append(line, '\n')
	if _, err := w.Write(line); err != nil {
		return fmt.Errorf("emit metrics: %w", err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func removedCount(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Control == ControlTrust && f.Removed {
			n++
		}
	}
	return n
}
