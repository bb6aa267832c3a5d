// Package apierror defines AYB's one error shape, {code, message, details,
// hint}, and the one table that maps an error code (an SQLSTATE or a stable
// snake_case AYB code) to an HTTP status.
package apierror

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Error is what every JSON error response carries. Cause is logged, never sent.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details"`
	Hint    string `json:"hint"`
	Cause   error  `json:"-"`
	// Header holds extra response headers (e.g. Retry-After for 429).
	Header http.Header `json:"-"`
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New builds an error whose status comes from the code table.
func New(code, message string) *Error {
	return &Error{Status: StatusFor(code), Code: code, Message: message}
}

// WithDetails returns e with details set.
func (e *Error) WithDetails(d any) *Error { e.Details = d; return e }

// WithHint returns e with a hint set.
func (e *Error) WithHint(h string) *Error { e.Hint = h; return e }

// WithCause returns e with the underlying cause (logged, never sent).
func (e *Error) WithCause(err error) *Error { e.Cause = err; return e }

// Stable AYB error codes. SDKs generate their catalogs from this list.
const (
	CodeBadRequest        = "bad_request"
	CodeInvalidJSON       = "invalid_json"
	CodeValidation        = "validation_failed"
	CodeBodyTooLarge      = "body_too_large"
	CodeUnauthorized      = "unauthorized"
	CodeInvalidToken      = "invalid_token"
	CodeForbidden         = "forbidden"
	CodeInsufficientScope = "insufficient_scope"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeConflict          = "conflict"
	CodeAlreadyExists     = "already_exists"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeRateLimited       = "rate_limited"
	CodeInternal          = "internal_error"
	CodeUnavailable       = "service_unavailable"
	CodeTimeout           = "timeout"

	// Auth.
	CodeInvalidCredentials = "invalid_credentials"
	CodeWeakPassword       = "weak_password"
	CodeEmailNotVerified   = "email_not_verified"
	CodeUserBanned         = "user_banned"
	CodeInvalidLink        = "invalid_link"
	CodeOAuthFailed        = "oauth_failed"
	// API keys (package apikey): all 401.
	CodeAPIKeyInvalid = "api_key_invalid"
	CodeAPIKeyRevoked = "api_key_revoked"
	CodeAPIKeyExpired = "api_key_expired"
)

// statusByCode is the one table from error code to HTTP status. SQLSTATEs are
// listed by full code; classes fall back by their first two characters.
var statusByCode = map[string]int{
	CodeBadRequest:        http.StatusBadRequest,
	CodeInvalidJSON:       http.StatusBadRequest,
	CodeValidation:        http.StatusBadRequest,
	CodeBodyTooLarge:      http.StatusRequestEntityTooLarge,
	CodeUnauthorized:      http.StatusUnauthorized,
	CodeInvalidToken:      http.StatusUnauthorized,
	CodeForbidden:         http.StatusForbidden,
	CodeInsufficientScope: http.StatusForbidden,
	CodeNotFound:          http.StatusNotFound,
	CodeMethodNotAllowed:  http.StatusMethodNotAllowed,
	CodeConflict:          http.StatusConflict,
	CodeAlreadyExists:     http.StatusConflict,
	CodeUnsupportedMedia:  http.StatusUnsupportedMediaType,
	CodeRateLimited:       http.StatusTooManyRequests,
	CodeInternal:          http.StatusInternalServerError,
	CodeUnavailable:       http.StatusServiceUnavailable,
	CodeTimeout:           http.StatusGatewayTimeout,
	CodeAPIKeyInvalid:     http.StatusUnauthorized,
	CodeAPIKeyRevoked:     http.StatusUnauthorized,
	CodeAPIKeyExpired:     http.StatusUnauthorized,

	CodeInvalidCredentials: http.StatusUnauthorized,
	CodeWeakPassword:       http.StatusBadRequest,
	CodeEmailNotVerified:   http.StatusForbidden,
	CodeUserBanned:         http.StatusForbidden,
	CodeInvalidLink:        http.StatusBadRequest,
	CodeOAuthFailed:        http.StatusBadRequest,

	// SQLSTATEs
	"23505": http.StatusConflict,   // unique_violation
	"23503": http.StatusConflict,   // foreign_key_violation
	"23502": http.StatusBadRequest, // not_null_violation
	"23514": http.StatusBadRequest, // check_violation
	"23P01": http.StatusConflict,   // exclusion_violation
	"22P02": http.StatusBadRequest, // invalid_text_representation
	"22007": http.StatusBadRequest, // invalid_datetime_format
	"22008": http.StatusBadRequest, // datetime_field_overflow
	"22003": http.StatusBadRequest, // numeric_value_out_of_range
	"22001": http.StatusBadRequest, // string_data_right_truncation
	"22023": http.StatusBadRequest, // invalid_parameter_value
	"22021": http.StatusBadRequest, // character_not_in_repertoire
	"2201B": http.StatusBadRequest, // invalid_regular_expression
	"0A000": http.StatusBadRequest, // feature_not_supported (e.g. writing a view column Postgres cannot update)
	"42501": http.StatusForbidden,  // insufficient_privilege (also RLS WITH CHECK)
	"42P01": http.StatusNotFound,   // undefined_table
	"42883": http.StatusNotFound,   // undefined_function
	"42703": http.StatusBadRequest, // undefined_column
	"P0001": http.StatusBadRequest, // raise_exception
	"P0002": http.StatusNotFound,   // no_data_found
	"25006": http.StatusForbidden,  // read_only_sql_transaction
	"40001": http.StatusConflict,   // serialization_failure
	"40P01": http.StatusConflict,   // deadlock_detected
	"55P03": http.StatusConflict,   // lock_not_available
	"57014": http.StatusGatewayTimeout,
	"53300": http.StatusServiceUnavailable, // too_many_connections
}

