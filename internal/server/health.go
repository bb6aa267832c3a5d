package server

import (
	"context"
	"net/http"
	"time"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/migrate"
	"github.com/aybhq/ayb/internal/web"
)

// health answers whether the database is reachable and at which migration
// version it is.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	var current int32
	err := s.db.Pool.QueryRow(ctx, "select coalesce(max(version), 0)::int4 from "+migrate.VersionTable).Scan(&current)
	if err != nil {
		return apierror.New(apierror.CodeUnavailable, "database unreachable").WithCause(err)
	}
	latest, _ := migrate.Latest()
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"status":    "ok",
		"version":   s.version,
		"database":  "ok",
		"migration": map[string]any{"current": current, "latest": latest},
	})
	return nil
}
