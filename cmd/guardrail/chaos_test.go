package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/pkg/trust"
)

// TestChaosPlanDeterministic: one seed, one scenario; the scenario has what
// issue 14 asks for.
func TestChaosPlanDeterministic(t *testing.T) {
	const arn = "arn:aws:iam::111122223333:policy/GuardrailLockdown"
	a := newChaosPlan(7, 160, 520, arn, 0.2, 0.2)
	b := newChaosPlan(7, 160, 520, arn, 0.2, 0.2)
	if a.Digest() != b.Digest() {
		t.Fatal("the same seed gave two plans")
	}
	if c := newChaosPlan(8, 160, 520, arn, 0.2, 0.2); c.Digest() == a.Digest() {
		t.Error("two seeds gave the same plan")
	}
	if len(a.Ops) < 520 || len(a.Roles) != 160 {
		t.Fatalf("%d ops on %d roles", len(a.Ops), len(a.Roles))
	}
	count := map[string]int{}
	dups, held := 0, 0
	compliant, foreign := chaosTrusts()
	trusts := map[string]int{}
	for _, op := range a.Ops {
		count[op.API]++
		dups += len(op.Deliver) - 1
		if op.Reordered {
			held++
		}
		switch {
		case op.Trust == "":
		case contains(compliant, op.Trust):
			trusts["compliant"]++
		case contains(foreign, op.Trust):
			trusts["foreign"]++
		}
	}
	if count["CreateRole"] != 160 || count["UpdateAssumeRolePolicy"] == 0 || count["DetachRolePolicy"] == 0 || count["AttachRolePolicy"] == 0 {
		t.Errorf("calls by API %v", count)
	}
	if trusts["compliant"] == 0 || trusts["foreign"] == 0 {
		t.Errorf("trust documents %v", trusts)
	}
	// 20 % each, give or take the draw.
	for name, n := range map[string]int{"duplicated": dups, "held back": held} {
		if n < len(a.Ops)*15/100 || n > len(a.Ops)*25/100 {
			t.Errorf("%d of %d events %s, want about 20 %%", n, len(a.Ops), name)
		}
	}
	// Bursts: the CreateRole calls of a deploy come back to back.
	if a.Ops[1].API != "CreateRole" || a.Ops[1].Deploy != 0 || a.Ops[1].Pause > 10*time.Millisecond {
		t.Errorf("second op %+v is not part of the first deploy's burst", a.Ops[1])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// judgeRole applies the engine's own rule and the never-widen check.
func TestJudgeRole(t *testing.T) {
	const lockdownARN = "arn:aws:iam::111122223333:policy/GuardrailLockdown"
	zone := trust.Zone{Account: "111122223333", Partition: "aws", TrustedAccounts: []string{"444455556666"}}
	compliant, foreign := chaosTrusts()
	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"GuardrailNoTrustedPrincipals","Effect":"Deny","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:AssumeRoleWithSAML","sts:AssumeRoleWithWebIdentity"]}]}`
	tests := []struct {
		name                         string
		doc, latest                  string
		attached                     []string
		compliant, widened, narrowed bool
	}{
		{"compliant and locked down", compliant[0], compliant[0], []string{lockdownARN}, true, false, false},
		{"no lockdown", compliant[0], compliant[0], nil, false, false, false},
		{"foreign account left", foreign[0], foreign[0], []string{lockdownARN}, false, false, false},
		{"neutralised", deny, foreign[1], []string{lockdownARN}, true, false, false},
		// The owner's latest document admitted only Lambda; the role admits
		// this account's root, from an older document (issue 19, defect 3).
		{"widened by an older claim", compliant[2], compliant[0], []string{lockdownARN}, true, true, true},
		{"restricted from the latest", compliant[2], foreign[2], []string{lockdownARN}, true, false, false},
		// What two documents that cannot be ordered have in common: less
		// than the latest, restricted (fail closed).
		{"narrowed to nothing", deny, compliant[0], []string{lockdownARN}, true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := judgeRole(tc.doc, tc.attached, nil, lockdownARN, tc.latest, zone)
			if st.Compliant != tc.compliant || (len(st.Widened) > 0) != tc.widened || (len(st.Narrowed) > 0) != tc.narrowed {
				t.Errorf("judgeRole = %+v, want compliant %v widened %v narrowed %v", st, tc.compliant, tc.widened, tc.narrowed)
			}
		})
	}
}

// TestChaosShort is `make chaos` made small (issue 14): the same scenario
// and checks with 30 events on 12 roles, nothing lost and every role
// compliant after the sweep, none widened, under the same faults and stale
// reads (the re-checks make it last about 40 s: they are due 36 s after
// their event with the 10 s window).
func TestChaosShort(t *testing.T) {
	rie := emulator.Require(t, testing.Short())
	dir := t.TempDir()
	bins := map[string]string{}
	for _, fn := range []string{"enforcer", "sweeper"} {
		bins[fn] = filepath.Join(dir, fn, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bins[fn], "../../lambdas/"+fn)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, b)
		}
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := runChaos(context.Background(), []string{"--rie", rie, "--enforcer", bins["enforcer"], "--sweeper", bins["sweeper"],
		"--out", out, "--events", "30", "--roles", "12", "--workers", "16", "--seed", "3", "--quiet",
		"--retry-backoff", "100ms"}, &stdout, &stderr)
	report := stdout.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, report, stderr.String())
	}
	t.Log(report)
	lines := strings.Split(strings.TrimSpace(report), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^chaos: 30 events, 12 roles: 12 compliant, [0-9]+ in the failure queue, 0 lost$`).MatchString(last) {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{"invocations", "p50", "p99", "failure-queue entries", "enforcer IAM calls", "writes per changed role",
		"before the sweep", "after the sweep          12 compliant, 0 not compliant (0 of them lost)", "chaos-d00-r000"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	for _, f := range []string{"report.txt", "failure-queue.jsonl", "decisions.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}
