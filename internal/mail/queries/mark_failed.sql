-- A failed send waits until $3 ($2 is the error); after $4 attempts it is
-- given up (failed_at) and stays in the table for the admin to see.
update ayb.mail_outbox
   set locked_until = null,
       last_error = left($2, 2000),
       next_attempt_at = $3,
       failed_at = case when attempts >= $4 then now() end
 where id = $1
