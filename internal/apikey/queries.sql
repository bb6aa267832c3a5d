-- Queries of package apikey, one per "-- name:" section. The writes go
-- through the SQL API (ayb.apikey_*), which the CLI and psql admins share.

-- name: verify
-- Everything a request needs to turn a key hash into an identity.
select k.id, k.kind, k.user_id, k.app_id, k.scope, k.allowed_tables, k.allowed_functions,
       k.expires_at, k.revoked_at, u.email, u.banned_at, a.deleted_at,
       k.rate_limit_requests, k.rate_limit_burst, a.rate_limit_requests, a.rate_limit_burst, k.realtime
  from ayb.api_keys k
  left join ayb.users u on u.id = k.user_id
  left join ayb.apps a on a.id = k.app_id
 where k.key_hash = $1

-- name: streamable
-- $1 key ids: those that may still hold a realtime stream.
select k.id
  from ayb.api_keys k
  left join ayb.users u on u.id = k.user_id
  left join ayb.apps a on a.id = k.app_id
 where k.id = any ($1) and k.realtime and k.revoked_at is null
   and (k.expires_at is null or k.expires_at > now())
   and (k.kind = 'service' or (u.id is not null and u.banned_at is null))
   and a.deleted_at is null

-- name: take
-- $1 key id, $2 tokens wanted, $3 now (null = database clock)
select granted, rate_limit, window_seconds, remaining, reset_after, retry_after
  from ayb.apikey_take($1, $2, $3)

-- name: flush
select ayb.apikey_flush($1, $2, $3, $4)

-- name: sweep
select ayb.ratelimit_sweep()

-- name: create
select k.id, k.name, k.key_prefix, k.kind, k.user_id, k.app_id, k.scope, k.allowed_tables, k.allowed_functions,
       k.rate_limit_requests, extract(epoch from k.rate_limit_window)::float8, k.rate_limit_burst,
       k.expires_at, k.last_used_at, k.created_at, k.created_by, k.rotated_from, k.revoked_at, k.revoked_by, k.revoked_reason, k.realtime
  from ayb.apikey_create(p_name => $1, p_key_hash => $2, p_key_prefix => $3, p_user_id => $4, p_scope => $5,
                         p_app_id => $6, p_allowed_tables => $7, p_allowed_functions => $8, p_expires_at => $9,
                         p_rate_limit_requests => $10, p_rate_limit_window => make_interval(secs => $11::float8),
                         p_rate_limit_burst => $12, p_actor => $13, p_as_user => $14, p_realtime => $15) k

-- name: list
select k.id, k.name, k.key_prefix, k.kind, k.user_id, k.app_id, k.scope, k.allowed_tables, k.allowed_functions,
       k.rate_limit_requests, extract(epoch from k.rate_limit_window)::float8, k.rate_limit_burst,
       k.expires_at, k.last_used_at, k.created_at, k.created_by, k.rotated_from, k.revoked_at, k.revoked_by, k.revoked_reason, k.realtime
  from ayb.apikey_list($1, $2, $3) k
 where $4::uuid is null or k.id = $4

-- name: revoke
select k.id, k.name, k.key_prefix, k.kind, k.user_id, k.app_id, k.scope, k.allowed_tables, k.allowed_functions,
       k.rate_limit_requests, extract(epoch from k.rate_limit_window)::float8, k.rate_limit_burst,
       k.expires_at, k.last_used_at, k.created_at, k.created_by, k.rotated_from, k.revoked_at, k.revoked_by, k.revoked_reason, k.realtime
  from ayb.apikey_revoke($1, $2, $3) k

-- name: rotate
select k.id, k.name, k.key_prefix, k.kind, k.user_id, k.app_id, k.scope, k.allowed_tables, k.allowed_functions,
       k.rate_limit_requests, extract(epoch from k.rate_limit_window)::float8, k.rate_limit_burst,
       k.expires_at, k.last_used_at, k.created_at, k.created_by, k.rotated_from, k.revoked_at, k.revoked_by, k.revoked_reason, k.realtime
  from ayb.apikey_rotate($1, $2, $3, make_interval(secs => $4::float8), $5, $6) k

-- name: set_realtime
-- $1 key id, $2 realtime, $3 as user (null = admin)
select k.id, k.name, k.key_prefix, k.kind, k.user_id, k.app_id, k.scope, k.allowed_tables, k.allowed_functions,
       k.rate_limit_requests, extract(epoch from k.rate_limit_window)::float8, k.rate_limit_burst,
       k.expires_at, k.last_used_at, k.created_at, k.created_by, k.rotated_from, k.revoked_at, k.revoked_by, k.revoked_reason, k.realtime
  from ayb.apikey_set_realtime($1, $2, $3) k
