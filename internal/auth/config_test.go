package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/auth"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
)

// OAuth providers are a TOML table under [auth.oauth_providers]; bad ones
// stop the server at start with a clear message.
func TestOAuthProvidersConfig(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "ayb.toml")
	require.NoError(t, os.WriteFile(p, []byte(`
[auth.oauth_providers.google]
client_id = "g"
client_secret = "gs"

[auth.oauth_providers.corp]
kind = "oidc"
issuer = "https://id.corp.example"
client_id = "c"
scopes = ["openid", "email"]
`), 0o600))
	cfg, _, err := config.Load(p, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "oidc", cfg.Auth.OAuthProviders["corp"].Kind)
	require.Equal(t, "gs", cfg.Auth.OAuthProviders["google"].ClientSecret)
	for _, e := range cfg.Entries() {
		require.NotContains(t, e.Value, "gs", "secrets are masked")
	}

	d := dbtest.New(t)
	for name, bad := range map[string]config.OAuthProvider{
		"corp":    {Kind: "oidc", ClientID: "c"},     // no issuer
		"BAD":     {Kind: "github", ClientID: "c"},   // bad name
		"x":       {Kind: "facebook", ClientID: "c"}, // unknown kind
		"github2": {Kind: "github"},                  // no client id
	} {
		c := config.Defaults()
		c.Auth.OAuthProviders = map[string]config.OAuthProvider{name: bad}
		_, err := auth.New(context.Background(), auth.Options{Config: c, DB: d.DB})
		require.Error(t, err, name)
	}
}
