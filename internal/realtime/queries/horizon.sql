select ayb.realtime_horizon()
