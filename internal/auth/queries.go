package auth

import (
	"embed"

	"github.com/aybhq/ayb/internal/db"
)

//go:embed queries/*.sql
var queryFS embed.FS

// q returns the named fixed query from queries/<name>.sql.
func q(name string) string { return db.QueryFile(queryFS, name) }

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
	qRefresh            = q("refresh")
	qSessionLive        = q("session_live")
	qLiveSessions       = q("live_sessions")
	qSessionRevoke      = q("session_revoke")
	qSessionsRevokeUser = q("sessions_revoke_user")
	qSessionsList       = q("sessions_list")
	qOTTInsert          = q("ott_insert")
	qOTTConsume         = q("ott_consume")
	qOTTPeek            = q("ott_peek")
	qThrottleHit        = q("throttle_hit")
	qOAuthFlowInsert    = q("oauth_flow_insert")
	qOAuthFlowConsume   = q("oauth_flow_consume")
	qIdentityUser       = q("identity_user")
	qIdentityUpsert     = q("identity_upsert")
	qExchangeInsert     = q("exchange_insert")
	qExchangeConsume    = q("exchange_consume")
	qSessionUser        = q("session_user")
	qIdentitiesList     = q("identities_list")
	qIdentityUnlink     = q("identity_unlink")
	qIdentityExists     = q("identity_exists")
)
