-- Serialises key creation and rotation across instances.
select pg_advisory_xact_lock(hashtext('ayb.signing_keys'))