// Catalog returns AYB's own error codes (not SQLSTATEs) with their HTTP
// statuses, sorted by code. The SDKs' code lists are generated from it
// (sdk/src/codes.ts; see TestSDKCatalogsAreGenerated).
func Catalog() []CatalogEntry {
	var out []CatalogEntry
	for code, status := range statusByCode {
		if len(code) == 5 && strings.ToUpper(code) == code {
			continue // an SQLSTATE
		}
		out = append(out, CatalogEntry{Code: code, Status: status})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// CatalogEntry is one error code and the status it answers with.
type CatalogEntry struct {
	Code   string
	Status int
}

var statusByClass = map[string]int{
	"08": http.StatusServiceUnavailable, // connection exception
	"22": http.StatusBadRequest,         // data exception
	"23": http.StatusConflict,           // integrity constraint violation
	"28": http.StatusForbidden,          // invalid authorization
	"2B": http.StatusForbidden,
	"40": http.StatusConflict,
	"42": http.StatusBadRequest, // syntax error or access rule violation
	"53": http.StatusServiceUnavailable,
	"54": http.StatusBadRequest, // program limit exceeded
	"57": http.StatusServiceUnavailable,
}

// StatusFor maps a code to its HTTP status. SQL authors choose a status with
// SQLSTATE 'PTnnn' (e.g. raise ... using errcode = 'PT404'), as in PostgREST.
func StatusFor(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	if len(code) == 5 && code[0] == 'P' && code[1] == 'T' {
		var n int
		if _, err := fmt.Sscanf(code[2:], "%d", &n); err == nil && n >= 100 && n <= 599 {
			return n
		}
	}
	if len(code) == 5 {
		if s, ok := statusByClass[code[:2]]; ok {
			return s
		}
	}
	return http.StatusInternalServerError
}

// As returns err as an *Error, wrapping an unknown error as a 500 whose
// message says nothing of the cause.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Status == 0 {
			e.Status = StatusFor(e.Code)
		}
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal server error", Cause: err}
}

// Shorthands for the common cases.
func BadRequest(msg string) *Error   { return New(CodeBadRequest, msg) }
func Validation(msg string) *Error   { return New(CodeValidation, msg) }
func NotFound(msg string) *Error     { return New(CodeNotFound, msg) }
func Forbidden(msg string) *Error    { return New(CodeForbidden, msg) }
func Unauthorized(msg string) *Error { return New(CodeUnauthorized, msg) }
func Conflict(msg string) *Error     { return New(CodeConflict, msg) }
func Internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal server error", Cause: cause}
}
