package realtime

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aybhq/ayb/internal/db"
	"github.com/aybhq/ayb/internal/job"
)

//go:embed queries/prune.sql
var qPrune string

// PruneKind is the job kind that deletes change events older than the
// retention. The schedule ayb.realtime.prune (every minute, from migration
// 023) enqueues it once per fire time whichever instances are up, so the
// log is pruned once, not once per instance, and also while no instance
// serves realtime but tables still capture changes.
const PruneKind = "realtime.prune"

// DefaultRetention is how long events stay replayable when neither the
// job's args nor the configuration say.
const DefaultRetention = time.Hour

// PruneArgs are the args of a PruneKind job.
type PruneArgs struct {
	// Retention overrides the worker's configured retention: any
	// PostgreSQL interval ("2 hours", "90 min", "1h30m").
	Retention string `json:"retention,omitempty"`
}

// RegisterPruneJob registers PruneKind. retention (config
// realtime.retention) applies to jobs whose args name none: set it alike
// on every instance, since any instance's worker may run the job.
func RegisterPruneJob(reg *job.Registry, d *db.DB, retention time.Duration) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	reg.Handle(PruneKind, func(ctx context.Context, j *job.Job) error {
		var a PruneArgs
		if len(j.Args) > 0 {
			if err := json.Unmarshal(j.Args, &a); err != nil {
				return job.Discard(fmt.Errorf(`%s: args must be {"retention": "<interval>"} or {}: %w`, PruneKind, err))
			}
		}
		keep := strings.TrimSpace(a.Retention)
		if keep == "" {
			keep = retention.String()
		}
		var n int64
		err := d.Pool.QueryRow(ctx, qPrune, keep).Scan(&n)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") {
			// A bad interval never gets better by retrying.
			return job.Discard(fmt.Errorf("%s: retention %q: %s", PruneKind, keep, pe.Message))
		}
		return err
	}, job.KindOptions{})
}
