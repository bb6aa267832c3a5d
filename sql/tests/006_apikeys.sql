-- Apps, API keys and the rate limiter: who may call what, and the
-- invariants the SQL API keeps.
begin;
select plan(62);

-- Fixtures (as the migration owner, like an admin in psql).
insert into ayb.users (id, email) values
  ('11111111-1111-1111-1111-111111111111', 'owner@example.com'),
  ('22222222-2222-2222-2222-222222222222', 'other@example.com');

-- anon and authenticated can neither call the admin functions nor read the tables.
select ok(not has_function_privilege(r, f, 'execute'), r || ' cannot execute ' || f)
  from unnest(array['anon', 'authenticated']) r,
       unnest(array[
         'ayb.app_create(text, text, uuid, integer, interval, integer, uuid)',
         'ayb.app_update(uuid, text, text, uuid, integer, interval, integer, boolean, boolean)',
         'ayb.app_delete(uuid, uuid)', 'ayb.app_list(boolean)', 'ayb.app_usage(uuid, timestamptz)',
         'ayb.apikey_create(text, bytea, text, uuid, text, uuid, text[], text[], timestamptz, integer, interval, integer, uuid, uuid, uuid, boolean)',
         'ayb.apikey_revoke(uuid, uuid, uuid)', 'ayb.apikey_rotate(uuid, bytea, text, interval, uuid, uuid)',
         'ayb.ratelimit_take(text, integer, interval, integer, integer, timestamptz)']) f;

select ok(not has_table_privilege(r, t, 'select'), r || ' cannot read ' || t)
  from unnest(array['anon', 'authenticated', 'service_role']) r,
       unnest(array['ayb.apps', 'ayb.api_keys', 'ayb.ratelimit_state', 'ayb.app_usage']) t;

set local role authenticated;
select throws_ok($$select ayb.app_list()$$, '42501', null, 'authenticated cannot call ayb.app_list');
select throws_ok($$select * from ayb.api_keys$$, '42501', null, 'authenticated cannot read ayb.api_keys');
reset role;
set local role anon;
select throws_ok($$select ayb.app_create('x')$$, '42501', null, 'anon cannot call ayb.app_create');
reset role;

-- service_role (an admin in psql) uses the SQL API.
set local role service_role;
select lives_ok($$select ayb.app_create('Flutter app', 'mobile', '11111111-1111-1111-1111-111111111111', 100, interval '1 minute')$$,
                'service_role creates an app');
select is((select count(*)::int from ayb.app_list()), 1, 'service_role lists apps');
select ok(not has_function_privilege('service_role', 'ayb.apikey_take(uuid, integer, timestamptz)', 'execute'),
          'the request-path functions belong to the server alone');
reset role;

select throws_ok($$select ayb.app_create('Flutter app')$$, '23505', null, 'app names are unique among live apps');
select throws_ok($$select ayb.app_create('x', p_rate_limit_requests => 0, p_rate_limit_window => '1 minute')$$,
                 '22023', null, 'a rate limit of 0 is refused');
select throws_ok($$select ayb.app_create('x', p_rate_limit_requests => 5)$$,
                 '22023', 'a rate limit needs both requests and window', 'a limit needs a window');
select throws_ok($$select ayb.app_create('x', p_owner_id => '33333333-3333-3333-3333-333333333333')$$,
                 '22023', null, 'an unknown owner is a clear error');
select throws_ok($$select ayb.app_update('33333333-3333-3333-3333-333333333333', 'y')$$, 'P0002', null, 'updating a missing app is not found');

-- Keys.
create temp table t_app on commit drop as select id from ayb.app_list() where name = 'Flutter app';
select lives_ok($$select ayb.apikey_create('k1', sha256('k1'), 'ayb_sk_AAAAAAAA', '11111111-1111-1111-1111-111111111111', 'write',
                                            (select id from t_app))$$, 'admin creates an app key for a user');
select throws_ok($$select ayb.apikey_create('k2', sha256('k2'), 'ayb_sk_AAAAAAAA', '22222222-2222-2222-2222-222222222222', 'write',
                                             (select id from t_app), p_as_user => '22222222-2222-2222-2222-222222222222')$$,
                 '42501', null, 'a user cannot create keys for an app they do not own');
select throws_ok($$select ayb.apikey_create('k3', sha256('k3'), 'ayb_sk_AAAAAAAA', null, 'full',
                                             p_as_user => '22222222-2222-2222-2222-222222222222')$$,
                 '42501', 'only an admin may create a service key', 'users cannot create service keys');
