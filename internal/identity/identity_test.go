package identity_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/identity"
)

// Only API keys need the realtime right; every other credential streams as
// before, whatever the field says.
func TestRealtimeAllowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   identity.Identity
		want bool
	}{
		{identity.Anon(), true},
		{identity.Identity{Role: identity.RoleAuthenticated, Kind: "jwt"}, true},
		{identity.Identity{Role: identity.RoleAuthenticated, Kind: "oauth"}, true},
		{identity.Identity{Role: identity.RoleAuthenticated, Kind: identity.KindAPIKey}, false},
		{identity.Identity{Role: identity.RoleServiceRole, Kind: identity.KindAPIKey}, false},
		{identity.Identity{Role: identity.RoleAuthenticated, Kind: identity.KindAPIKey, Realtime: true}, true},
	} {
		require.Equal(t, tc.want, tc.id.RealtimeAllowed(), "%+v", tc.id)
	}
}
