package decision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/decision"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func sample() decision.Record {
	lag := int64(1500)
	revoked := t0
	stmt := 1
	return decision.Record{
		EventID: "ev-1", EventName: "UpdateAssumeRolePolicy", EventTime: t0.Add(-2 * time.Second),
		Actor: "arn:aws:sts::111122223333:assumed-role/Dev/mallory", Account: "111122223333",
		RoleARN: "arn:aws:iam::111122223333:role/app", RoleName: "app", RolePath: "/",
		Class: "service", ClassReason: "custom role", Mode: decision.Modes{Trust: config.Enforce, Lockdown: config.Enforce},
		Outcome: decision.OutcomeChanged,
		Principals: []decision.Principal{{Statement: 1, Effect: "Allow", Type: "AWS", Value: "arn:aws:iam::999988887777:root",
			Kind: "foreign-account", Account: "999988887777", Reason: "account not trusted"}},
		Findings: []decision.Finding{{Control: "trust", Principal: "AWS:arn:aws:iam::999988887777:root", Kind: "foreign-account",
			Statement: &stmt, Reason: "account not trusted", Removed: true}},
		Actions:           []decision.Action{{Control: "trust", API: "UpdateAssumeRolePolicy", Result: decision.ResultDone}},
		TrustPolicyBefore: json.RawMessage(`{"Version":"2012-10-17","Statement":[]}`),
		TrustPolicyAfter:  json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny"}]}`),
		Lockdown:          decision.LockdownPresent, RevokedSessionsBefore: &revoked,
		Undo:           []string{"aws iam delete-role-policy --role-name app --policy-name GuardrailRevokeOlderSessions"},
		ReadConsistent: true, DeliveryLagMS: &lag, DurationMS: 42, APICalls: 5, Version: "v1.2.3",
	}
}

// The field names of DESIGN.md §7 are a contract: every one must be present
// at the top level of the line, with the right JSON type.
func TestLogFieldNames(t *testing.T) {
	var buf bytes.Buffer
	sample().Log(context.Background(), decision.NewLogger(&buf))
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines, want 1: %s", n, buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	want := map[string]string{ // field -> JSON type
		"timestamp": "string", "level": "string", "msg": "string",
		"event_id": "string", "event_name": "string", "event_time": "string", "actor": "string",
		"account": "string", "role_arn": "string", "role_name": "string", "role_path": "string",
		"class": "string", "class_reason": "string", "mode": "object", "outcome": "string",
		"principals": "array", "findings": "array", "actions": "array",
		"trust_policy_before": "object", "trust_policy_after": "object",
		"lockdown": "string", "revoked_sessions_before": "string", "undo": "array",
		"read_consistent": "bool", "stale_reads": "number", "delivery_lag_ms": "number",
		"duration_ms": "number", "api_calls": "number", "version": "string",
	}
	for k, typ := range want {
		v, ok := m[k]
		if !ok {
			t.Errorf("field %s missing", k)
			continue
		}
		if got := jsonType(v); got != typ {
			t.Errorf("field %s is %s, want %s", k, got, typ)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %s", k)
		}
	}
	if m["msg"] != decision.Message || m["level"] != "INFO" || m["event_time"] != "2026-03-14T15:09:24Z" {
		t.Errorf("msg/level/event_time = %v/%v/%v", m["msg"], m["level"], m["event_time"])
	}
	if _, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	mode := m["mode"].(map[string]any)
	if mode["trust"] != "enforce" || mode["lockdown"] != "enforce" {
		t.Errorf("mode = %v", mode)
	}
	f := m["findings"].([]any)[0].(map[string]any)
	for _, k := range []string{"control", "principal", "kind", "statement", "reason", "removed"} {
		if _, ok := f[k]; !ok {
			t.Errorf("finding lacks %s: %v", k, f)
		}
	}
	a := m["actions"].([]any)[0].(map[string]any)
	for _, k := range []string{"control", "api", "result"} {
		if _, ok := a[k]; !ok {
			t.Errorf("action lacks %s: %v", k, a)
		}
	}
}

