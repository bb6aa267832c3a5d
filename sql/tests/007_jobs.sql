-- The job queue's state machine and its fencing rule, the scheduler's
-- guarded fire, the matview prerequisites, and who may call what.
begin;
select plan(47);

-- Time is injected: t0 is "now" for every call below.
create temporary table t (k text primary key, v timestamptz);
insert into t values ('t0', '2026-01-01 12:00:00+00');
create function pg_temp.t0() returns timestamptz language sql as $$ select v from t where k = 't0' $$;

-- Enqueue: due now -> available; later -> scheduled.
create temporary table ids as
  select ayb.job_enqueue('a', p_now => pg_temp.t0()) as a, ayb.job_enqueue('b', p_delay => '1 hour', p_now => pg_temp.t0()) as b;
select is((select state::text from ayb.jobs where id = (select a from ids)), 'available', 'a job due now is available');
select is((select state::text from ayb.jobs where id = (select b from ids)), 'scheduled', 'a delayed job is scheduled');
select throws_ok($$ select ayb.job_enqueue('x', p_run_at => now(), p_delay => '1 hour') $$, '22023', 'give run_at or delay, not both', 'run_at and delay together are refused');
select throws_ok($$ select ayb.job_enqueue('x', p_priority => 10) $$, '23514', null, 'priority out of range is refused by a constraint');
select throws_ok($$ insert into ayb.jobs (kind, state) values ('x', 'completed') $$, '23514', null, 'a finalized job must have a finalized time');
select throws_ok($$ insert into ayb.jobs (kind, state) values ('x', 'running') $$, '23514', null, 'a running job must have a lease');

-- Batch enqueue returns ids in input order.
select is((select count(*) from ayb.job_enqueue(array['c1', 'c2', 'c3'], p_now => pg_temp.t0())), 3::bigint, 'batch enqueue returns one row per job');

-- Unique keys: a duplicate returns the waiting job's id.
select is(ayb.job_enqueue('u', p_unique_key => 'k', p_now => pg_temp.t0()),
          ayb.job_enqueue('u', p_unique_key => 'k', p_now => pg_temp.t0()), 'a duplicate unique key returns the existing id');

-- Claim order: priority first, then time.
delete from ayb.jobs;
select ayb.job_enqueue('late-high', p_priority => 0, p_run_at => pg_temp.t0() - interval '1 minute', p_now => pg_temp.t0());
select ayb.job_enqueue('early-low', p_priority => 5, p_run_at => pg_temp.t0() - interval '2 minutes', p_now => pg_temp.t0());
select ayb.job_enqueue('early-high', p_priority => 0, p_run_at => pg_temp.t0() - interval '2 minutes', p_now => pg_temp.t0());
select ayb.job_enqueue('future', p_run_at => pg_temp.t0() + interval '1 minute', p_now => pg_temp.t0());
select results_eq($$ select kind from ayb.job_claim('w1', 'default', 10, '30 seconds', pg_temp.t0()) order by priority, scheduled_at $$,
  array['early-high', 'late-high', 'early-low'], 'claim takes due jobs by priority, then time; not future ones');
select is((select count(*) from ayb.jobs where state = 'running' and attempt = 1 and attempted_by = 'w1'
           and lease_until = pg_temp.t0() + interval '30 seconds'), 3::bigint, 'claimed jobs are running, attempt 1, leased');
select is((select count(*) from ayb.job_claim('w2', 'default', 10, '30 seconds', pg_temp.t0())), 0::bigint, 'running jobs are not claimed twice');
select is((select kind from ayb.job_claim('w2', 'default', 10, '30 seconds', pg_temp.t0() + interval '1 minute')), 'future', 'a scheduled job is claimed once due');

-- Complete is fenced by attempt.
create temporary table j as select id from ayb.jobs where kind = 'early-high';
select is((select count(*) from ayb.job_complete(array[(select id from j)], array[2], pg_temp.t0())), 0::bigint, 'complete with the wrong attempt is refused');
select is((select count(*) from ayb.job_complete(array[(select id from j)], array[1], pg_temp.t0())), 1::bigint, 'complete with the held attempt succeeds');
select is((select state::text || ' ' || (finalized_at = pg_temp.t0())::text from ayb.jobs where id = (select id from j)), 'completed true', 'completed with its finalized time');
select is((select count(*) from ayb.job_complete(array[(select id from j)], array[1], pg_temp.t0())), 0::bigint, 'a second completion is refused');

-- Fail: retry with backoff, error history; discard after the last attempt.
delete from ayb.jobs;
select ayb.job_enqueue('f', p_max_attempts => 2, p_now => pg_temp.t0());
select ayb.job_claim('w1', 'default', 1, '30 seconds', pg_temp.t0());
select is((select state::text from ayb.job_fail(array[(select id from ayb.jobs)], array[1], array['boom'], p_now => pg_temp.t0())), 'retryable', 'a failed attempt with attempts left is retryable');
select ok((select scheduled_at between pg_temp.t0() + interval '1.7 seconds' and pg_temp.t0() + interval '2.3 seconds' from ayb.jobs), 'the retry waits 2^attempt seconds, +-10% jitter');
select is((select errors -> 0 ->> 'error' from ayb.jobs), 'boom', 'the error is in the history');
select is((select count(*) from ayb.job_claim('w1', 'default', 1, '30 seconds', pg_temp.t0())), 0::bigint, 'not claimed before its backoff');
select is((select attempt from ayb.job_claim('w1', 'default', 1, '30 seconds', pg_temp.t0() + interval '3 seconds')), 2, 'claimed again after its backoff: attempt 2');
select is((select state::text from ayb.job_fail(array[(select id from ayb.jobs)], array[2], array['boom again'], p_now => pg_temp.t0())), 'discarded', 'the last attempt failing discards the job');
select is((select jsonb_array_length(errors) from ayb.jobs), 2, 'both errors are kept');

