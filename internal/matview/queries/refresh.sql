select r.id, r.started_at, r.finished_at, r.duration_ms, r.status, r.error, r.error_code, r.triggered_by
from ayb.matview_refresh($1, $2) r
