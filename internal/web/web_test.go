package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
)

type body struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestDecodeJSONScenarios(t *testing.T) {
	t.Parallel()
	h := BodyLimit(64)(Handler(func(w http.ResponseWriter, r *http.Request) error {
		var b body
		if err := DecodeJSON(r, &b); err != nil {
			return err
		}
		WriteJSON(w, 200, b)
		return nil
	}))
	cases := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"ok", "application/json", `{"name":"a","n":1}`, 200, ""},
		{"empty", "application/json", ``, 400, apierror.CodeInvalidJSON},
		{"not json", "application/json", `name=a`, 400, apierror.CodeInvalidJSON},
		{"truncated", "application/json", `{"name":`, 400, apierror.CodeInvalidJSON},
		{"unknown key", "application/json", `{"name":"a","admin":true}`, 400, apierror.CodeInvalidJSON},
		{"wrong type", "application/json", `{"n":"1"}`, 400, apierror.CodeInvalidJSON},
		{"two values", "application/json", `{} {}`, 400, apierror.CodeInvalidJSON},
		{"bad utf8", "application/json", "{\"name\":\"\xff\"}", 400, apierror.CodeInvalidJSON},
		{"form content type", "application/x-www-form-urlencoded", `{"name":"a"}`, 415, apierror.CodeUnsupportedMedia},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, apierror.CodeBodyTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, c.status, rec.Code, rec.Body.String())
			if c.code != "" {
				var e map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
				require.Equal(t, c.code, e["code"])
				require.Contains(t, e, "message")
				require.Contains(t, e, "details")
				require.Contains(t, e, "hint")
			}
		})
	}
}

func TestErrorBodyNeverLeaksCause(t *testing.T) {
	t.Parallel()
	h := Handler(func(w http.ResponseWriter, r *http.Request) error {
		return apierror.Internal(errInternal("pq: password authentication failed for user secret"))
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, 500, rec.Code)
	require.NotContains(t, rec.Body.String(), "secret")
}

type errInternal string

func (e errInternal) Error() string { return string(e) }

func TestCORS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h := CORS([]string{"https://app.example"})(ok)
	req := httptest.NewRequest("OPTIONS", "/api/x", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 204, rec.Code)
	require.Equal(t, "https://app.example", rec.Header().Get("Access-Control-Allow-Origin"))

	req = httptest.NewRequest("GET", "/api/x", nil)
	req.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
}

func TestRecoverAndRequestID(t *testing.T) {
	t.Parallel()
	h := WithRequestID(Recover(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, 500, rec.Code)
	require.NotEmpty(t, rec.Header().Get("X-Request-Id"))
	require.NotContains(t, rec.Body.String(), "boom")
}
