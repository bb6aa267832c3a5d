package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aybhq/ayb/internal/dbtest"
)

// TestTypeScriptSDK runs the TypeScript SDK's tests (sdk/test) against the
// real binary: sign-up and sign-in, records under an owner policy, batch,
// RPC, and realtime with resume and token handover. It needs Node.js 18+
// and npm (`make test` installs them on Debian).
func TestTypeScriptSDK(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: the SDK tests need Node.js 18+ and npm (tests/setup-deps.sh --tests installs them)", tool)
		}
	}
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.notes (
			id bigserial primary key,
			owner uuid not null default auth.uid(),
			title text not null,
			done boolean not null default false);
		alter table public.notes enable row level security;
		create policy own on public.notes using (owner = auth.uid()) with check (owner = auth.uid());
		select ayb.realtime_enable('public.notes');
		create function public.add_numbers(a int, b int) returns int language sql immutable as 'select a + b';`)
	in := Start(t, StartOptions{
		DatabaseURL: d.URL,
		Env:         []string{"AYB_DATABASE_ADMIN_URL=" + d.AdminURL},
	})

	sdk, err := filepath.Abs("../../sdk")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	npm := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "npm", args...)
		cmd.Dir = sdk
		cmd.Env = append(os.Environ(), "AYB_URL="+in.URL, "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %v: %v\n%s\nserver log:\n%s", args, err, out, in.Logs())
		}
		t.Logf("npm %v:\n%s", args, out)
	}
	npm("ci", "--no-audit", "--no-fund")
	npm("test")
}
