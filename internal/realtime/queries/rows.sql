select idx, record from ayb.realtime_rows($1::regclass, $2)
