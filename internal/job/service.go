package job

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aybhq/ayb/internal/db"
)

// ParseQueues reads "name:concurrency" entries (a bare name means 10).
func ParseQueues(specs []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range specs {
		name, n, has := strings.Cut(strings.TrimSpace(s), ":")
		c := 10
		if has {
			v, err := strconv.Atoi(n)
			if err != nil || v < 1 || v > 10000 {
				return nil, fmt.Errorf("jobs.queues: %q: concurrency must be 1-10000", s)
			}
			c = v
		}
		if name == "" {
			return nil, fmt.Errorf("jobs.queues: %q: empty queue name", s)
		}
		out[name] = c
	}
	return out, nil
}

// Service is what `ayb start` runs: a worker (if enabled) and the
// scheduler (if enabled), stopped together.
type Service struct {
	Registry  *Registry
	Worker    *Worker
	Scheduler *Scheduler
	grace     time.Duration
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	Work, Schedule bool
	Worker         Options
	Grace          time.Duration
}

// NewService builds a service whose registry already holds the built-ins
// that need only the database; register more kinds before Start.
func NewService(d *db.DB, opt ServiceOptions) *Service {
	s := &Service{Registry: NewRegistry(), grace: opt.Grace}
	RegisterBuiltins(s.Registry, d)
	if opt.Work {
		s.Worker = NewWorker(d, s.Registry, opt.Worker)
	}
	if opt.Schedule {
		s.Scheduler = NewScheduler(d)
		if opt.Worker.Logger != nil {
			s.Scheduler.Logger = opt.Worker.Logger
		}
	}
	return s
}

// Start starts the worker and the scheduler.
func (s *Service) Start(ctx context.Context) error {
	if s.Worker != nil {
		if err := s.Worker.Start(ctx); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if s.Scheduler != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.Scheduler.Run(sctx) }()
	}
	return nil
}

// Stop stops the scheduler, then the worker within the grace period.
func (s *Service) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.Worker != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.grace)
		defer cancel()
		_ = s.Worker.Stop(ctx)
	}
}
