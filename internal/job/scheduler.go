package job

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

// Scheduler turns due schedules (ayb.schedules) into jobs. Every instance
// may run one: ayb.schedule_fire moves next_run_at with a guarded update,
// so each fire time enqueues exactly one job however many schedulers race,
// and a schedule disabled at its due moment fires nothing.
type Scheduler struct {
	db *db.DB
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Interval between ticks [1s].
	Interval time.Duration
	// MissedAfter: a schedule with catch_up off skips a fire time that is
	// older than this when seen (the server was down) [1m].
	MissedAfter time.Duration
	Logger      *slog.Logger

	mu    sync.Mutex
	crons map[string]*Cron
	zones map[string]*time.Location
}

// NewScheduler returns a scheduler over the server's pool.
func NewScheduler(d *db.DB) *Scheduler {
	return &Scheduler{db: d, Now: time.Now, Interval: time.Second, MissedAfter: time.Minute,
		Logger: slog.Default(), crons: map[string]*Cron{}, zones: map[string]*time.Location{}}
}

// Run ticks until ctx is cancelled.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("scheduler: tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type dueSchedule struct {
	name, cron, tz string
	next           *time.Time
	catchUp        bool
}

// Tick fires every due schedule once at the scheduler's current time and
// returns how many jobs this call enqueued.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := s.Now()
	rows, err := s.db.Pool.Query(ctx, qSchedulerDue, now)
	if err != nil {
		return 0, db.Translate(err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dueSchedule, error) {
		var d dueSchedule
		err := r.Scan(&d.name, &d.cron, &d.tz, &d.next, &d.catchUp)
		return d, err
	})
	if err != nil {
		return 0, db.Translate(err)
	}
	fired := 0
	for _, d := range due {
		c, loc, perr := s.parse(d.cron, d.tz)
		if perr != nil {
			msg := perr.Error()
			if _, err := s.db.Pool.Exec(ctx, qSchedulerSetNext, d.name, nil, msg); err != nil {
				return fired, db.Translate(err)
			}
			continue
		}
		next := c.Next(now, loc)
		if d.next == nil {
			if _, err := s.db.Pool.Exec(ctx, qSchedulerSetNext, d.name, next, nil); err != nil {
				return fired, db.Translate(err)
			}
			continue
		}
		// Missed fire times collapse into this one run (next is computed
		// from now, not from the missed time), or are skipped.
		enqueue := d.catchUp || now.Sub(*d.next) < s.MissedAfter
		var id *int64
		if err := s.db.Pool.QueryRow(ctx, qSchedulerFire, d.name, *d.next, next, enqueue, now).Scan(&id); err != nil {
			return fired, db.Translate(err)
		}
		if id != nil {
			fired++
		}
	}
	return fired, nil
}

func (s *Scheduler) parse(expr, tz string) (*Cron, *time.Location, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.crons[expr]
	if !ok {
		var err error
		if c, err = ParseCron(expr); err != nil {
			return nil, nil, err
		}
		s.crons[expr] = c
	}
	loc, ok := s.zones[tz]
	if !ok {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, nil, err
		}
		s.zones[tz] = loc
	}
	return c, loc, nil
}
