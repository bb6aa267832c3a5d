-- Unlink a provider unless it is the account's last way to sign in (no
-- password and no other identity): the account would be locked out.
delete from ayb.identities i
 where i.user_id = $1 and i.provider = $2
   and (exists (select 1 from ayb.users u where u.id = $1 and u.password_hash is not null)
        or exists (select 1 from ayb.identities o where o.user_id = $1 and o.provider <> $2))
returning i.subject
