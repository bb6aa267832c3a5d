select (ayb.schedule_upsert($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10)).name
