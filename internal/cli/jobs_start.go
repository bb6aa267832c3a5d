package cli

import (
	"context"
	"log/slog"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/job"
	"github.com/aybhq/ayb/internal/matview"
	"github.com/aybhq/ayb/internal/realtime"
)

// startJobs starts this instance's job workers and cron scheduler
// ([jobs] in the config). The returned service's Stop lets running jobs
// finish within jobs.shutdown_grace and returns the rest to the queue.
func startJobs(ctx context.Context, cfg config.Config, rt *Runtime) (*job.Service, error) {
	queues, err := job.ParseQueues(cfg.Jobs.Queues)
	if err != nil {
		return nil, err
	}
	svc := job.NewService(rt.DB, job.ServiceOptions{
		Work:     cfg.Jobs.Enabled && len(queues) > 0,
		Schedule: cfg.Jobs.Scheduler,
		Grace:    cfg.Jobs.ShutdownGrace.Duration,
		Worker: job.Options{
			Queues:       queues,
			Lease:        cfg.Jobs.Lease.Duration,
			PollInterval: cfg.Jobs.PollInterval.Duration,
			Logger:       slog.Default(),
		},
	})
	matview.RegisterJob(svc.Registry, rt.DB)
	// Registered whether or not this instance serves realtime: tables keep
	// capturing changes while no instance streams them.
	realtime.RegisterPruneJob(svc.Registry, rt.DB, cfg.Realtime.Retention.Duration)
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	return svc, nil
}
