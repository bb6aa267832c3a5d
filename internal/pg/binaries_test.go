package pg

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindBinaries(t *testing.T) {
	b, err := FindBinaries()
	require.NoError(t, err, "make test installs PostgreSQL; it must be found")
	require.GreaterOrEqual(t, b.Major, MinMajor)
	require.FileExists(t, b.Path("initdb"))
}

func TestFindBinariesHonoursBindir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AYB_PG_BINDIR", dir)
	// An empty AYB_PG_BINDIR is passed over; the system install is found.
	b, err := FindBinaries()
	require.NoError(t, err)
	require.NotEqual(t, dir, b.Dir)
	require.NoError(t, os.Setenv("AYB_PG_BINDIR", b.Dir))
	b2, err := FindBinaries()
	require.NoError(t, err)
	require.Equal(t, b.Dir, b2.Dir)
}