-- Retry a discarded job: available again with one more attempt.
select is((ayb.job_retry((select id from ayb.jobs), pg_temp.t0())).state::text, 'available', 'retry makes a discarded job available');
select is((select max_attempts from ayb.jobs), 3, 'retry grants one more attempt');
select throws_ok(format('select ayb.job_retry(%s)', (select id from ayb.jobs)), 'PT409', null, 'an available job cannot be retried');

-- Rescue: an expired lease -> retryable; the old holder is fenced out.
delete from ayb.jobs;
select ayb.job_enqueue('r', p_now => pg_temp.t0());
select ayb.job_claim('dead', 'default', 1, '30 seconds', pg_temp.t0());
select is(ayb.job_rescue(pg_temp.t0() + interval '29 seconds'), 0, 'a live lease is not rescued');
select is(ayb.job_rescue(pg_temp.t0() + interval '31 seconds'), 1, 'an expired lease is rescued');
select is((select state::text from ayb.jobs), 'retryable', 'the rescued job is retryable');
select is((select count(*) from ayb.job_complete(array[(select id from ayb.jobs)], array[1], pg_temp.t0())), 0::bigint, 'the dead worker cannot complete a rescued job');
select is((select attempt from ayb.job_claim('alive', 'default', 1, '30 seconds', pg_temp.t0() + interval '32 seconds')), 2, 'another worker claims it: attempt 2');
select is((select count(*) from ayb.job_fail(array[(select id from ayb.jobs)], array[1], array['late'])), 0::bigint, 'the dead worker cannot fail it either');
select is((select count(*) from ayb.job_heartbeat(array[(select id from ayb.jobs)], array[1])), 0::bigint, 'nor renew its lease');
select is((select count(*) from ayb.job_complete(array[(select id from ayb.jobs)], array[2])), 1::bigint, 'the new holder completes it');

-- Cancel: waiting and running jobs; finalized ones refuse.
delete from ayb.jobs;
select is((ayb.job_cancel(ayb.job_enqueue('c'))).state::text, 'cancelled', 'a waiting job is cancelled');
select throws_ok(format('select ayb.job_cancel(%s)', (select id from ayb.jobs)), 'PT409', null, 'a cancelled job cannot be cancelled again');
select ayb.job_enqueue('c2', p_now => pg_temp.t0());
select ayb.job_claim('w', 'default', 1, '30 seconds', pg_temp.t0());
select is((ayb.job_cancel((select id from ayb.jobs where kind = 'c2'))).state::text, 'cancelled', 'a running job is cancelled');
select is((select count(*) from ayb.job_complete(array[(select id from ayb.jobs where kind = 'c2')], array[1])), 0::bigint, 'its worker''s completion is refused');
select throws_ok('select ayb.job_cancel(-1)', 'PT404', null, 'cancelling a missing job is 404');

-- Release (shutdown) keeps the attempt, so the old holder stays fenced out.
delete from ayb.jobs;
select ayb.job_enqueue('s', p_now => pg_temp.t0());
select ayb.job_claim('w', 'default', 1, '30 seconds', pg_temp.t0());
select is((select count(*) from ayb.job_release(array[(select id from ayb.jobs)], array[1])), 1::bigint, 'a running job is released');
select is((select state::text || ' ' || attempt from ayb.jobs), 'available 1', 'released: available, attempt kept');

-- Schedules: exactly one fire per fire time; disabled fires nothing.
select ayb.schedule_upsert('every-minute', '* * * * *', 'housekeeping');
select ayb.schedule_set_next('every-minute', pg_temp.t0());
select isnt(ayb.schedule_fire('every-minute', pg_temp.t0(), pg_temp.t0() + interval '1 minute'), null, 'the first scheduler fires');
select is(ayb.schedule_fire('every-minute', pg_temp.t0(), pg_temp.t0() + interval '1 minute'), null, 'a second scheduler for the same fire time does not');
select ayb.schedule_disable('every-minute');
select is(ayb.schedule_fire('every-minute', pg_temp.t0() + interval '1 minute', pg_temp.t0() + interval '2 minutes'), null, 'a disabled schedule fires nothing');
select throws_ok($$ select ayb.schedule_upsert('x', '@hourly', 'no-such-kind') $$, '22023', null, 'a schedule must name a known kind');

-- Grants: only admins and the server.
set local role authenticated;
select throws_ok($$ select ayb.job_enqueue('x') $$, '42501', null, 'authenticated cannot enqueue');
reset role;
set local role anon;
select throws_ok($$ select ayb.matview_refresh('x') $$, '42501', null, 'anon cannot refresh matviews');
reset role;

select * from finish();
rollback;
