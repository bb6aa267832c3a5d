-- Claim due messages for this worker: a lease (locked_until) taken under
-- SKIP LOCKED so concurrent workers on any instance never share a message,
-- and a crashed worker's lease simply runs out.
-- $1 now, $2 lease seconds, $3 batch size
update ayb.mail_outbox o
   set locked_until = $1::timestamptz + make_interval(secs => $2::float8),
       attempts = o.attempts + 1
 where o.id in (
   select id from ayb.mail_outbox
    where sent_at is null and failed_at is null
      and next_attempt_at <= $1
      and (locked_until is null or locked_until < $1)
    order by next_attempt_at, id
    limit $3
    for update skip locked)
returning o.id, o.to_address, o.subject, o.text_body, o.html_body, o.attempts
