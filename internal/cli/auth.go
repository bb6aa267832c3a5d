package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/aybhq/ayb/internal/auth"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/mail"
)

// startAuth builds the auth service and starts its background work: the
// mail outbox worker, the NOTIFY listener (key rotations) and the throttle
// sweep. They stop with ctx.
func startAuth(ctx context.Context, cfg config.Config, rt *Runtime) (*auth.Service, error) {
	sender, err := mail.NewSender(cfg.Mail)
	if err != nil {
		return nil, err
	}
	worker := &mail.Worker{DB: rt.DB, Sender: sender}
	worker.Start()
	svc, err := auth.New(ctx, auth.Options{Config: cfg, DB: rt.DB, Mail: worker})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	go worker.Run(ctx)
	go svc.Listen(ctx)
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				svc.Sweep(ctx)
			}
		}
	}()
	return svc, nil
}
