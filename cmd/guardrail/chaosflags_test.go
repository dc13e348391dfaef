package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/iamguardrail/guardrail/lambdas/emulator"
)

func TestIAMLocalFaultFlagsRejected(t *testing.T) {
	for _, args := range [][]string{
		{"--fault-rate", "1.5"},
		{"--fault-codes", "AccessDenied", "--fault-rate", "0.1"},
		{"--fault-codes", "Throttling=0.8,ServiceFailure=0.5"},
		{"--latency", "-1s"},
		{"--stale-reads", "-2"},
		{"--stale-mode", "eventual"},
		{"--stale-for", "-1s"},
	} {
		var stdout, stderr bytes.Buffer
		if got := runIAMLocal(context.Background(), args, &stdout, &stderr); got != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, got, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: wrote %q on stdout", args, stdout.String())
		}
	}
}

// TestIAMLocalFaultFlags runs iam-local with every call throttled and with
// stale reads, and checks both through the real SDK.
func TestIAMLocalFaultFlags(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode string // of the first GetRole after CreateRole
	}{
		{"throttled", []string{"--fault-rate", "1", "--fault-codes", "Throttling", "--seed", "3"}, "Throttling"},
		{"service failure", []string{"--fault-codes", "ServiceFailure=1", "--latency", "1ms"}, "ServiceFailure"},
		{"stale read after CreateRole", []string{"--stale-reads", "1", "--stale-mode", "independent"}, "NoSuchEntity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			var stderr emulator.Buffer // written by the server goroutine while the test reads
			done := make(chan int, 1)
			go func() {
				done <- runIAMLocal(ctx, append([]string{"--addr", "127.0.0.1:0"}, tc.args...), pw, &stderr)
				pw.Close()
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatalf("no URL on stdout: %v (stderr %s)", err, stderr.String())
			}
			c := clientFor(strings.TrimSpace(line))
			once := func(o *iam.Options) { o.Retryer = retry.AddWithMaxAttempts(retry.NewStandard(), 1) }
			_, cerr := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(testTrust)}, once)
			_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")}, once)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.wantCode {
				t.Errorf("GetRole error = %v (CreateRole: %v), want %s", err, cerr, tc.wantCode)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d", code)
			}
		})
	}
}
