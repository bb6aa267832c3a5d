-- API keys' realtime right: closed by default, granted on create or by
-- ayb.apikey_set_realtime, kept by rotation, and only admins (or a user for
-- their own keys, through the server) may change it.
begin;
select plan(17);

insert into ayb.users (id, email) values
  ('11111111-1111-1111-1111-111111111111', 'owner@example.com'),
  ('22222222-2222-2222-2222-222222222222', 'other@example.com');

select ok(not has_function_privilege(r, 'ayb.apikey_set_realtime(uuid, boolean, uuid)', 'execute'),
          r || ' cannot execute ayb.apikey_set_realtime')
  from unnest(array['anon', 'authenticated', 'public']) r;
select ok(has_function_privilege(r, 'ayb.apikey_set_realtime(uuid, boolean, uuid)', 'execute'),
          r || ' may execute ayb.apikey_set_realtime')
  from unnest(array['service_role', 'ayb_system']) r;

create temp table t_keys (name text primary key, id uuid) on commit drop;
grant all on t_keys to service_role;
set local role service_role;
insert into t_keys select 'plain', id from ayb.apikey_create('plain', sha256('plain'), 'ayb_sk_AAAAAAAA',
                                                              '11111111-1111-1111-1111-111111111111', 'read');
insert into t_keys select 'rt', id from ayb.apikey_create('rt', sha256('rt'), 'ayb_sk_AAAAAAAA',
                                                           '11111111-1111-1111-1111-111111111111', 'read',
                                                           p_realtime => true);
reset role;

select is((select realtime from ayb.api_keys where name = 'plain'), false, 'a key has no realtime access by default');
select is((select realtime from ayb.api_keys where name = 'rt'), true, 'p_realtime => true grants it');
select is((select realtime from ayb.apikey_create('nul', sha256('nul'), 'ayb_sk_AAAAAAAA', null, 'read', p_realtime => null)),
          false, 'a null p_realtime is no access');

-- Rotation copies the setting.
select is((select realtime from ayb.apikey_rotate((select id from t_keys where name = 'rt'), sha256('rt2'), 'ayb_sk_AAAAAAAA')),
          true, 'a rotated key keeps realtime access');
select is((select realtime from ayb.apikey_rotate((select id from t_keys where name = 'plain'), sha256('plain2'), 'ayb_sk_AAAAAAAA',
                                                  interval '1 hour')),
          false, 'a rotated key keeps having none');

-- Updating it.
set local role service_role;
select is((select realtime from ayb.apikey_set_realtime((select id from t_keys where name = 'plain'), true)), true,
          'service_role grants realtime to a key');
reset role;
select is((select realtime from ayb.api_keys where name = 'plain' and id = (select id from t_keys where name = 'plain')), true,
          'the grant is stored');
select is((select realtime from ayb.apikey_set_realtime((select id from t_keys where name = 'plain'), false)), false,
          'and withdrawn');
select throws_ok($$select ayb.apikey_set_realtime((select id from t_keys where name = 'plain'), true,
                                                   '22222222-2222-2222-2222-222222222222')$$,
                 'P0002', null, 'a user cannot change someone else''s key');
select lives_ok($$select ayb.apikey_set_realtime((select id from t_keys where name = 'plain'), true,
                                                  '11111111-1111-1111-1111-111111111111')$$,
                'a user changes their own key');
select throws_ok($$select ayb.apikey_set_realtime((select id from t_keys where name = 'rt'), false)$$,
                 '22023', null, 'a revoked key cannot be changed');
select throws_ok($$select ayb.apikey_set_realtime((select id from t_keys where name = 'plain'), null)$$,
                 '22023', 'realtime must be true or false', 'null is refused');

select * from finish();
rollback;