// Unknown values are null and empty lists [], never absent or of another
// type; an error outcome logs at ERROR with the error text.
func TestLogEmptyRecord(t *testing.T) {
	var buf bytes.Buffer
	decision.Record{RoleName: "gone", Outcome: decision.OutcomeError, Error: "boom"}.Log(context.Background(), decision.NewLogger(&buf))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_time", "trust_policy_before", "trust_policy_after", "revoked_sessions_before", "delivery_lag_ms"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	for _, k := range []string{"principals", "findings", "actions", "undo"} {
		if v, ok := m[k].([]any); !ok || len(v) != 0 {
			t.Errorf("%s = %v, want []", k, m[k])
		}
	}
	if m["level"] != "ERROR" || m["error"] != "boom" {
		t.Errorf("level %v error %v", m["level"], m["error"])
	}
}

// The record's struct tags and the log line agree, so json.Marshal of a
// Record (tests, tools) and the log line have the same field names.
func TestAttrsMatchStructTags(t *testing.T) {
	var tags []string
	rt := reflect.TypeOf(decision.Record{})
	for i := range rt.NumField() {
		tags = append(tags, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	var attrs []string
	r := sample()
	r.Error, r.Reason = "written only when set", "written only when set"
	r.PolicyARN, r.PolicyBefore, r.PolicyVersionAfter = "arn:aws:iam::111122223333:policy/GuardrailLockdown", []byte(`{"Version":"2012-10-17"}`), "v3"
	due := r.EventTime.Add(5 * time.Minute)
	r.Recheck, r.RecheckAt = true, &due
	for _, a := range r.Attrs() {
		attrs = append(attrs, a.Key)
	}
	slices.Sort(tags)
	slices.Sort(attrs)
	if !slices.Equal(tags, attrs) {
		t.Errorf("struct tags %v\nlog attrs   %v", tags, attrs)
	}
}

// The EMF line follows the specification: _aws.Timestamp in epoch ms,
// CloudWatchMetrics with Namespace, Dimensions (a list of lists of names)
// and Metrics (Name, Unit), and every dimension and metric named there is a
// top-level member holding a number (metrics) or string (dimensions). What
// it names is exactly what Metrics declares, so the cost estimate counts
// the series the line creates.
func TestEmitMetricsShape(t *testing.T) {
	removed := sample()
	removed.Mode.Lockdown = config.Check
	removed.Actions = append(removed.Actions, decision.Action{Control: "lockdown", API: "AttachRolePolicy", Result: decision.ResultDone})
	tests := []struct {
		name string
		r    decision.Record
		want map[string]float64
	}{
		{"principal removed", removed, map[string]float64{"RolesNonCompliant": 1, "PrincipalsRemoved": 1, "DeliveryLag": float64(*removed.DeliveryLagMS)}},
		{"compliant", decision.Record{Outcome: decision.OutcomeCompliant, Class: "service"}, map[string]float64{"RolesNonCompliant": 0, "PrincipalsRemoved": 0}},
		{"would change", decision.Record{Outcome: decision.OutcomeWouldChange}, map[string]float64{"RolesNonCompliant": 1, "PrincipalsRemoved": 0}},
		{"ignored", decision.Record{Outcome: decision.OutcomeIgnored}, map[string]float64{"RolesNonCompliant": 0, "PrincipalsRemoved": 0}},
		{"gone", decision.Record{Outcome: decision.OutcomeRoleGone}, map[string]float64{"RolesNonCompliant": 0, "PrincipalsRemoved": 0}},
		{"error with a failed write", decision.Record{Outcome: decision.OutcomeError,
			Actions: []decision.Action{{Control: "trust", API: "UpdateAssumeRolePolicy", Result: decision.ResultFailed}}},
			map[string]float64{"RolesNonCompliant": 1, "PrincipalsRemoved": 0}},
	}
	declared := map[string]decision.Metric{}
	for _, m := range decision.Metrics() {
		if !m.OnError && !m.PerSweep {
			declared[m.Name] = m
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := decision.EmitMetricsAt(&buf, "IamRoleGuardrail", tc.r, t0); err != nil {
				t.Fatal(err)
			}
			if strings.Count(buf.String(), "\n") != 1 {
				t.Fatalf("want one line: %q", buf.String())
			}
			var doc struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			var root map[string]any
			_ = json.Unmarshal(buf.Bytes(), &root)
			if doc.AWS.Timestamp != t0.UnixMilli() || len(doc.AWS.CloudWatchMetrics) != 1 {
				t.Fatalf("_aws = %+v", doc.AWS)
			}
			d := doc.AWS.CloudWatchMetrics[0]
			if d.Namespace != "IamRoleGuardrail" || len(d.Dimensions) != 1 {
				t.Fatalf("directive %+v", d)
			}
			for _, dim := range d.Dimensions[0] {
				if _, ok := root[dim].(string); !ok {
					t.Errorf("dimension %s is not a string at the root: %v", dim, root[dim])
				}
			}
			// Every declared record metric is written, except the delivery
			// lag of a record that has none.
			if len(d.Metrics) != len(tc.want) || len(d.Metrics) != len(declared)-b2i(tc.r.DeliveryLagMS == nil) {
				t.Errorf("%d metrics, want %d (declared %d)", len(d.Metrics), len(tc.want), len(declared))
			}
			for _, m := range d.Metrics {
				v, ok := root[m.Name].(float64)
				if !ok {
					t.Errorf("metric %s is not a number at the root: %v", m.Name, root[m.Name])
					continue
				}
				if w, ok := tc.want[m.Name]; !ok || v != w {
					t.Errorf("metric %s = %v, want %v", m.Name, v, w)
				}
				dm, ok := declared[m.Name]
				if !ok || dm.Unit != m.Unit || !slices.Equal(dm.Dimensions, d.Dimensions[0]) {
					t.Errorf("metric %s %s with dimensions %v is not declared by Metrics: %+v", m.Name, m.Unit, d.Dimensions[0], dm)
				}
			}
			if root["role_arn"] != tc.r.RoleARN || root["outcome"] != string(tc.r.Outcome) {
				t.Errorf("properties role_arn=%v outcome=%v", root["role_arn"], root["outcome"])
			}
		})
	}
	if err := decision.EmitMetrics(io.Discard, "", decision.Record{}); err == nil {
		t.Error("empty namespace accepted")
	}
}

// Metrics declares each metric once, with a CloudWatch unit, and every
// dimension it names has a declared number of values.
func TestMetricsDeclared(t *testing.T) {
	seen := map[string]bool{}
	errorMetrics := 0
	for _, m := range decision.Metrics() {
		if seen[m.Name] || m.Name == "" {
			t.Errorf("metric %q declared twice or unnamed", m.Name)
		}
		seen[m.Name] = true
		if m.Unit != "Count" && m.Unit != "Milliseconds" {
			t.Errorf("metric %s unit %q", m.Name, m.Unit)
		}
		for _, d := range m.Dimensions {
			if n, ok := decision.DimensionValues(d); !ok || n < 1 {
				t.Errorf("metric %s: dimension %s has no declared number of values", m.Name, d)
			}
		}
		if m.OnError {
			errorMetrics++
			if m.Name != decision.MetricErrorRecords && m.Name != decision.MetricPublishFailures {
				t.Errorf("metric %s is on-error but neither the error-records nor the publish-failures metric", m.Name)
			}
		}
	}
	if errorMetrics != 2 {
		t.Errorf("%d on-error metrics, want error records and publish failures", errorMetrics)
	}
	if _, ok := decision.DimensionValues("Class"); ok {
		t.Error("an undeclared dimension has a number of values")
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "?"
}

func BenchmarkLog(b *testing.B) {
	l := decision.NewLogger(io.Discard)
	r := sample()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.Log(ctx, l)
	}
}

func BenchmarkEmitMetrics(b *testing.B) {
	r := sample()
	b.ReportAllocs()
	for b.Loop() {
		if err := decision.EmitMetrics(io.Discard, "IamRoleGuardrail", r); err != nil {
			b.Fatal(err)
		}
	}
}

// JSONAttrs lists a struct's JSON members in order with their JSON values,
// and refuses what does not encode as an object.
func TestJSONAttrs(t *testing.T) {
	v := struct {
		B     int      `json:"b"`
		A     string   `json:"a"`
		Names []string `json:"names"`
	}{B: 2, A: "x", Names: []string{}}
	attrs, err := decision.JSONAttrs(v)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range attrs {
		got = append(got, a.Key+"="+string(a.Value.Any().(json.RawMessage)))
	}
	if want := []string{"b=2", `a="x"`, "names=[]"}; !slices.Equal(got, want) {
		t.Errorf("attrs %v, want %v", got, want)
	}
	if _, err := decision.JSONAttrs([]int{1}); err == nil {
		t.Error("a list accepted")
	}
}
