//go:build !unix

package realtime

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// lowerBackendPriority does nothing where process priorities are not unix's.
func lowerBackendPriority(context.Context, *pgx.Conn) error { return nil }
