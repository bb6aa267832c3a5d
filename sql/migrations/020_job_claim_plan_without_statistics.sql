-- 020: the claim walks the fetch index even when ayb.jobs has no statistics.
--
-- Before autovacuum first analyzes ayb.jobs (a new install given a bulk
-- enqueue, or a surge before the next analyze), PostgreSQL guesses that a
-- claim matches 2 rows and chooses a bitmap scan, which must then sort the
-- whole backlog to find the first p_limit jobs: 143 ms per claim with
-- 200,000 jobs (TestClaimWalksTheIndexWithoutStatistics), and the first
-- burn-down of `make bench` (queue) ran at ~3k jobs/s instead of ~30k.
-- jobs_fetch_idx already yields the rows in claim order, so a claim never
-- needs a sort or a bitmap: with both off for this function the planner
-- takes the ordered index scan whatever its estimates (the plan it chose
-- anyway once the table was analyzed).

alter function ayb.job_claim(text, text, integer, interval, timestamptz)
  set enable_sort = off;
alter function ayb.job_claim(text, text, integer, interval, timestamptz)
  set enable_bitmapscan = off;
