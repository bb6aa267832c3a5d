package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel carries auth signals between instances: "keys" after a
// rotation, "session:<id>" and "user:<id>" after revocations (for any
// instance that caches; this one checks sessions per request).
const NotifyChannel = "ayb_auth"

// Listen keeps a LISTEN connection open until ctx ends and reloads the
// signing keys when another instance rotates them (and after every
// reconnect, in case a signal was missed while disconnected).
func (s *Service) Listen(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		slog.Warn("auth: notification listener lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 30*time.Second {
			backoff *= 2
		}
	}
}

func (s *Service) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.db.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "listen "+NotifyChannel); err != nil {
		return err
	}
	if err := s.keys.Reload(ctx); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == "keys" {
			if err := s.keys.Reload(ctx); err != nil {
				slog.Error("auth: reload signing keys", "err", err)
			}
		}
	}
}
