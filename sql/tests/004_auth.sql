-- The auth tables in schema ayb are unreachable by anon and authenticated:
-- no privilege on any of them, and reading or writing fails as each role.
begin;
select plan(48);

select ok(not has_table_privilege(r, 'ayb.' || t, p), r || ' has no ' || p || ' on ayb.' || t)
  from unnest(array['anon', 'authenticated']) r,
       unnest(array['users', 'sessions', 'refresh_tokens', 'identities', 'one_time_tokens',
                    'signing_keys', 'oauth_flows', 'oauth_exchange_codes', 'auth_throttle', 'mail_outbox']) t,
       unnest(array['select', 'insert']) p;

set local role anon;
select throws_ok('select * from ayb.signing_keys', '42501', null, 'anon cannot read signing keys');
select throws_ok('select * from ayb.sessions', '42501', null, 'anon cannot read sessions');
select throws_ok($$insert into ayb.auth_throttle values ('k', now(), 0)$$, '42501', null, 'anon cannot write the throttle');
select throws_ok('select * from ayb.users', '42501', null, 'anon cannot read users');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"4b7d1a8e-9c1f-4a57-8d7e-2f3b4c5d6e7f","role":"authenticated"}', true);
select throws_ok('select * from ayb.refresh_tokens', '42501', null, 'authenticated cannot read refresh tokens');
select throws_ok('select * from ayb.one_time_tokens', '42501', null, 'authenticated cannot read link tokens');
select throws_ok($$update ayb.users set is_admin = true$$, '42501', null, 'authenticated cannot make itself admin');
select throws_ok('select * from ayb.mail_outbox', '42501', null, 'authenticated cannot read the outbox');
reset role;

select * from finish();
rollback;
