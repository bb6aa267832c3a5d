select m.id, m.schema_name, m.view_name, m.mode, s.cron, s.timezone, m.refresh_on_change, extract(epoch from m.debounce)::float8, m.last_refresh_at, m.last_duration_ms, m.last_status, m.last_error, m.created_at, m.updated_at
from ayb.matviews m
left join ayb.schedules s on s.name = 'matview:' || m.schema_name || '.' || m.view_name
where ($1::text is null or (m.schema_name, m.view_name) = (select schema_name, view_name from ayb.matview_split($1)))
order by m.schema_name, m.view_name
