insert into ayb.sessions (user_id, method, user_agent, ip, created_at, expires_at, aal)
values ($1, $2, $3, $4, $5, $6, 'aal1')
returning id
