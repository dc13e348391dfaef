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
	CodeNoSuchEntity            = "NoSuchEntity"            // 404
	CodeEntityAlreadyExists     = "EntityAlreadyExists"     // 409
	CodeMalformedPolicyDocument = "MalformedPolicyDocument" // 400
	CodeLimitExceeded           = "LimitExceeded"           // 409
	CodeUnmodifiableEntity      = "UnmodifiableEntity"      // 400
	CodeDeleteConflict          = "DeleteConflict"          // 409
	CodeInvalidInput            = "InvalidInput"            // 400
	CodePolicyNotAttachable     = "PolicyNotAttachable"     // 400
	CodeServiceFailure          = "ServiceFailure"          // 500
	CodeServiceUnavailable      = "ServiceUnavailable"      // 503
	CodeThrottling              = "Throttling"              // 400
	CodeValidationError         = "ValidationError"         // 400
	CodeInvalidAction           = "InvalidAction"           // 400
	CodeMissingAuthToken        = "MissingAuthenticationToken"
	CodeAccessDenied            = "AccessDenied" // 403
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
	return newErr(http.StatusNotFound, CodeNoSuchEntity, format, args...)
}

func errAlreadyExists(format string, args ...any) *apiError {
	return newErr(http.StatusConflict, CodeEntityAlreadyExists, format, args...)
}

func errMalformed(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, CodeMalformedPolicyDocument, format, args...)
}

func errLimit(format string, args ...any) *apiError {
	return newErr(http.StatusConflict, CodeLimitExceeded, format, args...)
}

func errValidation(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, CodeValidationError, format, args...)
}

func errInvalidInput(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, CodeInvalidInput, format, args...)
}

func errDeleteConflict(format string, args ...any) *apiError {
	return newErr(http.StatusConflict, CodeDeleteConflict, format, args...)
}

// errProtected is what IAM answers for a change to a role only AWS may modify
// (service-linked roles, IAM Identity Center roles): UnmodifiableEntity.
func errProtected(roleName string) *apiError {
	return newErr(http.StatusBadRequest, CodeUnmodifiableEntity,
		"Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", roleName)
}
