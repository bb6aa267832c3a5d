delete from ayb.auth_throttle where window_start < $1
