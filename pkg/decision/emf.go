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
	// MetricDeliveryLag is a record's delivery_lag_ms: how long after the
	// CloudTrail event the enforcer saw it. The stack alarms on its p99
	// (a broken trail or rule shows as lag before it shows as silence).
	// Written only with records that have a lag (not the sweeper's).
	MetricDeliveryLag = "DeliveryLag"
	// MetricPublishFailures counts decision records (or batches of
	// findings) that could not be published beyond the log: a failed
	// EventBridge PutEvents or Security Hub BatchImportFindings. The record
	// in CloudWatch Logs stays the source of truth (Writer).
	MetricPublishFailures = "PublishFailures"
	// MetricSweepsCompleted counts sweeps that finished their run (the
	// sweeper's INFO summary line); the stack's metric filters extract it
	// and its heartbeat alarm fires when none arrives for two schedule
	// intervals.
	MetricSweepsCompleted = "SweepsCompleted"
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
	// logs an ERROR line (a metric filter without a default value) or
	// otherwise fails (MetricPublishFailures), false for one that receives
	// a data point with every decision record.
	OnError bool
	// PerSweep is true for a metric that receives one data point per
	// completed sweep (a metric filter on the sweep summary).
	PerSweep bool
}

// recordMetric is a metric EmitMetrics writes with a record: with every
// record, or when has (if set) says the record has a value for it.
type recordMetric struct {
	Metric
	value func(Record) int64
	has   func(Record) bool
}

// recordDimensions is the dimension set of every metric EmitMetrics writes:
// empty, so each metric is one aggregate series. A dimension added here
// must be written to the line's root and declared in dimensionValues.
var recordDimensions = []string{}

// recordMetrics is the table EmitMetrics writes from; Metrics lists it.
var recordMetrics = []recordMetric{
	{Metric: Metric{Name: MetricRolesNonCompliant, Unit: "Count"}, value: func(r Record) int64 {
		return int64(b2i(r.Outcome == OutcomeChanged || r.Outcome == OutcomeWouldChange || len(r.Actions) > 0))
	}},
	{Metric: Metric{Name: MetricPrincipalsRemoved, Unit: "Count"}, value: func(r Record) int64 { return int64(removedCount(r.Findings)) }},
	// Unaggregated values, one per record, so CloudWatch can compute the
	// percentiles the lag alarm and the dashboard use (percentiles need
	// raw values: CloudWatch user guide, "Percentiles").
	{Metric: Metric{Name: MetricDeliveryLag, Unit: "Milliseconds"},
		value: func(r Record) int64 { return *r.DeliveryLagMS },
		has:   func(r Record) bool { return r.DeliveryLagMS != nil }},
}

// errorRecords is the metric the stack's metric filters extract.
var errorRecords = Metric{Name: MetricErrorRecords, Unit: "Count", OnError: true}

// publishFailures is the metric Writer writes when publishing fails.
var publishFailures = Metric{Name: MetricPublishFailures, Unit: "Count", OnError: true}

// sweepsCompleted is the metric of the stack's sweep-summary filters.
var sweepsCompleted = Metric{Name: MetricSweepsCompleted, Unit: "Count", PerSweep: true}

// Metrics returns every metric the guardrail writes: those EmitMetrics
// writes with records, the ERROR-line metric of the stack's metric filters,
// the publishing failures Writer counts, and the completed sweeps.
func Metrics() []Metric {
	out := make([]Metric, 0, len(recordMetrics)+3)
	for _, m := range recordMetrics {
		m.Dimensions = recordDimensions
		out = append(out, m.Metric)
	}
	return append(out, errorRecords, publishFailures, sweepsCompleted)
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
		if m.has != nil && !m.has(r) {
			continue
		}
		metrics = append(metrics, emfMetric{Name: m.Name, Unit: m.Unit})
		root[m.Name] = m.value(r)
	}
	return writeEMF(w, namespace, root, metrics, ts)
}

// writeEMF writes one EMF line: root's members, and a directive naming
// metrics (each a member of root) without dimensions.
func writeEMF(w io.Writer, namespace string, root map[string]any, metrics []emfMetric, ts time.Time) error {
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
