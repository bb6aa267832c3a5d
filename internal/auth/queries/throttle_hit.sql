-- Count one hit in a fixed window; a window that has ended starts over, so
-- nobody is ever locked out for good. Returns the hits in the current window
-- and when it started. $1 key, $2 now, $3 window seconds
insert into ayb.auth_throttle as t (key, window_start, hits)
values ($1, $2, 1)
on conflict (key) do update
   set hits = case when t.window_start + make_interval(secs => $3::float8) <= $2 then 1 else t.hits + 1 end,
       window_start = case when t.window_start + make_interval(secs => $3::float8) <= $2 then $2 else t.window_start end
returning hits, window_start
