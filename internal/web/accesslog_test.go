package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The access line is byte for byte what slog's handlers write for the same
// record, for plain and awkward paths, ids and addresses.
func TestAccessLineMatchesSlog(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 18, 47, 1, 120_000_000, time.FixedZone("x", 3600))
	paths := []string{"/api/collections/msgs/1", "", "/a b", "/a=b", `/q"uote`, `/back\slash`, "/ünïcödé", "/\u2028\u2029",
		"/\x00ctl\x1f", "/tab\t\r\n", "/bad\xffutf8", "/\u00a0nbsp", "/<html>&", "/del\x7f"}
	durations := []float64{0, 0.001, 0.512, 12.345, 1234.5, 100000, 7.0}
	for _, asJSON := range []bool{false, true} {
		for i, p := range paths {
			a := accessLine{t: at.Add(time.Duration(i) * 1_234_567 * time.Nanosecond), level: slog.LevelInfo, method: "GET", path: p,
				status: 200 + i, bytes: int64(i * 1000), durationMS: durations[i%len(durations)], reqID: "0123abcd" + p, remote: "127.0.0.1:" + p}
			if i%3 == 0 {
				a.level, a.status = slog.LevelError, 503
			}
			var want bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&want, nil)
			got := a.appendText(nil)
			if asJSON {
				h = slog.NewJSONHandler(&want, nil)
				got = a.appendJSON(nil)
			}
			rec := slog.NewRecord(a.t, a.level, "http", 0)
			rec.AddAttrs(slog.String("method", a.method), slog.String("path", a.path), slog.Int("status", a.status),
				slog.Int64("bytes", a.bytes), slog.Float64("duration_ms", a.durationMS),
				slog.String("request_id", a.reqID), slog.String("remote", a.remote))
			require.NoError(t, h.Handle(context.Background(), rec))
			require.Equal(t, want.String(), string(got), "json %v, path %q", asJSON, p)
		}
	}
}

// Logger writes one line per request through the access log, at INFO, or
// at ERROR for a 5xx, and none below the configured level.
func TestLoggerWritesTheAccessLine(t *testing.T) {
	var out bytes.Buffer
	SetAccessLog(&out, false, slog.LevelWarn)
	defer access.Store(nil)
	h := WithRequestID(Logger(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("hello"))
	})))
	for _, p := range []string{"/ok", "/fail"} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set("X-Request-Id", "req-"+p[1:])
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "the INFO line is below warn: %q", out.String())
	require.Contains(t, lines[0], " level=ERROR msg=http method=GET path=/fail status=503 bytes=0 duration_ms=")
	require.Contains(t, lines[0], " request_id=req-fail remote=192.0.2.1:1234")

	out.Reset()
	SetAccessLog(&out, true, slog.LevelInfo)
	req := httptest.NewRequest(http.MethodGet, "/ok", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Contains(t, out.String(), `"level":"INFO","msg":"http","method":"GET","path":"/ok","status":200,"bytes":5,"duration_ms":`)
}
