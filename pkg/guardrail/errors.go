package guardrail

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrStaleRead is returned (wrapped) when IAM kept serving a state that
// disagrees with an event's claimed change after every re-read, and the
// claimed state would be non-compliant. Nothing was written: the read copy is
// probably stale, and deciding from it could declare an exposed role
// compliant. It is retryable: Lambda retries the event minutes later, when
// IAM has converged, and the dead-letter queue catches one that never does.
var ErrStaleRead = errors.New("reads did not converge to the event's claimed change")

// ErrReadTooOld is returned (wrapped) when a trust write would follow the
// read it is restricted from by more than the write budget (recheck.go):
// nothing was written, and the retry reads again. It is retryable.
var ErrReadTooOld = errors.New("the read is too old to write from")

// ErrLockdownPolicyMissing is returned (wrapped) when the configured lockdown
// policy does not exist in IAM: a deployment error that retrying cannot fix.
var ErrLockdownPolicyMissing = errors.New("lockdown policy does not exist")

// ErrProtectedRoleUntrusted is returned (wrapped) for a role of the
// guardrail class whose trust policy admits principals the trust control
// would remove. The guardrail's roles are recognised by configured ARNs,
// usually a name-prefix pattern, so anyone allowed to create roles can
// create one that classifies as the guardrail's; and the guardrail's real
// roles only ever trust lambda.amazonaws.com. Either way the role is never
// written (the guardrail's own roles are off limits, and its execution role
// is denied writes to them), so the evaluation fails loudly instead of
// recording a silent "skipped". Retrying cannot fix it.
var ErrProtectedRoleUntrusted = errors.New("role is protected as the guardrail's own but its trust policy admits untrusted principals")

// retryableCodes are IAM and generic AWS error codes that describe a
// transient condition. The SDK already retried these MaxAttempts times; the
// caller retrying the whole evaluation later is the next line of defence.
var retryableCodes = map[string]bool{
	"Throttling":                      true, // IAM's rate limit ("Rate exceeded")
	"ThrottlingException":             true,
	"RequestLimitExceeded":            true,
	"ServiceFailure":                  true, // IAM's 500
	"ServiceUnavailable":              true,
	"InternalFailure":                 true,
	"InternalError":                   true,
	"RequestTimeout":                  true,
	"RequestTimeoutException":         true,
	"ConcurrentModification":          true, // IAM: another write to the same entity was in progress
	"ConcurrentModificationException": true,
}

var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// IsRetryable reports whether err is transient, so that the Lambda should
// return it and let the event be retried: stale reads (ErrStaleRead),
// throttling and IAM 5xx errors that outlasted the SDK's own retries,
// network errors and timeouts, and a context cancelled or past its deadline
// (the invocation ran out of time). Validation and permission errors
// (MalformedPolicyDocument, UnmodifiableEntity, AccessDenied, LimitExceeded
// on a write that has no fallback) are not: retrying them changes nothing.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrStaleRead) || errors.Is(err, ErrReadTooOld) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if retryableCodes[apiErr.ErrorCode()] {
			return true
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return true
		}
	}
	// Connection errors, 5xx status codes and timeouts as the SDK judges them.
	return sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
