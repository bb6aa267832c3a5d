package apierror

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The TypeScript SDK's list of error codes is generated from Catalog, not
// copied by hand: this test fails when sdk/src/codes.ts is stale, and
// AYB_UPDATE_SDK=1 rewrites it.
func TestSDKCatalogsAreGenerated(t *testing.T) {
	var b strings.Builder
	b.WriteString("// Generated from internal/apierror (Catalog) by TestSDKCatalogsAreGenerated;\n")
	b.WriteString("// do not edit. Regenerate: AYB_UPDATE_SDK=1 go test ./internal/apierror\n\n")
	b.WriteString("/** AYB's error codes and the HTTP status each answers with. Errors raised by\n")
	b.WriteString(" * PostgreSQL carry their SQLSTATE (e.g. \"23505\") as the code instead. */\n")
	b.WriteString("export const errorCodes = {\n")
	for _, e := range Catalog() {
		fmt.Fprintf(&b, "  %s: %d,\n", e.Code, e.Status)
	}
	b.WriteString("} as const;\n\n")
	b.WriteString("/** One of AYB's own error codes. */\n")
	b.WriteString("export type ErrorCode = keyof typeof errorCodes;\n")
	want := b.String()

	path := "../../sdk/src/codes.ts"
	if os.Getenv("AYB_UPDATE_SDK") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "sdk/src/codes.ts is stale: run AYB_UPDATE_SDK=1 go test ./internal/apierror")
}

func TestCatalogHasNoSQLSTATEs(t *testing.T) {
	t.Parallel()
	cat := Catalog()
	require.NotEmpty(t, cat)
	for _, e := range cat {
		require.NotEqual(t, strings.ToUpper(e.Code), e.Code, "an SQLSTATE")
		require.Equal(t, StatusFor(e.Code), e.Status, e.Code)
	}
}
