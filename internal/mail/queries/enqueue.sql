-- Enqueue one message; the caller's transaction decides whether it is sent.
insert into ayb.mail_outbox (to_address, subject, text_body, html_body, template)
values ($1, $2, $3, $4, $5)
returning id
