package dbtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
)

func TestMain(m *testing.M) { Main(m) }

// The contract every other area stands on: requests run as an API role with
// claims, the private schema is closed to them, and the helpers read claims.
func TestClaimsTransaction(t *testing.T) {
	t.Parallel()
	d := New(t)
	ctx := context.Background()
	sub := "6f1c1c1e-1b1a-4d55-9f8e-0c5b6a3f1d2e"
	id := identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{
		"sub": sub, "role": "authenticated", "email": "a@example.com", "app_id": "11111111-2222-3333-4444-555555555555", "scope": "read",
	}}
	err := d.InTx(ctx, id, func(tx pgx.Tx) error {
		var uid, role, cur, app string
		var hasRead, hasWrite bool
		err := tx.QueryRow(ctx, `select auth.uid()::text, auth.role(), current_user, auth.app_id()::text,
			auth.has_scope('read'), auth.has_scope('write')`).Scan(&uid, &role, &cur, &app, &hasRead, &hasWrite)
		require.NoError(t, err)
		require.Equal(t, sub, uid)
		require.Equal(t, "authenticated", role)
		require.Equal(t, "authenticated", cur)
		require.Equal(t, "11111111-2222-3333-4444-555555555555", app)
		require.True(t, hasRead)
		require.False(t, hasWrite)
		return nil
	})
	require.NoError(t, err)
}

func TestPrivateSchemaDenied(t *testing.T) {
	t.Parallel()
	d := New(t)
	ctx := context.Background()
	for _, role := range []string{identity.RoleAnon, identity.RoleAuthenticated} {
		id := identity.Identity{Role: role, Claims: map[string]any{"role": role}}
		err := d.InTx(ctx, id, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "select * from ayb.schema_version")
			return err
		})
		require.Error(t, err, role)
		ae := apierror.As(err)
		require.Equal(t, "42501", ae.Code, role)
		require.Equal(t, 403, ae.Status, role)
	}
}

func TestClaimsWithQuotesAndUnicode(t *testing.T) {
	t.Parallel()
	d := New(t)
	ctx := context.Background()
	email := `o'brien\"; drop table x; --@example.com ü`
	id := identity.Identity{Role: identity.RoleAuthenticated, Claims: map[string]any{"email": email}}
	err := d.InTx(ctx, id, func(tx pgx.Tx) error {
		var got string
		require.NoError(t, tx.QueryRow(ctx, "select auth.email()").Scan(&got))
		require.Equal(t, email, got)
		return nil
	})
	require.NoError(t, err)
}

func TestRefusesNonAPIRole(t *testing.T) {
	t.Parallel()
	d := New(t)
	err := d.InTx(context.Background(), identity.Identity{Role: "ayb_admin"}, func(tx pgx.Tx) error { return nil })
	require.Error(t, err)
}

func TestInvalidClaimsJSONIsClearError(t *testing.T) {
	t.Parallel()
	d := New(t)
	ctx := context.Background()
	conn := d.Admin(t)
	_, err := conn.Exec(ctx, "begin; set local role authenticated; select set_config('request.jwt.claims', '{not json', true); select auth.jwt(); commit")
	require.Error(t, err)
	require.Contains(t, err.Error(), "request.jwt.claims is not valid JSON")
	_, err = conn.Exec(ctx, "rollback")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "begin; set local role authenticated; select set_config('request.jwt.claims', '{not json', true); select auth.uid(); commit")
	require.Error(t, err)
	require.Contains(t, err.Error(), "invalid input syntax for type json")
}

func TestReadOnlyIdentityCannotWrite(t *testing.T) {
	t.Parallel()
	d := New(t)
	ctx := context.Background()
	d.Exec(t, "create table public.notes (id serial primary key, body text)")
	id := identity.Identity{Role: identity.RoleServiceRole, ReadOnly: true, Claims: map[string]any{}}
	err := d.InTx(ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.notes(body) values ('x')")
		return err
	})
	ae := apierror.As(err)
	require.Equal(t, 403, ae.Status)
}

// A failure at commit (deferred constraint) is an error, never a success.
func TestCommitFailureIsError(t *testing.T) {
	t.Parallel()
	d := New(t)
	ctx := context.Background()
	d.Exec(t, `create table public.p (id int primary key);
		create table public.c (id int primary key, p int references public.p(id) deferrable initially deferred)`)
	err := d.InTx(ctx, identity.Identity{Role: identity.RoleServiceRole}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into public.c values (1, 42)")
		return err
	})
	require.Error(t, err)
	require.Equal(t, "23503", apierror.As(err).Code)
	var n int
	require.NoError(t, d.Admin(t).QueryRow(ctx, "select count(*) from public.c").Scan(&n))
	require.Equal(t, 0, n)
}
