package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/app"
	"github.com/aybhq/ayb/internal/realtime"
	"github.com/aybhq/ayb/internal/schema"
	"github.com/aybhq/ayb/internal/server"
)

func runStart(ctx context.Context, args []string, stdout io.Writer) error {
	cf := newFlags("start")
	cf.setting("host", "server.host", "address to listen on")
	cf.setting("port", "server.port", "HTTP port")
	if _, err := positional(cf.fs, args); err != nil {
		return err
	}
	writeDefaultConfig(cf.config)
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	server.TuneGC()
	ln, err := server.Listen(cfg)
	if err != nil {
		return err
	}
	defer ln.Close()
	rt, err := Connect(ctx, cfg, true, progressPrinter)
	if err != nil {
		return err
	}
	defer rt.Close()
	jobs, err := startJobs(ctx, cfg, rt)
	if err != nil {
		return err
	}
	defer jobs.Stop()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	users, err := startAuth(runCtx, cfg, rt)
	if err != nil {
		return err
	}
	cache, err := schema.New(runCtx, rt.DB, cfg.REST.Schemas)
	if err != nil {
		return err
	}
	go cache.Run(runCtx)
	keys := apikey.New(rt.DB, apikey.Options{})
	keys.Start(runCtx)
	var rtSvc *realtime.Service
	if cfg.Realtime.Enabled {
		rtSvc, err = realtime.New(ctx, realtime.Options{
			URL:                  rt.URL,
			PoolSize:             cfg.Realtime.PoolSize,
			Listener:             rt.DB,
			Heartbeat:            cfg.Realtime.Heartbeat.Duration,
			SessionCheckInterval: cfg.Realtime.SessionCheckInterval.Duration,
			Buffer:               cfg.Realtime.Buffer,
			Coalesce:             cfg.Realtime.Coalesce.Duration,
			RoundInterval:        cfg.Realtime.RoundInterval.Duration,
			Filters:              realtime.SchemaFilters{Cache: cache},
			Sessions:             users,
			Keys:                 keys,
		})
		if err != nil {
			return err
		}
		defer rtSvc.Close()
		go func() { _ = rtSvc.Run(runCtx) }()
		// Streams never end by themselves: close them (with a resumable
		// "close" event) as soon as shutdown starts, so it need not wait.
		go func() { <-runCtx.Done(); rtSvc.Close() }()
	}
	srv := server.New(server.Options{
		Config: cfg, DB: rt.DB, Version: Version,
		// API keys first; every other credential (JWTs) goes to auth.
		Authenticator: apikey.Authenticator{Keys: keys, Next: users},
		Auth:          users,
		Schema:        cache,
		APIKeys:       keys,
		Apps:          app.New(rt.DB),
		Realtime:      rtSvc,
	})
	if rt.Cluster != nil {
		go func() {
			select {
			case err := <-rt.Cluster.Exited():
				slog.Error("managed PostgreSQL exited; stopping", "err", err)
				cancel()
			case <-runCtx.Done():
			}
		}()
	}
	err = srv.Serve(runCtx, ln, func(addr string) {
		where := "managed PostgreSQL in " + cfg.Database.DataDir
		if rt.Cluster == nil {
			where = "external database"
		} else {
			where += " (port " + strconv.Itoa(rt.Cluster.Port()) + ")"
		}
		progressPrinter("listening on http://%s (%s); Ctrl-C stops", addr, where)
	})
	cancel()
	keys.Wait() // the last usage counts reach the database before the pool closes
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	progressPrinter("stopped")
	return nil
}
