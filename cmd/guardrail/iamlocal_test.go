package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
)

const testTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func clientFor(url string) *iam.Client {
	return iam.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "dummy", ""),
	})
}

func TestRunIAMLocal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr emulator.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runIAMLocal(ctx, []string{"--addr", "127.0.0.1:0", "--account", "444455556666"}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL on stdout: %v (stderr %s)", err, stderr.String())
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("URL = %q", url)
	}
	out, err := clientFor(url).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("demo"), AssumeRolePolicyDocument: aws.String(testTrust)})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Role.Arn != "arn:aws:iam::444455556666:role/demo" {
		t.Errorf("ARN = %s", *out.Role.Arn)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("iam-local did not stop after cancellation")
	}
	for _, want := range []string{"action=CreateRole", "role=demo", "status=200", "iam-local stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestRunIAMLocalUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"--account", "12345"}, 2},
		{[]string{"--bogus"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"--addr", "256.0.0.1:1"}, 1},
		{[]string{"-h"}, 0},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		if got := runIAMLocal(context.Background(), tc.args, &stdout, &stderr); got != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %s)", tc.args, got, tc.code, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: wrote %q on stdout", tc.args, stdout.String())
		}
	}
}

// TestIAMLocalProcessSignal builds the binary and checks the process exits
// 0 on SIGINT and SIGTERM after serving a call.
func TestIAMLocalProcessSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "guardrail")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "iam-local", "--addr", "127.0.0.1:0")
			stdout, _ := cmd.StdoutPipe()
			var stderr emulator.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			lines := make(chan string, 1)
			go func() {
				l, _ := bufio.NewReader(stdout).ReadString('\n')
				lines <- strings.TrimSpace(l)
			}()
			var url string
			select {
			case url = <-lines:
			case <-time.After(30 * time.Second):
				t.Fatalf("no URL within 30s; stderr %s", stderr.String())
			}
			if _, err := clientFor(url).ListRoles(context.Background(), &iam.ListRolesInput{}); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- cmd.Wait() }()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("exit: %v; stderr %s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("process did not exit after signal")
			}
			if !strings.Contains(stderr.String(), "action=ListRoles") {
				t.Errorf("stderr lacks the call log: %s", stderr.String())
			}
		})
	}
}

// iam-local --accounts plays an organization behind one URL: STS issues
// credentials bound to a member account, IAM calls signed with them act
// there only, unknown keys are refused, Organizations answers.
func TestRunIAMLocalAccounts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr emulator.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runIAMLocal(ctx, []string{"--accounts", "100000000001,200000000002,300000000003"}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL on stdout: %v (stderr %s)", err, stderr.String())
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(strings.TrimSpace(line)),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "local", "")}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::200000000002:role/OrganizationAccountAccessRole"), RoleSessionName: aws.String("admin")})
	if err != nil {
		t.Fatal(err)
	}
	member := cfg.Copy()
	member.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	created, err := iam.NewFromConfig(member).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(testTrust)})
	if err != nil || *created.Role.Arn != "arn:aws:iam::200000000002:role/app" {
		t.Fatalf("CreateRole in the member: %v, %v", created, err)
	}
	if _, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")}); err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
		t.Errorf("the member's role seen from the management account: %v", err)
	}
	if _, err := clientFor(*cfg.BaseEndpoint).ListRoles(ctx, &iam.ListRolesInput{}); err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("an unknown access key: %v, want InvalidClientTokenId", err)
	}
	if o, err := organizations.NewFromConfig(cfg).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{}); err != nil || *o.Organization.MasterAccountId != "100000000001" {
		t.Errorf("DescribeOrganization: %v, %v", o, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestRunIAMLocalAccountsUsage(t *testing.T) {
	for _, args := range [][]string{{"--accounts", "1,2"}, {"--accounts", "100000000001,100000000001"}, {"--account", "100000000001", "--accounts", "100000000001,200000000002"}} {
		var stderr bytes.Buffer
		if code := runIAMLocal(context.Background(), args, &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, code, stderr.String())
		}
	}
}
