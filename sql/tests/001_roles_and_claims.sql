-- Role isolation and the claim helpers, as every API role.
begin;
select plan(21);

-- The private schema is closed to the API roles.
select ok(not has_schema_privilege('anon', 'ayb', 'usage'), 'anon has no usage on schema ayb');
select ok(not has_schema_privilege('authenticated', 'ayb', 'usage'), 'authenticated has no usage on schema ayb');
select ok(has_schema_privilege('service_role', 'ayb', 'usage'), 'service_role may use schema ayb');

set local role anon;
select throws_ok('select * from ayb.schema_version', '42501', null, 'anon cannot read ayb tables');
reset role;

set local role authenticated;
select throws_ok('select * from ayb.schema_version', '42501', null, 'authenticated cannot read ayb tables');
reset role;

-- Roles: NOLOGIN, only service_role bypasses RLS.
select is((select rolcanlogin from pg_roles where rolname = 'anon'), false, 'anon cannot log in');
select is((select rolbypassrls from pg_roles where rolname = 'authenticated'), false, 'authenticated does not bypass RLS');
select is((select rolbypassrls from pg_roles where rolname = 'service_role'), true, 'service_role bypasses RLS');
select is((select rolsuper from pg_roles where rolname = 'service_role'), false, 'service_role is not a superuser');

-- Claim helpers read request.jwt.claims.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"4b7d1a8e-9c1f-4a57-8d7e-2f3b4c5d6e7f","role":"authenticated","email":"u@example.com","app_id":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","client_id":"cli_1","scope":"write"}', true);
select is(auth.uid(), '4b7d1a8e-9c1f-4a57-8d7e-2f3b4c5d6e7f'::uuid, 'auth.uid() returns sub');
select is(auth.role(), 'authenticated', 'auth.role() returns role');
select is(auth.email(), 'u@example.com', 'auth.email() returns email');
select is(auth.app_id(), 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'::uuid, 'auth.app_id() returns app_id');
select is(auth.client_id(), 'cli_1', 'auth.client_id() returns client_id');
select ok(auth.has_scope('read'), 'write scope implies read');
select ok(not auth.has_scope('full'), 'write scope does not imply full');
select is(auth.jwt() ->> 'scope', 'write', 'auth.jwt() returns the whole claims object');

-- A sub that is not a uuid is not a user id.
select set_config('request.jwt.claims', '{"sub":"service-account"}', true);
select is(auth.uid(), null, 'non-uuid sub gives null uid');

-- Malformed claims JSON is a clear error, not a crash.
select set_config('request.jwt.claims', '{not json', true);
select throws_ok('select auth.jwt()', '22023', 'request.jwt.claims is not valid JSON', 'malformed claims raise a clear error');
select throws_ok('select auth.uid()', '22P02', null, 'auth.uid() on malformed claims is an error, not null');
reset role;

-- No claims at all: anonymous helpers answer null.
select set_config('request.jwt.claims', '', true);
select is(auth.uid(), null, 'no claims gives null uid');

select * from finish();
rollback;
