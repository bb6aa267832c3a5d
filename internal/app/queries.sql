-- Queries of package app: each calls the SQL API (ayb.app_*), which psql
-- admins and the CLI share.

-- name: create
select a.id, a.name, a.description, a.owner_id, a.rate_limit_requests, extract(epoch from a.rate_limit_window)::float8,
       a.rate_limit_burst, a.created_by, a.created_at, a.updated_at, a.deleted_at, a.deleted_by
  from ayb.app_create(p_name => $1, p_description => $2, p_owner_id => $3, p_rate_limit_requests => $4,
                      p_rate_limit_window => make_interval(secs => $5::float8), p_rate_limit_burst => $6,
                      p_actor => $7) a

-- name: update
select a.id, a.name, a.description, a.owner_id, a.rate_limit_requests, extract(epoch from a.rate_limit_window)::float8,
       a.rate_limit_burst, a.created_by, a.created_at, a.updated_at, a.deleted_at, a.deleted_by
  from ayb.app_update(p_id => $1, p_name => $2, p_description => $3, p_owner_id => $4,
                      p_rate_limit_requests => $5, p_rate_limit_window => make_interval(secs => $6::float8),
                      p_rate_limit_burst => $7, p_clear_owner => $8, p_clear_rate_limit => $9) a

-- name: delete
select a.id, a.name, a.description, a.owner_id, a.rate_limit_requests, extract(epoch from a.rate_limit_window)::float8,
       a.rate_limit_burst, a.created_by, a.created_at, a.updated_at, a.deleted_at, a.deleted_by
  from ayb.app_delete($1, $2) a

-- name: list
select a.id, a.name, a.description, a.owner_id, a.rate_limit_requests, extract(epoch from a.rate_limit_window)::float8,
       a.rate_limit_burst, a.created_by, a.created_at, a.updated_at, a.deleted_at, a.deleted_by
  from ayb.app_list($1) a

-- name: get
select a.id, a.name, a.description, a.owner_id, a.rate_limit_requests, extract(epoch from a.rate_limit_window)::float8,
       a.rate_limit_burst, a.created_by, a.created_at, a.updated_at, a.deleted_at, a.deleted_by
  from ayb.app_get($1) a

-- name: usage
select window_start, window_seconds, requests, rejected from ayb.app_usage($1, $2)
