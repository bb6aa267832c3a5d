package db

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aybhq/ayb/internal/apierror"
)

// Translate turns a pgx error into an AYB error. It is the only place that
// inspects pgx errors: pgx.ErrNoRows becomes not_found, a *pgconn.PgError
// becomes an error coded by its SQLSTATE with the status from the one table
// in package apierror. Constraint, column and table names go to details;
// the SQL text and internal positions never leave the server.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apierror.NotFound("not found").WithCause(err)
	}
	if errors.Is(err, context.Canceled) {
		return &apierror.Error{Status: 499, Code: "client_closed_request", Message: "request cancelled", Cause: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apierror.New(apierror.CodeTimeout, "the database did not answer in time").WithCause(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fromPgError(pe)
	}
	if pgconn.Timeout(err) {
		return apierror.New(apierror.CodeTimeout, "the database did not answer in time").WithCause(err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return apierror.New(apierror.CodeUnavailable, "database unavailable").WithCause(err)
	}
	return apierror.Internal(err)
}

func fromPgError(pe *pgconn.PgError) *apierror.Error {
	e := &apierror.Error{
		Status: apierror.StatusFor(pe.Code),
		Code:   pe.Code,
		Cause:  pe,
	}
	details := map[string]string{}
	if pe.ConstraintName != "" {
		details["constraint"] = pe.ConstraintName
	}
	if pe.ColumnName != "" {
		details["column"] = pe.ColumnName
	}
	if pe.TableName != "" {
		details["table"] = pe.TableName
	}
	if pe.DataTypeName != "" {
		details["type"] = pe.DataTypeName
	}
	switch pe.Code {
	case "23505":
		e.Message = "a row with the same unique value already exists"
		if pe.Detail != "" {
			details["detail"] = pe.Detail
		}
	case "23503":
		e.Message = "the row references a row that does not exist, or is still referenced"
		if pe.Detail != "" {
			details["detail"] = pe.Detail
		}
	case "23502":
		e.Message = "a required value is missing"
	case "23514":
		e.Message = "a check constraint rejected the row"
	case "42501":
		e.Message = "permission denied"
		if pe.Message != "" {
			details["reason"] = pe.Message
		}
	case "57014":
		if strings.Contains(pe.Message, "statement timeout") {
			e.Code = apierror.CodeTimeout
			e.Message = "the request ran longer than its role's statement_timeout"
			e.Hint = "narrow it (filter on an indexed column, fewer rows, skipTotal=true), or raise the limit: alter role <role> set statement_timeout = '15s'; notify ayb_schema"
			e.Details = nil
			return e
		}
		e.Message = "the statement was cancelled"
		details = map[string]string{}
	case "25006":
		e.Message = "this request may not write"
		e.Hint = "reads (GET, stable and immutable functions) and read-only credentials run in read-only transactions"
		e.Code = apierror.CodeInsufficientScope
		e.Status = http.StatusForbidden
	default:
		// RAISE from SQL authors (P0001, PTnnn and custom codes) and data
		// exceptions carry messages meant for the caller.
		e.Message = pe.Message
		if pe.Detail != "" {
			details["detail"] = pe.Detail
		}
		if e.Status >= 500 && pe.Code[:2] != "P0" && pe.Code[:2] != "PT" {
			e.Message = "database error"
			details = map[string]string{}
		}
	}
	if pe.Hint != "" {
		e.Hint = pe.Hint
	}
	if len(details) > 0 {
		e.Details = details
	}
	return e
}
