select r.id, r.started_at, r.finished_at, r.duration_ms, r.status, r.error, r.error_code, r.triggered_by
from ayb.matview_refreshes r
where r.matview_id = (ayb.matview_get($1)).id
order by r.id desc
limit $2
