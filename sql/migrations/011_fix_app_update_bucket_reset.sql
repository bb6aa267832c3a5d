-- Why: ayb.app_update reset the app's rate-limit bucket on every change,
-- so renaming an app or editing its description handed it a fresh burst.
-- Only a change of the policy itself starts from a full bucket now.
-- (create or replace keeps the function's grants.)

-- ayb.app_update changes what is given: null arguments keep the current
-- value; p_clear_owner and p_clear_rate_limit remove the owner or the limit
-- (unlimited). Giving p_rate_limit_requests replaces the whole policy.
create or replace function ayb.app_update(p_id uuid, p_name text default null, p_description text default null,
                               p_owner_id uuid default null,
                               p_rate_limit_requests integer default null, p_rate_limit_window interval default null,
                               p_rate_limit_burst integer default null,
                               p_clear_owner boolean default false, p_clear_rate_limit boolean default false)
  returns ayb.apps
  language plpgsql security definer
  set search_path = ''
as $$
declare
  r ayb.apps;
begin
  select * into r from ayb.apps where id = p_id and deleted_at is null for update;
  if not found then
    raise exception 'app % not found', p_id using errcode = 'P0002';
  end if;
  if p_clear_rate_limit and (p_rate_limit_requests is not null or p_rate_limit_window is not null or p_rate_limit_burst is not null) then
    raise exception 'give a rate limit or clear it, not both' using errcode = '22023';
  end if;
  if p_clear_owner and p_owner_id is not null then
    raise exception 'give an owner or clear it, not both' using errcode = '22023';
  end if;
  if p_rate_limit_requests is not null or p_rate_limit_window is not null or p_rate_limit_burst is not null then
    perform ayb.ratelimit_policy_check(p_rate_limit_requests, p_rate_limit_window, p_rate_limit_burst);
    r.rate_limit_requests := p_rate_limit_requests;
    r.rate_limit_window := p_rate_limit_window;
    r.rate_limit_burst := p_rate_limit_burst;
  elsif p_clear_rate_limit then
    r.rate_limit_requests := null; r.rate_limit_window := null; r.rate_limit_burst := null;
  end if;
  if p_name is not null then
    r.name := ayb.app_check_name(p_name);
  end if;
  if p_description is not null then
    if length(p_description) > 2000 then
      raise exception 'app description is longer than 2000 characters' using errcode = '22023';
    end if;
    r.description := p_description;
  end if;
  if p_owner_id is not null then
    perform ayb.app_check_owner(p_owner_id);
    r.owner_id := p_owner_id;
  elsif p_clear_owner then
    r.owner_id := null;
  end if;
  update ayb.apps
     set name = r.name, description = r.description, owner_id = r.owner_id,
         rate_limit_requests = r.rate_limit_requests, rate_limit_window = r.rate_limit_window,
         rate_limit_burst = r.rate_limit_burst, updated_at = now()
   where id = p_id
  returning * into r;
  -- A new policy starts from a full bucket (other changes keep the state).
  if p_clear_rate_limit or p_rate_limit_requests is not null then
    delete from ayb.ratelimit_state where key = 'app:' || p_id::text;
  end if;
  return r;
end
$$;
