update ayb.mail_outbox set sent_at = $2, locked_until = null, last_error = null where id = $1
