-- An exchange code works once, within its minute.
update ayb.oauth_exchange_codes c set used_at = $2
 where c.code_hash = $1 and c.used_at is null and c.expires_at > $2
returning c.session_id
