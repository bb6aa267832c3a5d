package job_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/identity"
	"github.com/aybhq/ayb/internal/server"
)

// testAuthenticator: "X-Test-Role: admin" is an admin, "user" an
// authenticated user, nothing anonymous.
type testAuthenticator struct{}

func (testAuthenticator) Authenticate(r *http.Request) (identity.Identity, error) {
	switch r.Header.Get("X-Test-Role") {
	case "admin":
		return identity.Identity{Role: identity.RoleServiceRole, Claims: map[string]any{"role": "service_role"}, Kind: "admin"}, nil
	case "user":
		return identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{"role": "authenticated", "sub": "00000000-0000-0000-0000-000000000001"}, Kind: "jwt"}, nil
	}
	return identity.Anon(), nil
}

type scenario struct {
	name   string
	method string
	path   string
	body   string
	role   string
	status int
	want   []string // substrings of the response body
}

// TestAdminHTTP walks the jobs and schedules admin API as a scenario table:
// each row is one request in order, against one database.
func TestAdminHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(server.New(server.Options{Config: config.Defaults(), DB: b.d.DB, Authenticator: testAuthenticator{}}).Handler())
	t.Cleanup(srv.Close)
	b.d.Exec(t, "delete from ayb.schedules")

	rows := []scenario{
		{"anon is refused", "GET", "/api/admin/jobs", "", "", 401, []string{`"code":"unauthorized"`}},
		{"a user is refused", "POST", "/api/admin/jobs", `{"kind":"sql"}`, "user", 403, nil},
		{"enqueue", "POST", "/api/admin/jobs", `{"kind":"report","args":{"n":1},"queue":"reports","priority":3}`, "admin", 201, []string{`"id":1`, `"duplicate":false`}},
		{"enqueue unique", "POST", "/api/admin/jobs", `{"kind":"report","unique_key":"r1","delay":"1h"}`, "admin", 201, []string{`"id":2`}},
		{"enqueue duplicate", "POST", "/api/admin/jobs", `{"kind":"report","unique_key":"r1"}`, "admin", 200, []string{`"id":2`, `"duplicate":true`}},
		{"enqueue bad json", "POST", "/api/admin/jobs", `{"kind":`, "admin", 400, nil},
		{"enqueue unknown field", "POST", "/api/admin/jobs", `{"kind":"x","colour":"red"}`, "admin", 400, nil},
		{"enqueue bad priority", "POST", "/api/admin/jobs", `{"kind":"x","priority":12}`, "admin", 400, []string{"priority"}},
		{"enqueue bad delay", "POST", "/api/admin/jobs", `{"kind":"x","delay":"soon"}`, "admin", 400, []string{"delay"}},
		{"list", "GET", "/api/admin/jobs", "", "admin", 200, []string{`"kind":"report"`, `"queue":"reports"`}},
		{"list by state", "GET", "/api/admin/jobs?state=scheduled", "", "admin", 200, []string{`"id":2`}},
		{"list bad state", "GET", "/api/admin/jobs?state=sleeping", "", "admin", 400, []string{"unknown state"}},
		{"get", "GET", "/api/admin/jobs/1", "", "admin", 200, []string{`"state":"available"`, `"priority":3`}},
		{"get missing", "GET", "/api/admin/jobs/999", "", "admin", 404, nil},
		{"get bad id", "GET", "/api/admin/jobs/abc", "", "admin", 400, nil},
		{"stats", "GET", "/api/admin/jobs/stats", "", "admin", 200, []string{`"queue":"reports"`, `"available":1`}},
		{"cancel", "POST", "/api/admin/jobs/1/cancel", "", "admin", 200, []string{`"state":"cancelled"`}},
		{"cancel again", "POST", "/api/admin/jobs/1/cancel", "", "admin", 409, []string{"already cancelled"}},
		{"retry", "POST", "/api/admin/jobs/1/retry", "", "admin", 200, []string{`"state":"available"`}},
		{"retry available", "POST", "/api/admin/jobs/1/retry", "", "admin", 409, nil},

		{"schedules anon", "GET", "/api/admin/schedules", "", "", 401, nil},
		{"create schedule", "POST", "/api/admin/schedules", `{"name":"nightly","cron":"30 2 * * *","timezone":"Europe/Berlin","kind":"housekeeping"}`, "admin", 201, []string{`"enabled":true`, `"timezone":"Europe/Berlin"`}},
		{"create duplicate", "POST", "/api/admin/schedules", `{"name":"nightly","cron":"@daily","kind":"housekeeping"}`, "admin", 409, []string{"already exists"}},
		{"bad cron", "POST", "/api/admin/schedules", `{"name":"b","cron":"* * *","kind":"housekeeping"}`, "admin", 400, []string{"5 fields"}},
		{"bad zone", "POST", "/api/admin/schedules", `{"name":"b","cron":"@daily","timezone":"Mars/Olympus","kind":"housekeeping"}`, "admin", 400, []string{"time zone"}},
		{"unknown kind", "POST", "/api/admin/schedules", `{"name":"b","cron":"@daily","kind":"nope"}`, "admin", 400, []string{"unknown job kind"}},
		{"update", "PUT", "/api/admin/schedules/nightly", `{"cron":"@every 30s","kind":"housekeeping"}`, "admin", 200, []string{`"cron":"@every 30s"`}},
		{"update missing", "PUT", "/api/admin/schedules/nope", `{"cron":"@daily","kind":"housekeeping"}`, "admin", 404, nil},
		{"disable", "POST", "/api/admin/schedules/nightly/disable", "", "admin", 200, []string{`"enabled":false`}},
		{"enable", "POST", "/api/admin/schedules/nightly/enable", "", "admin", 200, []string{`"enabled":true`}},
		{"run now", "POST", "/api/admin/schedules/nightly/run", "", "admin", 201, []string{`"id":`}},
		{"list schedules", "GET", "/api/admin/schedules", "", "admin", 200, []string{`"name":"nightly"`, `"last_job_id":`}},
		{"delete", "DELETE", "/api/admin/schedules/nightly", "", "admin", 204, nil},
		{"delete again", "DELETE", "/api/admin/schedules/nightly", "", "admin", 404, nil},
	}
	for _, s := range rows {
		req, err := http.NewRequest(s.method, srv.URL+s.path, bytes.NewBufferString(s.body))
		require.NoError(t, err)
		if s.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if s.role != "" {
			req.Header.Set("X-Test-Role", s.role)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, s.status, res.StatusCode, "%s: %s", s.name, raw)
		compact := raw
		if len(raw) > 0 {
			var buf bytes.Buffer
			if json.Compact(&buf, raw) == nil {
				compact = buf.Bytes()
			}
		}
		for _, w := range s.want {
			require.Contains(t, string(compact), w, s.name)
		}
	}
	// Failed requests wrote nothing: 3 jobs (2 enqueued + 1 run-now).
	require.EqualValues(t, 3, b.scalar(t, "select count(*) from ayb.jobs"))
}
