package db_test

import (
	"context"
	"testing"
	"time"

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

// An identity carrying a pending session check (the REST data routes) reads
// and writes only while its session is live: the check runs inside the
// request's own pipeline or transaction, and an ended session is a 401
// invalid_token with nothing read or written, on both paths.
func TestSessionCheckedInsideTheRequest(t *testing.T) {
	t.Parallel()
	d := setupBatch(t)
	ctx := context.Background()
	var sid string
	require.NoError(t, d.Admin(t).QueryRow(ctx, `
		with u as (insert into ayb.users (id, email) values ($1, 'alice@example.com') returning id)
		insert into ayb.sessions (user_id, method, expires_at) select id, 'password', now() + interval '1 hour' from u returning id::text`,
		alice).Scan(&sid))
	id := user(alice)
	id.Session = &identity.SessionCheck{ID: sid, UserID: alice, At: time.Now()}

	var body string
	q := &db.Query{SQL: "select body from public.notes where id = 1", Dest: []any{&body}}
	require.NoError(t, d.InBatch(ctx, id, q))
	require.True(t, q.Found)
	require.Equal(t, "a", body)
	insert := func(n int) error {
		return d.InTx(ctx, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "insert into public.notes values ($1, $2, 'x')", n, alice)
			return err
		})
	}
	require.NoError(t, insert(10))

	refused := func(err error) {
		t.Helper()
		var ae *apierror.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 401, ae.Status)
		require.Equal(t, apierror.CodeInvalidToken, ae.Code)
	}
	// Expired by the server's clock, then revoked, then the user banned.
	late := id
	late.Session = &identity.SessionCheck{ID: sid, UserID: alice, At: time.Now().Add(2 * time.Hour)}
	refused(d.InBatch(ctx, late, q))
	other := id
	other.Session = &identity.SessionCheck{ID: sid, UserID: "00000000-0000-0000-0000-00000000000b", At: time.Now()}
	refused(d.InBatch(ctx, other, q))
	d.Exec(t, "update ayb.sessions set revoked_at = now() where id = '"+sid+"'")
	refused(d.InBatch(ctx, id, q))
	refused(insert(11))
	d.Exec(t, "update ayb.sessions set revoked_at = null where id = '"+sid+"'; update ayb.users set banned_at = now()")
	refused(d.InBatch(ctx, id, q))
	refused(insert(12))

	// The refused write leaves its connection clean, ready for the next
	// request, rather than in an aborted transaction the pool would destroy.
	func() {
		conn, err := d.Pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		refused(db.InTxConn(ctx, conn.Conn(), id, func(pgx.Tx) error { return nil }))
		require.Equal(t, byte('I'), conn.Conn().PgConn().TxStatus())
	}()

	var n int
	require.NoError(t, d.Admin(t).QueryRow(ctx, "select count(*) from public.notes where id >= 10").Scan(&n))
	require.Equal(t, 1, n, "only the write made while the session was live landed")

	// A malformed id never reaches SQL text.
	bad := id
	bad.Session = &identity.SessionCheck{ID: "x'; drop table public.notes; --", UserID: alice, At: time.Now()}
	require.Error(t, d.InTx(ctx, bad, func(pgx.Tx) error { return nil }))

	// The API roles cannot call the check (it reads ayb.sessions).
	err := d.InTx(ctx, user(alice), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "select ayb.require_session($1, $2, now())", sid, alice)
		return err
	})
	require.Error(t, err)
}
