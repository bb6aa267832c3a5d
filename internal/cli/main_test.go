package cli

import (
	"testing"

	"github.com/aybhq/ayb/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
