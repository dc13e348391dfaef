package e2e

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
	"github.com/iamguardrail/guardrail/lambdas/fixtures"
	"github.com/iamguardrail/guardrail/lambdas/replay"
	"github.com/iamguardrail/guardrail/lambdas/sandbox"
	"github.com/iamguardrail/guardrail/pkg/config"
	"github.com/iamguardrail/guardrail/pkg/lockdown"
)

// TestEnforcerWithIAMLocalProcess runs the whole local chain as separate
// processes, as `make demo` and an operator would: `guardrail iam-local`, the
// enforcer bootstrap under the emulator pointed at it with
// AWS_ENDPOINT_URL_IAM, and the test itself as just another SDK client that
// makes the IAM calls, delivers their events and reads the outcome.
func TestEnforcerWithIAMLocalProcess(t *testing.T) {
	rieBin := rie(t)
	bootstrap := buildBootstrap(t, "enforcer")
	endpoint := startIAMLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "local", ""),
	})

	// What the stack creates: the lockdown policy and the enforcer's role.
	doc, err := lockdown.Document(lockdown.Config{Account: sandbox.Account, NamePrefix: sandbox.NamePrefix})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := client.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(lockdown.PolicyName), PolicyDocument: aws.String(string(doc))})
	if err != nil {
		t.Fatalf("create lockdown policy: %v", err)
	}
	lockdownARN := aws.ToString(pol.Policy.Arn)
	if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(sandbox.EnforcerRole),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatalf("create enforcer role: %v", err)
	}

	out := &output{}
	fn, err := emulator.Start(ctx, emulator.Options{
		RIE: rieBin, Bootstrap: bootstrap, Name: sandbox.NamePrefix + "-Enforcer", Timeout: 60 * time.Second,
		Stdout: out, Stderr: out,
		Env: []string{
			config.EnvMode + "=enforce",
			config.EnvTrustedAccounts + "=" + sandbox.TrustedAccount,
			config.EnvTrustedOrgIDs + "=" + sandbox.TrustedOrgID,
			config.EnvProtectedRoleARNs + "=arn:aws:iam::" + sandbox.Account + ":role/" + sandbox.EnforcerRole,
			config.EnvLockdownPolicyARN + "=" + lockdownARN,
			"AWS_ENDPOINT_URL_IAM=" + endpoint,
			"AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
			"AWS_SECRET_ACCESS_KEY=local",
			"AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
			"AWS_EC2_METADATA_DISABLED=true",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fn.Close() })
	e := &env{fn: fn, out: out}

	happen := func(name, role string) map[string]any {
		t.Helper()
		ev := withRole(t, fixtures.RequireEvent(t, name), role)
		if _, err := replay.Apply(ctx, client, ev); err != nil {
			t.Fatalf("%s: IAM call: %v", name, err)
		}
		rec, err := e.deliver(t, ev)
		if err != nil {
			t.Fatalf("%s: enforcer failed: %v", name, err)
		}
		return rec
	}
	attached := func(role string) []string {
		t.Helper()
		got, err := client.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatal(err)
		}
		var arns []string
		for _, p := range got.AttachedPolicies {
			arns = append(arns, aws.ToString(p.PolicyArn))
		}
		return arns
	}

	// A role trusting a foreign account: stripped, sessions revoked, locked down.
	rec := happen("CreateRole-foreign-account.json", "vendor-reports")
	if rec["outcome"] != "changed" || rec["lockdown"] != "attached" {
		t.Errorf("record: outcome %v, lockdown %v", rec["outcome"], rec["lockdown"])
	}
	role, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("vendor-reports")})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := url.PathUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(trust, "999988887777") {
		t.Errorf("foreign account still trusted: %s", trust)
	}
	if !slices.Contains(attached("vendor-reports"), lockdownARN) {
		t.Errorf("lockdown not attached: %v", attached("vendor-reports"))
	}
	inline, err := client.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("vendor-reports")})
	if err != nil || !slices.Contains(inline.PolicyNames, "GuardrailRevokeOlderSessions") {
		t.Errorf("older sessions not revoked: %v %v", inline, err)
	}

	// The lockdown detached by hand: attached again.
	happen("DetachRolePolicy-lockdown.json", "vendor-reports")
	if !slices.Contains(attached("vendor-reports"), lockdownARN) {
		t.Errorf("lockdown not re-attached after DetachRolePolicy: %v", attached("vendor-reports"))
	}
}

// startIAMLocal builds the guardrail command and runs `guardrail iam-local`
// on a free loopback port until the test ends; it returns the printed URL.
func startIAMLocal(t *testing.T) string {
	t.Helper()
	root, err := fixtures.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "guardrail")
	build := exec.Command("go", "build", "-o", bin, "./cmd/guardrail")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build guardrail: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "iam-local", "--addr", "127.0.0.1:0", "--account", sandbox.Account)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("iam-local did not stop cleanly: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("iam-local ignored SIGINT")
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case u := <-line:
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("iam-local printed %q, want its URL", u)
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("iam-local did not print its URL")
	}
	return ""
}
