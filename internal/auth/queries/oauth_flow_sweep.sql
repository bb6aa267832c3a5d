delete from ayb.oauth_flows where expires_at < $1
