package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	policyFile := writeFile(t, "trust.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","999988887777"]},"Action":"sts:AssumeRole"}]}`)
	event := writeFile(t, "event.json", `{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{"eventName":"UpdateAssumeRolePolicy","requestParameters":{"roleName":"app","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}}}`)
	record := writeFile(t, "record.json", `{"eventName":"CreateRole","requestParameters":{"roleName":"r","assumeRolePolicyDocument":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}}}`)
	encoded := writeFile(t, "encoded.txt", `%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22444455556666%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D`)

	stdout, stderr, code := runCmd(t, "check", "--account", "111122223333", "--trusted-accounts", "444455556666", policyFile, event, record, encoded)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), stdout)
	}
	type result struct {
		File      string `json:"file"`
		EventName string `json:"event_name"`
		Changed   bool   `json:"changed"`
		Findings  []struct {
			Control, Principal, Reason string
			Removed                    bool
		} `json:"findings"`
		Before map[string]any `json:"trust_policy_before"`
		After  map[string]any `json:"trust_policy_after"`
	}
	var got []result
	for _, l := range lines {
		var r result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if r.Before == nil || r.After == nil {
			t.Errorf("%s: before/after must be JSON objects: %s", r.File, l)
		}
		got = append(got, r)
	}
	if !got[0].Changed || len(got[0].Findings) != 1 || got[0].Findings[0].Principal != "AWS:999988887777" || got[0].Findings[0].Control != "trust" || !got[0].Findings[0].Removed {
		t.Errorf("policy file: %+v", got[0])
	}
	if got[1].Changed || got[1].EventName != "UpdateAssumeRolePolicy" || len(got[1].Findings) != 1 || got[1].Findings[0].Removed {
		t.Errorf("event (service kept, flagged): %+v", got[1])
	}
	if !got[2].Changed || got[2].Findings[0].Principal != "*" {
		t.Errorf("record with object document: %+v", got[2])
	}
	if got[3].Changed {
		t.Errorf("encoded trusted account: %+v", got[3])
	}
}

func TestCheckErrors(t *testing.T) {
	good := writeFile(t, "good.json", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}`)
	bad := writeFile(t, "bad.json", `{"Statement":[{"Effect":"Maybe"}]}`)
	noTrust := writeFile(t, "attach.json", `{"eventName":"AttachRolePolicy","requestParameters":{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}`)
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
		lines  int
	}{
		{"no account", []string{"check", good}, "usage", 0},
		{"no files", []string{"check", "--account", "111122223333"}, "usage", 0},
		{"bad account", []string{"check", "--account", "123", good}, "12-digit", 0},
		{"bad org", []string{"check", "--account", "111122223333", "--trusted-orgs", "org1", good}, "organization", 0},
		{"missing file", []string{"check", "--account", "111122223333", "/nonexistent/x.json", good}, "/nonexistent/x.json", 1},
		{"malformed policy", []string{"check", "--account", "111122223333", bad, good}, "bad.json: policy: Statement[0].Effect", 1},
		{"record without trust policy", []string{"check", "--account", "111122223333", noTrust}, "attach.json: no trust policy", 0},
		{"unknown flag", []string{"check", "--acount", "111122223333", good}, "flag provided but not defined", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.stderr)
			}
			if n := strings.Count(stdout, "\n"); n != tc.lines {
				t.Errorf("stdout has %d lines, want %d: %s", n, tc.lines, stdout)
			}
		})
	}
}

// TestCheckSamples runs the command over the sample policies the README shows.
func TestCheckSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "trust", "*"))
	if len(files) == 0 {
		t.Fatal("no samples under events/trust")
	}
	stdout, stderr, code := runCmd(t, append([]string{"check", "--account", "111122223333", "--trusted-accounts", "444455556666", "--trusted-orgs", "o-a1b2c3d4e5"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != len(files) {
		t.Errorf("%d lines for %d files", n, len(files))
	}
}
