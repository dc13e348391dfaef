package guardrail_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/iamguardrail/guardrail/pkg/guardrail"
)

func TestIsRetryable(t *testing.T) {
	api := func(code string, fault smithy.ErrorFault) error {
		return fmt.Errorf("update trust policy of role r: %w", &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"stale read", fmt.Errorf("role r: %w", guardrail.ErrStaleRead), true},
		{"throttling", api("Throttling", smithy.FaultClient), true},
		{"service failure", api("ServiceFailure", smithy.FaultServer), true},
		{"unknown server fault", api("SomethingNew", smithy.FaultServer), true},
		{"concurrent modification", api("ConcurrentModification", smithy.FaultClient), true},
		{"deadline", fmt.Errorf("get role r: %w", context.DeadlineExceeded), true},
		{"network", fmt.Errorf("get role r: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{"malformed policy", api("MalformedPolicyDocument", smithy.FaultClient), false},
		{"unmodifiable", api("UnmodifiableEntity", smithy.FaultClient), false},
		{"access denied", api("AccessDenied", smithy.FaultClient), false},
		{"lockdown policy missing", fmt.Errorf("attach: %w", guardrail.ErrLockdownPolicyMissing), false},
		{"plain error", errors.New("parse trust policy"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := guardrail.IsRetryable(tc.err); got != tc.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
