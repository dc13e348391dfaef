package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const demoRecords = "../../testdata/demo/decisions.jsonl"

// The report from a file, from stdin and from CloudWatch Logs (a local
// FilterLogEvents endpoint serving the same records in pages, among the
// runtime's own lines) is the same.
func TestReportCommand(t *testing.T) {
	data, err := os.ReadFile(demoRecords)
	if err != nil {
		t.Fatal(err)
	}
	report := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"report"}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("report %v: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	fromFile := report("--format", "markdown", demoRecords)
	if !strings.Contains(fromFile, "# IAM role guardrail report") || !strings.Contains(fromFile, "999988887777") {
		t.Fatalf("report:\n%s", fromFile)
	}
	stdin = bytes.NewReader(data)
	t.Cleanup(func() { stdin = os.Stdin })
	if got := report("--format", "markdown"); got != fromFile {
		t.Errorf("stdin report differs:\n%s", got)
	}

	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var calls []map[string]any
	logs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		calls = append(calls, in)
		if r.Header.Get("X-Amz-Target") != "Logs_20140328.FilterLogEvents" {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		// Two pages: the first half, then the rest.
		page, next := lines[:len(lines)/2], "page-2"
		if in["nextToken"] == "page-2" {
			page, next = lines[len(lines)/2:], ""
		}
		var evs []map[string]any
		for i, l := range page {
			evs = append(evs, map[string]any{"message": l + "\n", "timestamp": i, "logStreamName": "s"})
		}
		out := map[string]any{"events": evs}
		if next != "" {
			out["nextToken"] = next
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}))
	defer logs.Close()
	for k, v := range map[string]string{"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": logs.URL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "example", "AWS_CONFIG_FILE": "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	got := report("--format", "markdown", "--log-group", "/aws/lambda/IamRoleGuardrail-Enforcer", "--start", "2026-12-01T00:00:00Z", "--end", "2026-12-04T00:00:00Z")
	if got != fromFile {
		t.Errorf("CloudWatch Logs report differs:\n%s", got)
	}
	if len(calls) != 2 || calls[0]["logGroupName"] != "/aws/lambda/IamRoleGuardrail-Enforcer" || calls[0]["filterPattern"] != recordsPattern ||
		calls[0]["startTime"] != float64(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()) {
		t.Errorf("FilterLogEvents calls %v", calls)
	}

	// --out writes the file and says so.
	out := filepath.Join(t.TempDir(), "report.html")
	if msg := report("--format", "html", "--out", out, demoRecords); !strings.Contains(msg, out) {
		t.Errorf("--out message %q", msg)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
		t.Errorf("--out file: %v", err)
	}
}

func TestReportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "pdf"},
		{"--log-group", "g", "file.jsonl"},
		{"--log-group", "g", "--start", "yesterday"},
		{"--log-group", "g", "--since", "0s"},
		{"/nonexistent.jsonl"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"report"}, args...), &stdout, &stderr); code != 2 {
			t.Errorf("report %v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}
