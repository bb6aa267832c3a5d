-- Visible (claims, image) pairs, 1-based, for one table and role. $5 holds
-- auth.uid() of each claims set (null where sub is not a uuid).
select claims_idx, image_idx from ayb.realtime_check($1::regclass, $2, $3, $4, false, $5::uuid[])
