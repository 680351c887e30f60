package cwlogstest

import (
	"fmt"
	"net/http"
)

// Error is an error answer as CloudWatch Logs sends it: an HTTP status, the
// error type in the x-amzn-ErrorType header and in the body's __type, and a
// message.
type Error struct {
	Status  int    // 400 for client errors, 500 or 503 for server faults
	Type    string // e.g. "ResourceNotFoundException"
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Message) }

// Errors the real service answers with, for FailNext.
var (
	ErrThrottling = Error{Status: http.StatusBadRequest, Type: "ThrottlingException",
		Message: "Rate exceeded"}
	ErrServiceUnavailable = Error{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableException",
		Message: "The service cannot complete the request."}
	ErrInternalFailure = Error{Status: http.StatusInternalServerError, Type: "InternalFailure",
		Message: "The request processing has failed because of an unknown error, exception or failure."}
)

func invalidParameter(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "InvalidParameterException", Message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "ResourceNotFoundException",
		Message: "The specified " + what + " does not exist."}
}

func alreadyExists(what string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "ResourceAlreadyExistsException",
		Message: "The specified " + what + " already exists"}
}

func serializationError(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "SerializationException", Message: msg}
}

// missing is the service's validation message for an absent required member.
func missing(member string) *Error {
	return invalidParameter("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}
