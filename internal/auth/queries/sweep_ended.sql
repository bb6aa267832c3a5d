-- Housekeeping: sessions that ended (revoked or expired) before $1 go,
-- with their refresh-token chains; so do used or expired links and codes.
with s as (
  delete from ayb.sessions where revoked_at < $1 or expires_at < $1
), t as (
  delete from ayb.one_time_tokens where expires_at < $1 or used_at < $1
), c as (
  delete from ayb.oauth_exchange_codes where expires_at < $1
)
delete from ayb.oauth_flows where expires_at < $1
