package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/identity"
)

// TestSetBasedCheckEqualsGeneralPathAndRealRLS checks, over random data and
// random identities, that the set-based path (policy with identity bound per
// row), the general path (claims switched per subscriber) and Postgres's own
// RLS (SELECT as the subscriber) give exactly the same answers.
func TestSetBasedCheckEqualsGeneralPathAndRealRLS(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
create table public.teams_members (team_id int not null, user_id uuid not null, role text not null, primary key (team_id, user_id));
create table public.docs (id int primary key, team_id int, owner uuid, public boolean not null, level int not null);
alter table public.docs enable row level security;
create policy by_team on public.docs for select
  using (exists (select 1 from public.teams_members m where m.team_id = docs.team_id and m.user_id = auth.uid() and m.role <> 'banned'));
create policy by_owner on public.docs for select using (owner = auth.uid());
create policy by_claim on public.docs for select using (public and (auth.jwt() ->> 'tier') = 'gold');
create policy level_cap on public.docs as restrictive for select
  using (level <= coalesce((auth.jwt() ->> 'clearance')::int, 0));
select ayb.realtime_enable('public.docs');`)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	users := make([]string, 40)
	for i := range users {
		users[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.Uint32(), i)
	}
	b := &pgx.Batch{}
	for i := 0; i < 120; i++ {
		b.Queue("insert into public.teams_members values ($1, $2, $3) on conflict do nothing",
			rng.IntN(12), users[rng.IntN(len(users))], []string{"member", "admin", "banned"}[rng.IntN(3)])
	}
	for i := 0; i < 150; i++ {
		var owner any
		if rng.IntN(3) == 0 {
			owner = users[rng.IntN(len(users))]
		}
		b.Queue("insert into public.docs values ($1, $2, $3, $4, $5)", i, rng.IntN(14), owner, rng.IntN(2) == 0, rng.IntN(4))
	}
	admin := d.Admin(t)
	require.NoError(t, admin.SendBatch(ctx, b).Close())

	var fast *string
	require.NoError(t, d.Pool.QueryRow(ctx,
		"select ayb.realtime_fast_qual('public.docs', 'authenticated', ayb.realtime_qual('public.docs', 'authenticated'))").Scan(&fast))
	require.NotNil(t, fast, "the set-based path must apply to these policies")

	// Identities: users with assorted extra claims, upper-cased subs, a
	// non-uuid sub and no sub at all.
	var ids []identity.Identity
	for i := 0; i < 60; i++ {
		c := map[string]any{"role": "authenticated"}
		switch i % 10 {
		case 8:
			c["sub"] = "not-a-uuid"
		case 9:
		default:
			sub := users[rng.IntN(len(users))]
			if rng.IntN(4) == 0 {
				sub = strings.ToUpper(sub)
			}
			c["sub"] = sub
		}
		if rng.IntN(2) == 0 {
			c["tier"] = "gold"
		}
		if rng.IntN(3) > 0 {
			c["clearance"] = rng.IntN(4)
		}
		ids = append(ids, identity.Identity{Role: "authenticated", Claims: c})
	}

	// Images: every current row.
	var images []string
	var docIDs []int
	rows, err := admin.Query(ctx, "select id, to_jsonb(d)::text from public.docs d order by id")
	require.NoError(t, err)
	for rows.Next() {
		var id int
		var img string
		require.NoError(t, rows.Scan(&id, &img))
		docIDs = append(docIDs, id)
		images = append(images, img)
	}
	require.NoError(t, rows.Err())

	claims := make([]string, len(ids))
	uids := make([]*string, len(ids))
	for i, id := range ids {
		b, _ := json.Marshal(id.Claims)
		claims[i] = string(b)
		uids[i] = uidOf(id)
	}
	run := func(general bool, withUIDs bool) map[string]bool {
		var u any
		if withUIDs {
			u = uids
		}
		rows, err := d.Pool.Query(ctx,
			"select claims_idx, image_idx from ayb.realtime_check('public.docs', 'authenticated', $1, $2, $3, $4::text[]::uuid[])",
			claims, images, general, u)
		require.NoError(t, err)
		out := map[string]bool{}
		var ci, ii int32
		_, err = pgx.ForEachRow(rows, []any{&ci, &ii}, func() error {
			out[fmt.Sprint(ci-1, ":", docIDs[ii-1])] = true
			return nil
		})
		require.NoError(t, err)
		return out
	}
	truth := map[string]bool{}
	for i, id := range ids {
		require.NoError(t, d.InTx(ctx, id, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "select id from public.docs")
			if err != nil {
				return err
			}
			var doc int
			_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
				truth[fmt.Sprint(i, ":", doc)] = true
				return nil
			})
			return err
		}))
	}
	require.NotEmpty(t, truth)
	require.Less(t, len(truth), len(ids)*len(images), "every row visible to everyone proves nothing")
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, keys(truth), keys(run(true, false)), "general path differs from RLS")
	require.Equal(t, keys(truth), keys(run(false, true)), "set-based path (Go uids) differs from RLS")
	require.Equal(t, keys(truth), keys(run(false, false)), "set-based path (SQL uids) differs from RLS")

	// Without the claims (only the uids, as the server sends them first),
	// these policies read auth.jwt(), so the check asks for the claims on
	// both paths instead of answering.
	for _, general := range []bool{false, true} {
		_, err := d.Pool.Exec(ctx,
			"select * from ayb.realtime_check('public.docs', 'authenticated', null, $1, $2, $3::text[]::uuid[])",
			images, general, uids)
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, "general=%v", general)
		require.Equal(t, "AYRCL", pe.Code, "general=%v", general)
	}

	// A policy that reads only auth.uid() answers without the claims, and
	// exactly as with them.
	d.Exec(t, `
create table public.team_docs (id int primary key, team_id int);
alter table public.team_docs enable row level security;
create policy by_team on public.team_docs for select
  using (exists (select 1 from public.teams_members m where m.team_id = team_docs.team_id and m.user_id = auth.uid()));
grant select on public.team_docs to authenticated;
insert into public.team_docs select i, i % 14 from generate_series(0, 149) i;`)
	teamImages := make([]string, 150)
	for i := range teamImages {
		teamImages[i] = fmt.Sprintf(`{"id": %d, "team_id": %d}`, i, i%14)
	}
	check := func(c any) []string {
		rows, err := d.Pool.Query(ctx,
			"select claims_idx, image_idx from ayb.realtime_check('public.team_docs', 'authenticated', $1, $2, false, $3::text[]::uuid[])",
			c, teamImages, uids)
		require.NoError(t, err)
		var out []string
		var ci, ii int32
		_, err = pgx.ForEachRow(rows, []any{&ci, &ii}, func() error {
			out = append(out, fmt.Sprint(ci, ":", ii))
			return nil
		})
		require.NoError(t, err)
		sort.Strings(out)
		return out
	}
	withClaims := check(claims)
	require.NotEmpty(t, withClaims)
	require.Equal(t, withClaims, check(nil), "the uid-only check without claims differs")
}

// TestGeneralPathForPoliciesTheSetBasedPathCannotTake pins the fallbacks.
func TestGeneralPathForPoliciesTheSetBasedPathCannotTake(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
create table public.m (team_id int, user_id uuid);
create table public.r (id int primary key, team_id int);
alter table public.r enable row level security;
create policy p on public.r for select using (exists (select 1 from public.m where m.team_id = r.team_id and m.user_id = auth.uid()));`)
	fast := func() bool {
		var q *string
		require.NoError(t, d.Pool.QueryRow(context.Background(),
			"select ayb.realtime_fast_qual('public.r', 'authenticated', ayb.realtime_qual('public.r', 'authenticated'))").Scan(&q))
		return q != nil
	}
	require.True(t, fast())
	d.Exec(t, "alter table public.m enable row level security")
	require.False(t, fast(), "a table with its own policies in the qual")
	d.Exec(t, `alter table public.m disable row level security;
create function public.is_member(t int) returns boolean language sql stable as $$ select exists (select 1 from public.m where team_id = t and user_id = auth.uid()) $$;
create policy f on public.r for select using (public.is_member(team_id));`)
	require.False(t, fast(), "a user function that may read the claims")
	d.Exec(t, `drop policy f on public.r;
create policy s on public.r for select using (exists (select 1 from public.r r2 where r2.id = r.id + 1));`)
	require.False(t, fast(), "a policy reading its own table")
	d.Exec(t, `drop policy s on public.r;
create policy c on public.r for select using (current_setting('request.jwt.claims', true) is not null);`)
	require.False(t, fast(), "reading the claims directly")
}
