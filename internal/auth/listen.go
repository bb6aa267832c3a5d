package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/aybhq/ayb/internal/db"
)

// NotifyChannel carries auth signals between instances: "keys" after a
// rotation, "session:<id>" and "user:<id>" after revocations (for any
// instance that caches; this one checks sessions per request).
const NotifyChannel = "ayb_auth"

// Listen reloads the signing keys when another instance rotates them, and
// after every reconnect of the shared listener (a signal may have been
// missed while it was down), until ctx ends.
func (s *Service) Listen(ctx context.Context) {
	reload := make(chan struct{}, 1)
	signal := func() {
		select {
		case reload <- struct{}{}:
		default:
		}
	}
	sub := s.db.Listen(NotifyChannel, db.Handler{
		Notify: func(payload string) {
			if payload == "keys" {
				signal()
			}
		},
		Up: signal,
	})
	defer sub.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		}
		if err := s.keys.Reload(ctx); err != nil && ctx.Err() == nil {
			slog.Error("auth: reload signing keys; retrying", "err", err)
			time.AfterFunc(time.Second, signal)
		}
	}
}
