package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const alice = "00000000-0000-0000-0000-00000000000a"

func user(sub string) identity.Identity {
	return identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{"sub": sub, "role": "authenticated"}}
}

func setupBatch(t *testing.T) *dbtest.DB {
	t.Helper()
	d := dbtest.New(t)
	d.Exec(t, `
		create table public.notes (id int primary key, owner uuid not null, body text);
		alter table public.notes enable row level security;
		create policy own on public.notes using (owner = auth.uid());
		insert into public.notes values (1, '`+alice+`', 'a'), (2, gen_random_uuid(), 'b');
		create table public.parent (id int primary key);
		create table public.child (id int primary key,
			parent int references public.parent deferrable initially deferred);`)
	return d
}

func TestInBatchRunsAsIdentityUnderRLS(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	ctx := context.Background()
	var role, sub string
	var body string
	who := &db.Query{SQL: "select current_user::text, auth.uid()::text", Dest: []any{&role, &sub}}
	own := &db.Query{SQL: "select body from public.notes where id = $1", Args: []any{1}, Dest: []any{&body}}
	other := &db.Query{SQL: "select body from public.notes where id = $1", Args: []any{2}, Dest: []any{&body}}
	require.NoError(t, d.InBatch(ctx, user(alice), who, own, other))
	require.Equal(t, "authenticated", role)
	require.Equal(t, alice, sub)
	require.True(t, own.Found)
	require.False(t, other.Found, "RLS hides the other user's row")
	require.Equal(t, "a", body)

	// anon sees nothing; service_role bypasses RLS.
	var n int
	cnt := &db.Query{SQL: "select count(*) from public.notes", Dest: []any{&n}}
	require.NoError(t, d.InBatch(ctx, identity.Anon(), cnt))
	require.Equal(t, 0, n)
	require.NoError(t, d.InBatch(ctx, identity.Identity{Role: identity.RoleServiceRole}, cnt))
	require.Equal(t, 2, n)
}

func TestInBatchRefusesOtherRoles(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	var s string
	err := d.InBatch(context.Background(), identity.Identity{Role: "postgres"}, &db.Query{SQL: "select 1::text", Dest: []any{&s}})
	require.Error(t, err)
	require.Equal(t, apierror.CodeInternal, apierror.As(err).Code)
}

// A failing statement must leave the connection clean: with a pool of one
// connection, the next batch runs normally (no aborted transaction, no role
// or claims carried over).
func TestInBatchErrorRollsBack(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	ctx := context.Background()
	one, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 1})
	require.NoError(t, err)
	defer one.Close()
	var s string
	err = one.InBatch(ctx, user(alice), &db.Query{SQL: "select 1/0"}, &db.Query{SQL: "select 'x'", Dest: []any{&s}})
	require.Error(t, err)
	require.Equal(t, "22012", apierror.As(err).Code)
	require.Empty(t, s, "statements after the failure do not run")

	var role, claims string
	require.NoError(t, one.System(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select current_user::text, coalesce(current_setting('request.jwt.claims', true), '')").Scan(&role, &claims)
	}))
	require.NotEqual(t, "authenticated", role)
	require.Empty(t, claims)
}

// A deferred constraint fails at COMMIT, the last statement of the pipeline:
// the error must come back and the row must not exist.
func TestInBatchCommitFailureIsAnError(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	ctx := context.Background()
	var id int
	err := d.InBatch(ctx, identity.Identity{Role: identity.RoleServiceRole},
		&db.Query{SQL: "insert into public.child values (1, 99) returning id", Dest: []any{&id}})
	require.Error(t, err)
	require.Equal(t, "23503", apierror.As(err).Code)
	var n int
	require.NoError(t, d.Admin(t).QueryRow(ctx, "select count(*) from public.child").Scan(&n))
	require.Equal(t, 0, n)
}

func TestInBatchReadOnly(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	id := user(alice)
	id.ReadOnly = true
	err := d.InBatch(context.Background(), id, &db.Query{SQL: "delete from public.notes"})
	require.Error(t, err)
	require.Equal(t, apierror.CodeInsufficientScope, apierror.As(err).Code)
}

// The role and claims are transaction-local: after a successful pipeline
// (an implicit transaction, no BEGIN/COMMIT) the connection carries neither.
func TestInBatchLeavesNoIdentityBehind(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	ctx := context.Background()
	one, err := db.Open(ctx, d.URL, db.PoolOptions{MaxConns: 1})
	require.NoError(t, err)
	defer one.Close()
	var body string
	q := &db.Query{SQL: "select body from public.notes where id = 1", Dest: []any{&body}}
	require.NoError(t, one.InBatch(ctx, user(alice), q))
	require.True(t, q.Found)
	require.Equal(t, "a", body)
	var role, claims string
	require.NoError(t, one.Pool.QueryRow(ctx, "select current_user::text, coalesce(current_setting('request.jwt.claims', true), '')").Scan(&role, &claims))
	require.NotEqual(t, "authenticated", role)
	require.Empty(t, claims)
	// And a read-only pipeline leaves the next transaction writable.
	ro := user(alice)
	ro.ReadOnly = true
	var x int
	require.NoError(t, one.InBatch(ctx, ro, &db.Query{SQL: "select 1", Dest: []any{&x}}))
	require.NoError(t, one.System(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "create temporary table t_after_ro (x int)")
		return err
	}))
}
