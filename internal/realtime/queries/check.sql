-- Visible (claims, image) pairs, 1-based, for one table and role.
select claims_idx, image_idx from ayb.realtime_check($1::regclass, $2, $3, $4)
