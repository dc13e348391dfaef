package iamtest

import (
	"fmt"
	"net/http"
)

// The IAM error codes the stand-in answers with. Codes and HTTP statuses are
// the ones the IAM API model (aws-sdk-go-v2/service/iam schemas, awsQueryError
// traits) declares, so the real SDK decodes each into its typed error
// (types.NoSuchEntityException, types.LimitExceededException, ...).
const (
	codeNoSuchEntity            = "NoSuchEntity"            // 404
	codeEntityAlreadyExists     = "EntityAlreadyExists"     // 409
	codeMalformedPolicyDocument = "MalformedPolicyDocument" // 400
	codeLimitExceeded           = "LimitExceeded"           // 409
	codeUnmodifiableEntity      = "UnmodifiableEntity"      // 400
	codeDeleteConflict          = "DeleteConflict"          // 409
	codeInvalidInput            = "InvalidInput"            // 400
	codePolicyNotAttachable     = "PolicyNotAttachable"     // 400
	codeServiceFailure          = "ServiceFailure"          // 500
	codeServiceUnavailable      = "ServiceUnavailable"      // 503
	codeThrottling              = "Throttling"              // 400
	codeValidationError         = "ValidationError"         // 400
	codeInvalidAction           = "InvalidAction"           // 400
	codeMissingAuthToken        = "MissingAuthenticationToken"
	codeAccessDenied            = "AccessDenied" // 403
)

// apiError is one IAM error response: code, HTTP status and message, written
// as <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// errType is IAM's <Type>: Sender for client errors, Receiver for server ones.
func (e *apiError) errType() string {
	if e.status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

func newErr(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errNoSuchEntity(format string, args ...any) *apiError {
	return newErr(http.StatusNotFound, codeNoSuchEntity, format, args...)
}

func errAlreadyExists(format string, args ...any) *apiError {
	return newErr(http.StatusConflict, codeEntityAlreadyExists, format, args...)
}

func errMalformed(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, codeMalformedPolicyDocument, format, args...)
}

func errLimit(format string, args ...any) *apiError {
	return newErr(http.StatusConflict, codeLimitExceeded, format, args...)
}

func errValidation(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, codeValidationError, format, args...)
}

func errInvalidInput(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, codeInvalidInput, format, args...)
}

func errDeleteConflict(format string, args ...any) *apiError {
	return newErr(http.StatusConflict, codeDeleteConflict, format, args...)
}

// errProtected is what IAM answers for a change to a role only AWS may modify
// (service-linked roles, IAM Identity Center roles): UnmodifiableEntity.
func errProtected(roleName string) *apiError {
	return newErr(http.StatusBadRequest, codeUnmodifiableEntity,
		"Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", roleName)
}
