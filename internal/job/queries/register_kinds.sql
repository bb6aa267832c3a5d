insert into ayb.job_kinds (kind, admin_only)
select k, false from unnest($1::text[]) k
on conflict (kind) do update set registered_at = now()
