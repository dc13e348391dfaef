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
	r.Error = "written only when set"
	r.PolicyARN, r.PolicyBefore, r.PolicyVersionAfter = "arn:aws:iam::111122223333:policy/GuardrailLockdown", []byte(`{"Version":"2012-10-17"}`), "v3"
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
// top-level member holding a number (metrics) or string (dimensions).
func TestEmitMetricsShape(t *testing.T) {
	var buf bytes.Buffer
	r := sample()
	r.Mode.Lockdown = config.Check
	r.Actions = append(r.Actions, decision.Action{Control: "lockdown", API: "AttachRolePolicy", Result: decision.ResultDone})
	if err := decision.EmitMetricsAt(&buf, "IamRoleGuardrail", r, t0); err != nil {
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
	if d.Namespace != "IamRoleGuardrail" || !reflect.DeepEqual(d.Dimensions, [][]string{{"Mode", "Class"}}) {
		t.Errorf("directive %+v", d)
	}
	if root["Mode"] != "trust:enforce,lockdown:check" || root["Class"] != "service" {
		t.Errorf("dimensions Mode=%v Class=%v", root["Mode"], root["Class"])
	}
	want := map[string]float64{
		"RolesEvaluated": 1, "RolesChanged": 1, "RolesNonCompliant": 1, "PrincipalsRemoved": 1,
		"LockdownAttached": 1, "SessionsRevoked": 1, "StaleReads": 0, "Errors": 0, "DeliveryLag": 1500, "Duration": 42,
	}
	if len(d.Metrics) != len(want) {
		t.Errorf("%d metrics, want %d", len(d.Metrics), len(want))
	}
	for _, m := range d.Metrics {
		v, ok := root[m.Name].(float64)
		if !ok {
			t.Errorf("metric %s is not a number at the root: %v", m.Name, root[m.Name])
			continue
		}
		if w, ok := want[m.Name]; !ok || v != w {
			t.Errorf("metric %s = %v, want %v", m.Name, v, w)
		}
		if m.Unit != "Count" && m.Unit != "Milliseconds" {
			t.Errorf("metric %s unit %q", m.Name, m.Unit)
		}
	}
}

func TestEmitMetricsOptionalLag(t *testing.T) {
	var buf bytes.Buffer
	if err := decision.EmitMetrics(&buf, "NS", decision.Record{Outcome: decision.OutcomeRoleGone}); err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(buf.Bytes(), &root); err != nil {
		t.Fatal(err)
	}
	if _, ok := root["DeliveryLag"]; ok {
		t.Error("DeliveryLag without an event")
	}
	if root["Class"] != "unknown" || root["StaleReads"] != 0.0 {
		t.Errorf("Class %v StaleReads %v", root["Class"], root["StaleReads"])
	}
	if err := decision.EmitMetrics(io.Discard, "", decision.Record{}); err == nil {
		t.Error("empty namespace accepted")
	}
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
