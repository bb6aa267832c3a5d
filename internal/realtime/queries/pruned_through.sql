select ayb.realtime_pruned_through()
