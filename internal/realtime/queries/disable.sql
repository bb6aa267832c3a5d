select ayb.realtime_disable($1::text::regclass)
