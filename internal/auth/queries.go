package auth

import (
	"embed"
	"strings"
)

//go:embed queries/*.sql
var queryFS embed.FS

// q returns the named query from queries/<name>.sql; a missing file is a
// programming error caught by any test that loads the package.
func q(name string) string {
	b, err := queryFS.ReadFile("queries/" + name + ".sql")
	if err != nil {
		panic("auth: no query " + name)
	}
	return strings.TrimSpace(string(b))
}

var (
	qKeysList           = q("keys_list")
	qKeysLock           = q("keys_lock")
	qKeysInsertFirst    = q("keys_insert_first")
	qKeysRetire         = q("keys_retire")
	qKeysInsert         = q("keys_insert")
	qNotify             = q("notify")
	qUserInsert         = q("user_insert")
	qUserByEmail        = q("user_by_email")
	qUserByID           = q("user_by_id")
	qUserMergeMetadata  = q("user_merge_metadata")
	qUserDelete         = q("user_delete")
	qUserSetPassword    = q("user_set_password")
	qUserMarkVerified   = q("user_mark_verified")
	qUserSetEmail       = q("user_set_email")
	qUserSetBanned      = q("user_set_banned")
	qUserSetAdmin       = q("user_set_admin")
	qUsersList          = q("users_list")
	qSessionInsert      = q("session_insert")
	qRefreshInsert      = q("refresh_insert")
	qRefreshConsume     = q("refresh_consume")
	qRefreshReused      = q("refresh_reused")
	qSessionTouch       = q("session_touch")
	qSessionLive        = q("session_live")
	qSessionLiveByID    = q("session_live_by_id")
	qSessionRevoke      = q("session_revoke")
	qSessionsRevokeUser = q("sessions_revoke_user")
	qSessionsList       = q("sessions_list")
	qOTTInsert          = q("ott_insert")
	qOTTConsume         = q("ott_consume")
	qOTTPeek            = q("ott_peek")
	qThrottleHit        = q("throttle_hit")
	qThrottleSweep      = q("throttle_sweep")
	qOAuthFlowInsert    = q("oauth_flow_insert")
	qOAuthFlowConsume   = q("oauth_flow_consume")
	qOAuthFlowSweep     = q("oauth_flow_sweep")
	qIdentityUser       = q("identity_user")
	qIdentityUpsert     = q("identity_upsert")
	qExchangeInsert     = q("exchange_insert")
	qExchangeConsume    = q("exchange_consume")
	qSessionUser        = q("session_user")
)