select throws_ok($$select ayb.apikey_create('k4', sha256('k4'), 'ayb_sk_AAAAAAAA', '11111111-1111-1111-1111-111111111111', 'full',
                                             p_as_user => '22222222-2222-2222-2222-222222222222')$$,
                 '42501', 'you may only create keys for yourself', 'users create keys only for themselves');
select throws_ok($$select ayb.apikey_create('k5', sha256('k5'), 'ayb_sk_AAAAAAAA', null, 'admin')$$,
                 '22023', null, 'unknown scopes are refused');
select throws_ok($$select ayb.apikey_create('k6', sha256('k6'), 'ayb_sk_AAAAAAAA', null, 'read', p_allowed_tables => array['posts; drop'])$$,
                 '22023', null, 'table names are validated');
select throws_ok($$select ayb.apikey_create('k7', sha256('k7'), 'ayb_sk_AAAAAAAA', null, 'read', p_expires_at => now() - interval '1 second')$$,
                 '22023', null, 'a key cannot be born expired');
select throws_ok($$insert into ayb.api_keys (name, key_prefix, key_hash, kind, scope) values ('bad', 'ayb_sk_AAAAAAAA', sha256('bad'), 'user', 'read')$$,
                 '23514', null, 'a live user key always has a user');

-- Deleting the app revokes its keys in the same transaction; it stays as a tombstone.
select lives_ok($$select ayb.app_delete((select id from t_app))$$, 'app_delete succeeds');
select is((select count(*)::int from ayb.api_keys where app_id = (select id from t_app) and revoked_at is null), 0,
          'no live key of a deleted app remains');
select is((select revoked_reason from ayb.api_keys where name = 'k1'), 'app_deleted', 'the revoke says why');
select throws_ok($$select ayb.apikey_create('k8', sha256('k8'), 'ayb_sk_AAAAAAAA', '11111111-1111-1111-1111-111111111111', 'write',
                                             (select id from t_app))$$, 'P0002', null, 'no key can be created for a deleted app');
select throws_ok($$update ayb.api_keys set revoked_at = null, revoked_reason = null where name = 'k1'$$,
                 'P0002', null, 'a key of a deleted app cannot be brought back to life');
select throws_ok($$select ayb.app_delete((select id from t_app))$$, 'P0002', null, 'deleting twice is not found, not a crash');

-- Deleting a user revokes their keys (and keeps the audit row).
select lives_ok($$select ayb.apikey_create('u2', sha256('u2'), 'ayb_sk_AAAAAAAA', '22222222-2222-2222-2222-222222222222', 'read')$$, 'user key');
delete from ayb.users where id = '22222222-2222-2222-2222-222222222222';
select is((select revoked_reason from ayb.api_keys where name = 'u2'), 'user_deleted', 'deleting a user revokes their keys');

-- GCRA with an injected clock: 100 per minute admits exactly 100 at once.
select is((select sum((ayb.ratelimit_take('pgtap', 100, interval '1 minute', null, 1, '2030-01-01')).granted)::int
             from generate_series(1, 150)), 100, '100 per minute admits 100 of 150 at one instant');
select is((ayb.ratelimit_take('pgtap', 100, interval '1 minute', null, 1, '2030-01-01')).retry_after::numeric(10,6), 0.6::numeric(10,6),
          'retry_after is one emission interval');
select is((ayb.ratelimit_take('pgtap', 100, interval '1 minute', null, 5, '2030-01-01 00:00:03')).granted, 5,
          '3 s later 5 tokens are back');

-- Regression: renaming an app keeps its bucket; only a new policy resets it.
create temp table t_app2 on commit drop as
  select id from ayb.app_create('Bucket app', p_rate_limit_requests => 10, p_rate_limit_window => '1 hour');
select ayb.ratelimit_take('app:' || (select id from t_app2), 10, interval '1 hour', null, 10);
select ayb.app_update((select id from t_app2), p_name => 'Bucket app renamed');
select ok(exists (select 1 from ayb.ratelimit_state where key = 'app:' || (select id from t_app2)),
          'app_update_keeps_bucket_on_rename');
select ayb.app_update((select id from t_app2), p_rate_limit_requests => 20, p_rate_limit_window => '1 hour');
select ok(not exists (select 1 from ayb.ratelimit_state where key = 'app:' || (select id from t_app2)),
          'a new policy starts from a full bucket');

select * from finish();
rollback;
