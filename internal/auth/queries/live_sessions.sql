-- The live sessions among $1 (ids as text; the caller passes only uuids):
-- not revoked, not expired, their user not banned. Long-lived streams
-- (realtime) re-check the sessions they started with, all at once.
select s.id::text from ayb.sessions s join ayb.users u on u.id = s.user_id
 where s.id = any ($1::uuid[]) and s.revoked_at is null and s.expires_at > $2 and u.banned_at is null
