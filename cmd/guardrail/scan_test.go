package main

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/iamtest"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

const scanForeignTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`

// scanEnv starts the stand-in with three roles and points the SDK's default
// configuration and the GUARDRAIL_* configuration at it, the way a user
// points scan at the local endpoint.
func scanEnv(t *testing.T) (*iamtest.Server, string) {
	srv := iamtest.NewServer()
	t.Cleanup(srv.Close)
	doc, err := lockdown.Document(lockdown.Config{Account: srv.Account(), PolicyName: "IamRoleGuardrail-Lockdown"})
	if err != nil {
		t.Fatal(err)
	}
	arn, err := srv.SeedPolicy("IamRoleGuardrail-Lockdown", string(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []iamtest.Role{
		{Name: "ok", TrustPolicy: testTrust, AttachedPolicyARNs: []string{arn}},
		{Name: "bad", TrustPolicy: scanForeignTrust},
		{Name: "AWSServiceRoleForX", Path: "/aws-service-role/x.amazonaws.com/", TrustPolicy: scanForeignTrust},
	} {
		if _, err := srv.SeedRole(r); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_IAM":          srv.URL,
		"AWS_ACCESS_KEY_ID":             "AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY":         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_REGION":                    "us-east-1",
		"AWS_CONFIG_FILE":               filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":   filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                   "",
		"AWS_EC2_METADATA_DISABLED":     "true",
		"GUARDRAIL_LOCKDOWN_POLICY_ARN": arn,
		"GUARDRAIL_PROTECTED_ROLE_ARNS": "arn:aws:iam::" + srv.Account() + ":role/IamRoleGuardrail-*",
		"GUARDRAIL_MODE":                "",
		"GUARDRAIL_TRUST_MODE":          "",
		"GUARDRAIL_LOCKDOWN_MODE":       "",
	} {
		t.Setenv(k, v)
	}
	return srv, arn
}

func scanRecords(t *testing.T, stdout string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if m["msg"] != "decision" {
			t.Fatalf("not a decision: %v", m)
		}
		out[m["role_name"].(string)] = m
	}
	return out
}

func TestScan(t *testing.T) {
	srv, arn := scanEnv(t)

	stdout, stderr, code := runCmd(t, "scan")
	if code != 0 {
		t.Fatalf("scan: exit %d, stderr %s", code, stderr)
	}
	recs := scanRecords(t, stdout)
	// The lockdown policy's own record (no role name) comes first.
	if policy := recs[""]; policy["policy_arn"] != arn || policy["lockdown"] != "present" {
		t.Errorf("lockdown policy record: %v", policy)
	}
	delete(recs, "")
	if len(recs) != 3 || recs["bad"]["outcome"] != "would-change" || recs["ok"]["outcome"] != "compliant" || recs["AWSServiceRoleForX"]["outcome"] != "skipped" {
		t.Errorf("check records: %v", recs)
	}
	if srv.WriteCalls() != 0 {
		t.Errorf("scan without --enforce wrote %d times", srv.WriteCalls())
	}
	if !strings.Contains(stderr, "3 roles, 1 compliant, 1 would change, 1 skipped") {
		t.Errorf("summary: %s", stderr)
	}

	stdout, stderr, code = runCmd(t, "scan", "--enforce", "--role", "bad")
	if code != 0 {
		t.Fatalf("scan --enforce: exit %d, stderr %s", code, stderr)
	}
	recs = scanRecords(t, stdout)
	if len(recs) != 1 || recs["bad"]["outcome"] != "changed" {
		t.Errorf("enforce records: %v", recs)
	}
	st, _ := srv.Role("bad")
	if strings.Contains(st.TrustPolicy, "999988887777") || !slices.Contains(st.AttachedPolicyARNs, arn) {
		t.Errorf("role not fixed: %+v", st)
	}
}

func TestScanErrors(t *testing.T) {
	srv, _ := scanEnv(t)
	tests := []struct {
		name  string
		args  []string
		setup func(t *testing.T)
		want  int
		in    string
	}{
		{"stray argument", []string{"scan", "extra"}, nil, 2, "usage"},
		{"bad flag", []string{"scan", "--nope"}, nil, 2, "flag provided but not defined"},
		{"bad config", []string{"scan"}, func(t *testing.T) { t.Setenv("GUARDRAIL_MODE", "loud") }, 2, "GUARDRAIL_MODE"},
		{"missing lockdown ARN", []string{"scan"}, func(t *testing.T) { t.Setenv("GUARDRAIL_LOCKDOWN_POLICY_ARN", "") }, 2, "GUARDRAIL_LOCKDOWN_POLICY_ARN"},
		// Without the guardrail's own roles, --enforce would lock them down
		// like any service role: the lockdown denies them their own log
		// groups and queues.
		{"enforce without protected roles", []string{"scan", "--enforce"}, func(t *testing.T) { t.Setenv("GUARDRAIL_PROTECTED_ROLE_ARNS", "") }, 2, "GUARDRAIL_PROTECTED_ROLE_ARNS"},
		{"IAM fails", []string{"scan", "--concurrency", "1"}, func(*testing.T) {
			_ = srv.SetFaults(iamtest.Faults{Action: "GetAccountAuthorizationDetails", ServerErrorRate: 1, Seed: 1})
		}, 1, "ServiceFailure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			_, stderr, code := runCmd(t, tc.args...)
			if code != tc.want || !strings.Contains(stderr, tc.in) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tc.want, stderr, tc.in)
			}
		})
	}
}
