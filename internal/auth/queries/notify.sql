-- Signals other instances (payload: keys | session:<id> | user:<id>).
select pg_notify('ayb_auth', $1)
