-- 022: a captured write sends NOTIFY only when some instance waits for one.
--
-- Every transaction that wrote to a realtime table sent NOTIFY ayb_realtime.
-- PostgreSQL serializes the commits of notifying transactions (a
-- database-wide lock held from queueing the notification to the end of the
-- commit), and wakes every listening backend of the database for each one.
-- Under a steady stream of changes the instances do not need the signals:
-- they read the log every round interval anyway.
--
-- An instance waiting for a signal holds the advisory lock
-- ayb.realtime_signal_key() in shared mode, on a session of its own; an
-- instance reading in rounds holds nothing. A writer's first captured row
-- tries the same key exclusively for the rest of its transaction: if some
-- instance holds it (or waits for it), the try fails and the writer
-- notifies; if none does, every instance is reading in rounds and the
-- writer skips the NOTIFY. An instance that goes back to waiting only
-- tries the key shared: it gets it only when no writer that skipped holds
-- it, so all of those have ended and their events are readable; it then
-- reads once more before it waits.

create function ayb.realtime_signal_key() returns bigint
  language sql immutable
as $$ select 4709076360369274880::pg_catalog.int8 $$;

comment on function ayb.realtime_signal_key() is
  'advisory lock key: held shared by each AYB instance that waits for NOTIFY ayb_realtime (see ayb.realtime_capture)';

create or replace function ayb.realtime_capture() returns trigger
  language plpgsql security definer
  set search_path = ''
as $$
declare
  newimg jsonb;
  oldimg jsonb;
  keyimg jsonb;
begin
  if coalesce(current_setting('ayb.realtime_xact', true), '') <> pg_current_xact_id()::text then
    perform pg_advisory_xact_lock_shared(ayb.realtime_lock_base()
      + coalesce(pg_sequence_last_value('ayb.realtime_event_id_seq'), 0));
    perform set_config('ayb.realtime_xact', pg_current_xact_id()::text, true);
    if not pg_try_advisory_xact_lock(ayb.realtime_signal_key()) then
      perform pg_notify('ayb_realtime', '');
    end if;
  end if;
  if tg_op <> 'DELETE' then
    newimg := to_jsonb(new);
  end if;
  if tg_op <> 'INSERT' then
    oldimg := to_jsonb(old);
  end if;
  keyimg := coalesce(newimg, oldimg);
  insert into ayb.realtime_events (tbl, op, pk, record, old_record)
  values (tg_relid, lower(tg_op),
          (select jsonb_object_agg(k, keyimg -> k) from unnest(tg_argv) as k),
          newimg, oldimg);
  return null;
end
$$;

grant execute on function ayb.realtime_signal_key() to ayb_system, anon, authenticated, service_role;
