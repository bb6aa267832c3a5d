-- Template, not a fixed query: __TABLE__ is the table's regclass text (as
-- Postgres quotes it), __ALIAS__ the quoted alias the compiled filter uses,
-- __FILTER__ the expression a FilterCompiler produced from the schema cache
-- (identifiers quoted, every value bound from $2 on). $1 holds the images.
select ayb_rt_ord::integer
  from unnest($1::jsonb[]) with ordinality as ayb_rt_u(ayb_rt_img, ayb_rt_ord)
  cross join lateral jsonb_populate_record(null::__TABLE__, ayb_rt_img) as __ALIAS__
 where __FILTER__
