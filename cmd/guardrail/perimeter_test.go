package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamguardrail/guardrail/pkg/lockdown"
	"github.com/iamguardrail/guardrail/pkg/perimeter"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// TestPerimeter: the command prints the documents pkg/perimeter builds from
// the same settings, byte for byte in --out, and refuses bad settings.
func TestPerimeter(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := runCmd(t, "perimeter", "--account", "111122223333", "--trusted-orgs", "o-exampleorg01",
		"--trusted-accounts", "444455556666", "--trusted-oidc-tenants", "github:acme-corp", "--exempt-roles", "BreakGlass",
		"--protected-role-arns", "arn:aws:iam::111122223333:role/IamRoleGuardrail-Member", "--control-tower", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out perimeterOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("output: %v\n%s", err, stdout)
	}
	z := trust.Zone{Account: "111122223333", Partition: "aws", TrustedOrgIDs: []string{"o-exampleorg01"}, TrustedAccounts: []string{"444455556666"},
		TrustedOIDCTenants: []string{"github:acme-corp"}}
	rcps, err := perimeter.RCPs(z, []string{"BreakGlass"})
	if err != nil {
		t.Fatal(err)
	}
	scps, err := perimeter.SCPs(lockdown.Config{Account: "111122223333", Partition: "aws", ExemptRoles: []string{"BreakGlass"}},
		perimeter.SCPOptions{ControlTower: true, ProtectedRoleARNs: []string{"arn:aws:iam::111122223333:role/IamRoleGuardrail-Member"}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, printed []json.RawMessage, want [][]byte, sizes []int) {
		if len(printed) != len(want) || len(sizes) != len(want) {
			t.Fatalf("%s: %d printed, %d sizes, want %d", what, len(printed), len(sizes), len(want))
		}
		for i := range want {
			var compact bytes.Buffer
			if err := json.Compact(&compact, printed[i]); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(compact.Bytes(), want[i]) || sizes[i] != len(want[i]) {
				t.Errorf("%s %d: printed %s (size %d), want %s", what, i+1, compact.Bytes(), sizes[i], want[i])
			}
			name := filepath.Join(dir, strings.ToLower(what)+"-"+string(rune('1'+i))+".json")
			if data, err := os.ReadFile(name); err != nil || !bytes.Equal(data, want[i]) {
				t.Errorf("%s: %v; want the document byte for byte", name, err)
			}
		}
	}
	check("RCP", out.ResourceControlPolicies, rcps, out.Sizes.ResourceControlPolicies)
	check("SCP", out.ServiceControlPolicies, scps, out.Sizes.ServiceControlPolicies)
	if out.Sizes.Limit != perimeter.MaxSize {
		t.Errorf("limit %d", out.Sizes.Limit)
	}

	for _, args := range [][]string{
		{"perimeter", "--account", "111122223333"},                                                            // no organization
		{"perimeter", "--trusted-orgs", "o-exampleorg01"},                                                     // no account
		{"perimeter", "--account", "111122223333", "--trusted-orgs", "o-exampleorg01", "--exempt-roles", "*"}, // exempts every role
		{"perimeter", "--account", "111122223333", "--trusted-orgs", "o-exampleorg01", "--protected-role-arns", "arn:aws:iam::111122223333:role/*"},
		{"perimeter", "--account", "111122223333", "--trusted-orgs", "not-an-org"},
	} {
		if _, stderr, code := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}
