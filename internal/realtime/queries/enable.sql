select ayb.realtime_enable($1::text::regclass)
