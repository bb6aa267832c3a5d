// Package web is the thin layer between net/http and AYB's handlers:
// handlers return errors and one writer renders them as
// {"code","message","details","hint"}; JSON bodies are decoded strictly.
package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aybhq/ayb/internal/apierror"
)

// Handler is an HTTP handler that returns an error instead of writing one.
type Handler func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP renders the returned error, if any.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteError renders err as the one error body. Causes go to the log only.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := apierror.As(err)
	if e.Status >= 500 {
		slog.ErrorContext(r.Context(), "request failed", "code", e.Code, "err", err, "request_id", RequestID(r.Context()))
	} else if e.Cause != nil {
		slog.DebugContext(r.Context(), "request refused", "code", e.Code, "err", e.Cause, "request_id", RequestID(r.Context()))
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details any    `json:"details"`
		Hint    any    `json:"hint"`
	}{e.Code, e.Message, e.Details, nil}
	if e.Hint != "" {
		body.Hint = e.Hint
	}
	WriteJSON(w, e.Status, body)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteRawJSON writes bytes that are already JSON.
func WriteRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ReadBody reads the request body (already capped by the body-limit
// middleware), turning an over-limit body into a 413.
func ReadBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apierror.New(apierror.CodeBodyTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		}
		return nil, apierror.BadRequest("could not read the request body").WithCause(err)
	}
	return b, nil
}

// RequireJSON refuses a body whose Content-Type is set and is not JSON.
func RequireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return apierror.New(apierror.CodeUnsupportedMedia, "the request body must be JSON").
			WithHint("send Content-Type: application/json")
	}
	return nil
}

// DecodeJSON decodes the body into v strictly: it must be JSON, valid UTF-8,
// one value, and have no keys v does not know.
func DecodeJSON(r *http.Request, v any) error {
	if err := RequireJSON(r); err != nil {
		return err
	}
	b, err := ReadBody(r)
	if err != nil {
		return err
	}
	return DecodeJSONBytes(b, v)
}

// DecodeJSONBytes is DecodeJSON on bytes already read.
func DecodeJSONBytes(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return apierror.New(apierror.CodeInvalidJSON, "the request body is empty").WithHint("send a JSON object")
	}
	if !utf8.Valid(b) {
		return apierror.New(apierror.CodeInvalidJSON, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apierror.New(apierror.CodeInvalidJSON, "the request body holds more than one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return apierror.New(apierror.CodeInvalidJSON, fmt.Sprintf("the request body is not valid JSON (at byte %d)", se.Offset))
	case errors.As(err, &te):
		return apierror.New(apierror.CodeInvalidJSON, fmt.Sprintf("field %q must be %s, not %s", te.Field, te.Type.String(), te.Value)).
			WithDetails(map[string]string{"field": te.Field})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apierror.New(apierror.CodeInvalidJSON, fmt.Sprintf("unknown field %q", f)).WithDetails(map[string]string{"field": f})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apierror.New(apierror.CodeInvalidJSON, "the request body is truncated JSON")
	}
	return apierror.New(apierror.CodeInvalidJSON, "the request body is not valid JSON").WithCause(err)
}
