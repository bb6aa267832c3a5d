select ayb.realtime_prune($1::interval)
