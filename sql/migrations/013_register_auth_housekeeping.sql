-- Why: ended sessions (with their refresh-token chains), used or expired
-- links and codes, finished OAuth flows and old throttle windows must be
-- removed, once, whichever instance is up. The job queue's hourly
-- `housekeeping` job runs every function registered in ayb.housekeeping;
-- this registers auth's, so there is one sweeper, not one per instance.
--
-- Args (the housekeeping schedule's): {"auth_ended_retention": "1 day"}.
-- Reuse detection only needs the chains of live sessions, so a day after a
-- session ends its rows can go. Throttle windows go a day after they start.

create function ayb.auth_housekeeping(p_now timestamptz, p_args jsonb) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_before timestamptz := p_now - coalesce((p_args ->> 'auth_ended_retention')::interval, interval '1 day');
  v_n bigint;
  v_total bigint := 0;
begin
  delete from ayb.sessions where revoked_at < v_before or expires_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.one_time_tokens where expires_at < v_before or used_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.oauth_exchange_codes where expires_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.oauth_flows where expires_at < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  delete from ayb.auth_throttle where window_start < v_before;
  get diagnostics v_n = row_count; v_total := v_total + v_n;
  return v_total;
end
$$;

revoke execute on function ayb.auth_housekeeping(timestamptz, jsonb) from public;
grant execute on function ayb.auth_housekeeping(timestamptz, jsonb) to ayb_system, service_role;

insert into ayb.housekeeping (name, function, position)
values ('auth.ended', 'ayb.auth_housekeeping(timestamptz, jsonb)', 50);
