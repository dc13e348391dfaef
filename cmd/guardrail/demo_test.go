package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
)

func TestDemoUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no bootstraps", nil, "--enforcer and --sweeper are required"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := runDemo(context.Background(), tc.args, &bytes.Buffer{}, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestLineSplitter(t *testing.T) {
	var got []string
	s := &lineSplitter{next: func(l []byte) { got = append(got, string(l)) }}
	for _, chunk := range []string{"a", "b\nc\n", "", "d\ne"} {
		s.Write([]byte(chunk))
	}
	if strings.Join(got, "|") != "ab\n|c\n|d\n" {
		t.Errorf("lines %q", got)
	}
}

func TestNowMovesEventTime(t *testing.T) {
	ev := events.CloudWatchEvent{Time: time.Unix(0, 0), Detail: json.RawMessage(`{"eventTime":"2020-01-01T00:00:00Z","eventName":"CreateRole"}`)}
	moved := now(ev)
	var d struct {
		EventTime time.Time `json:"eventTime"`
		EventName string    `json:"eventName"`
	}
	if err := json.Unmarshal(moved.Detail, &d); err != nil {
		t.Fatal(err)
	}
	if time.Since(d.EventTime) > time.Minute || time.Since(moved.Time) > time.Minute || d.EventName != "CreateRole" {
		t.Errorf("moved event: %s %v", moved.Detail, moved.Time)
	}
}

// buildBootstraps builds the enforcer and sweeper bootstraps for Linux on
// this machine's architecture into dir, with extra go build flags, and
// returns their paths by function name.
func buildBootstraps(tb testing.TB, dir string, flags ...string) map[string]string {
	tb.Helper()
	bins := map[string]string{}
	for _, fn := range []string{"enforcer", "sweeper"} {
		bins[fn] = filepath.Join(dir, fn, "bootstrap")
		args := append(append([]string{"build"}, flags...), "-tags", "lambda.norpc", "-o", bins[fn], "../../lambdas/"+fn)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	return bins
}

// demoArgs are the arguments of a demo run over the repository's events.
func demoArgs(rie, enforcer, sweeper, out string) []string {
	return []string{"--rie", rie, "--enforcer", enforcer, "--sweeper", sweeper, "--events", "../../events", "--out", out}
}

// TestDemo runs the whole demo with bootstraps built for this machine; it
// needs the Runtime Interface Emulator like the end-to-end tests.
func TestDemo(t *testing.T) {
	rie := emulator.Require(t, testing.Short())
	dir := t.TempDir()
	bins := buildBootstraps(t, dir)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := runDemo(context.Background(), demoArgs(rie, bins["enforcer"], bins["sweeper"], out), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"partner-reporting", "AWS:arn:aws:iam::999988887777:root (older sessions revoked)", // foreign account stripped
		"legacy-batch", "github-deploy", "org-shared-readonly",
		// Issue 22: an STS claim key and an immutable subject naming a
		// trusted tenant kept, a statement naming another owner stripped.
		"github-release",
		"CreateRole-github-oidc-tenants: kept ReleaseFromOwnerById: OIDC provider of this account, confined by StringEquals token.actions.githubusercontent.com:repository_owner_id 123456; tenant github-id:123456, named by the STS claim key repository_owner_id (a trusted tenant)",
		"kept DeployFromImmutableSubject:", "named by the GitHub immutable subject repo:OWNER@OWNER_ID/REPO@REPO_ID (a trusted tenant)",
		"CreateRole-github-oidc-tenants: removed ContractorRepository: OIDC provider of the shared issuer token.actions.githubusercontent.com confined to github:someone-else",
		"caused by the guardrail's own role", "aws-managed", "exempt",
		"0 errors, 0 left", "decisions.jsonl",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "decisions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 25 {
		t.Errorf("%d records in decisions.jsonl", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %s", l)
		}
	}
	// testdata/demo/decisions.jsonl holds the demo's records for the
	// tests that must not run the bootstraps (the report goldens, the
	// stack's query field check): its fields are what the demo writes.
	if *updateDemo {
		if err := os.WriteFile(demoRecords, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fixture, err := os.ReadFile(demoRecords)
	if err != nil {
		t.Fatal(err)
	}
	got, want := fieldPaths(t, data), fieldPaths(t, fixture)
	for p := range got {
		if !want[p] {
			t.Errorf("the demo writes field %s, which %s lacks; go test ./cmd/guardrail -run TestDemo -update-demo, then go test ./pkg/report -update", p, demoRecords)
		}
	}
	for p := range want {
		if !got[p] {
			t.Errorf("%s has field %s, which the demo no longer writes; go test ./cmd/guardrail -run TestDemo -update-demo", demoRecords, p)
		}
	}
}

var updateDemo = flag.Bool("update-demo", false, "rewrite "+demoRecords+" from a demo run")

// fieldPaths returns the field paths of JSON lines, array indexes as N.
func fieldPaths(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(prefix+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+".N", e)
			}
		}
		out[prefix] = true
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		walk("", m)
	}
	return out
}

func TestDemoInterrupted(t *testing.T) {
	rie := emulator.Require(t, testing.Short())
	// A cancelled context stops the demo before any event and reports it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	os.WriteFile(bin, []byte("#!/bin/sh\nsleep 60\n"), 0o755)
	var stderr bytes.Buffer
	code := runDemo(ctx, demoArgs(rie, bin, bin, t.TempDir()), &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestDemoOrgUsage(t *testing.T) {
	var stderr bytes.Buffer
	if code := runDemoOrg(context.Background(), nil, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "--enforcer and --sweeper are required") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
