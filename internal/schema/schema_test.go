package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/schema"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestIntrospection(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	d.Exec(t, `
		create schema other;
		grant usage on schema other to anon, authenticated, service_role;
		create table public.users (id uuid primary key, name text not null, secret text);
		revoke all on public.users from anon;
		revoke select on public.users from authenticated;
		grant select (id, name) on public.users to authenticated;
		create table public.posts (id bigint generated always as identity primary key, author_id uuid references public.users,
			editor uuid references public.users, title text, meta jsonb, tags text[], tsv tsvector);
		create index posts_search on public.posts using gin (to_tsvector('english', coalesce(title, '')));
		create table public.pair (a int, b int, primary key (b, a));
		create table other.posts (id int primary key);
		create view public.post_titles as select id, title from public.posts;
		create materialized view public.post_counts as select count(*) n from public.posts;
		revoke all on public.post_counts from anon;
		create function public.add(a int, b int default 1) returns int language sql immutable as 'select a + b';
		create function public.noname(int) returns int language sql as 'select $1';
		revoke execute on function public.add(int, int) from anon;
		create table ayb.hidden (id int);`)
	s, err := schema.Load(context.Background(), d.DB, []string{"public", "other"})
	require.NoError(t, err)

	users, _ := s.Relation("users")
	require.NotNil(t, users)
	require.False(t, users.Visible("anon"))
	require.True(t, users.Visible("authenticated"))
	var readable []string
	for _, c := range users.Readable("authenticated") {
		readable = append(readable, c.Name)
	}
	require.Equal(t, []string{"id", "name"}, readable)

	_, amb := s.Relation("posts")
	require.ElementsMatch(t, []string{"public.posts", "other.posts"}, amb)
	posts, _ := s.Relation("public.posts")
	require.NotNil(t, posts)
	require.Equal(t, "public.posts", posts.Path)
	require.Equal(t, []string{"id"}, posts.PrimaryKey)
	require.True(t, posts.Column("id").Generated)
	require.Equal(t, "text[]", posts.Column("tags").Type)
	require.Equal(t, "text", posts.Column("tags").ElemType)
	require.True(t, posts.Column("meta").IsJSON())
	require.Len(t, posts.SearchIndexes, 1)
	require.Equal(t, "english", schema.SearchConfig(posts.SearchIndexes[0]))
	require.NotNil(t, posts.Relationship("author"))
	require.NotNil(t, posts.Relationship("users"))
	var names []string
	for _, rel := range users.Relations {
		names = append(names, rel.Name)
	}
	require.Equal(t, []string{"posts_via_author_id", "posts_via_editor"}, names)

	pair, _ := s.Relation("pair")
	require.Equal(t, []string{"b", "a"}, pair.PrimaryKey)

	v, _ := s.Relation("post_titles")
	require.Equal(t, schema.KindView, v.Kind)
	require.True(t, v.Role("authenticated").Update, "a simple view is updatable")
	m, _ := s.Relation("post_counts")
	require.Equal(t, schema.KindMatview, m.Kind)
	require.False(t, m.Visible("anon"))
	require.True(t, m.Role("authenticated").Select)
	require.False(t, m.Role("authenticated").Insert, "matviews are read-only")

	hidden, _ := s.Relation("hidden")
	require.Nil(t, hidden, "schema ayb is never exposed")

	add := s.Function("add")
	require.Len(t, add, 1)
	require.Equal(t, "i", add[0].Volatility)
	require.False(t, add[0].Privileges["anon"])
	require.True(t, add[0].Privileges["authenticated"])
	require.False(t, add[0].Inputs()[0].HasDefault)
	require.True(t, add[0].Inputs()[1].HasDefault)
	require.Empty(t, s.Function("noname"), "unnamed arguments cannot be called by name")

	_, err = schema.Load(context.Background(), d.DB, []string{"public", "auth"})
	require.Error(t, err)
}

func TestReloadOnDDL(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := schema.New(ctx, d.DB, nil)
	require.NoError(t, err)
	go c.Run(ctx)
	r, _ := c.Snapshot().Relation("fresh")
	require.Nil(t, r)
	d.Exec(t, "create table public.fresh (id int primary key)")
	require.Eventually(t, func() bool {
		r, _ := c.Snapshot().Relation("fresh")
		return r != nil
	}, 2*time.Second, 20*time.Millisecond)
}

// Temporary tables never reach the API, so they send no reload signal;
// real DDL, GRANT and DROP do.
func TestSchemaSignal(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	listener := d.Admin(t)
	_, err := listener.Exec(ctx, "listen "+schema.Channel)
	require.NoError(t, err)
	signalled := func() bool {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := listener.WaitForNotification(wctx)
		return err == nil
	}
	d.Exec(t, "create temp table scratch (id int); drop table scratch")
	require.False(t, signalled(), "temp table DDL is not signalled")
	for _, ddl := range []string{
		"create table public.t1 (id int)",
		"grant select on public.t1 to anon",
		"alter table public.t1 add column x int",
		"drop table public.t1",
	} {
		d.Exec(t, ddl)
		require.True(t, signalled(), ddl)
	}
}

// Without the event trigger (migrations not run as a superuser) the cache
// still converges by polling.
func TestPollsWithoutTrigger(t *testing.T) {
	d := dbtest.New(t)
	d.Exec(t, "alter event trigger ayb_schema_ddl disable; alter event trigger ayb_schema_drop disable")
	old := schema.PollEvery
	schema.PollEvery = 300 * time.Millisecond
	t.Cleanup(func() { schema.PollEvery = old })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := schema.New(ctx, d.DB, nil)
	require.NoError(t, err)
	changed := c.Changed()
	go c.Run(ctx)
	<-changed // the reload that follows LISTEN; from now on only polling can notice DDL
	d.Exec(t, "create table public.polled (id int primary key)")
	require.Eventually(t, func() bool {
		r, _ := c.Snapshot().Relation("polled")
		return r != nil
	}, 3*time.Second, 20*time.Millisecond)
}
