package decision

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Metric names of the EMF counters. Together with the dimension names they
// are a contract with the stack's alarms and dashboards.
const (
	MetricRolesEvaluated    = "RolesEvaluated"    // 1 per record
	MetricRolesChanged      = "RolesChanged"      // 1 when the guardrail wrote a change
	MetricRolesNonCompliant = "RolesNonCompliant" // 1 when a control found something to change (enforce or check)
	MetricPrincipalsRemoved = "PrincipalsRemoved" // principals removed (or, in check mode, that would be)
	MetricLockdownAttached  = "LockdownAttached"  // 1 when the lockdown was attached or put inline
	MetricSessionsRevoked   = "SessionsRevoked"   // 1 when older sessions were revoked
	MetricStaleReads        = "StaleReads"        // 1 when reads did not agree with the event's claim
	MetricErrors            = "Errors"            // 1 when the outcome is an error
	MetricDeliveryLag       = "DeliveryLag"       // eventTime to receive, milliseconds; only with an event
	MetricDuration          = "Duration"          // evaluation time, milliseconds
)

// Dimension names. Mode is the control modes ("enforce", "check", or
// "trust:enforce,lockdown:check" when they differ); Class is the role class.
// Both have a handful of values, which keeps the metric count (and cost) small.
const (
	DimensionMode  = "Mode"
	DimensionClass = "Class"
)

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

// ModeDimension is the value of the Mode dimension for a pair of modes.
func ModeDimension(m Modes) string {
	if m.Trust == m.Lockdown {
		return string(m.Trust)
	}
	return fmt.Sprintf("trust:%s,lockdown:%s", m.Trust, m.Lockdown)
}

// EmitMetrics writes the record's counters to w as one CloudWatch Embedded
// Metric Format line: a JSON object whose "_aws" member holds the timestamp
// (epoch milliseconds) and one metric directive, and whose root holds every
// dimension and metric it names, as the EMF specification requires
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
// CloudWatch Logs extracts the metrics; role_arn, outcome and event_id are
// kept as plain properties so a metric spike can be traced to records.
// A record with outcome "ignored" counts RolesEvaluated=0, so that every
// invocation still leaves a data point.
func EmitMetrics(w io.Writer, namespace string, r Record) error {
	return emitMetrics(w, namespace, r, time.Now())
}

func emitMetrics(w io.Writer, namespace string, r Record, ts time.Time) error {
	if namespace == "" {
		return fmt.Errorf("emit metrics: empty namespace")
	}
	class := r.Class
	if class == "" {
		class = "unknown" // role gone before it was read, or an ignored event
	}
	root := map[string]any{
		DimensionMode:  ModeDimension(r.Mode),
		DimensionClass: class,
		"outcome":      r.Outcome,
		"role_arn":     r.RoleARN,
		"event_id":     r.EventID,
	}
	var metrics []emfMetric
	add := func(name, unit string, v any) {
		metrics = append(metrics, emfMetric{Name: name, Unit: unit})
		root[name] = v
	}
	evaluated := 1
	if r.Outcome == OutcomeIgnored {
		evaluated = 0
	}
	add(MetricRolesEvaluated, "Count", evaluated)
	add(MetricRolesChanged, "Count", b2i(r.Outcome == OutcomeChanged || hasResult(r.Actions, ResultDone)))
	add(MetricRolesNonCompliant, "Count", b2i(r.Outcome == OutcomeChanged || r.Outcome == OutcomeWouldChange || len(r.Actions) > 0))
	add(MetricPrincipalsRemoved, "Count", removedCount(r.Findings))
	add(MetricLockdownAttached, "Count", b2i(lockdownWritten(r.Actions)))
	add(MetricSessionsRevoked, "Count", b2i(r.RevokedSessionsBefore != nil))
	add(MetricStaleReads, "Count", b2i(!r.ReadConsistent && r.Outcome != OutcomeIgnored && r.Outcome != OutcomeRoleGone))
	add(MetricErrors, "Count", b2i(r.Outcome == OutcomeError))
	if r.DeliveryLagMS != nil {
		add(MetricDeliveryLag, "Milliseconds", *r.DeliveryLagMS)
	}
	add(MetricDuration, "Milliseconds", r.DurationMS)
	root["_aws"] = emfMetadata{
		Timestamp: ts.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  namespace,
			Dimensions: [][]string{{DimensionMode, DimensionClass}},
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

func hasResult(actions []Action, result string) bool {
	for _, a := range actions {
		if a.Result == result {
			return true
		}
	}
	return false
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

// lockdownWritten reports whether the lockdown was attached or put inline.
func lockdownWritten(actions []Action) bool {
	for _, a := range actions {
		if a.Control == ControlLockdown && a.Result == ResultDone {
			return true
		}
	}
	return false
}
