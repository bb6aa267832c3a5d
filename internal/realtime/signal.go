package realtime

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// signalGate tells writers whether this instance waits for their NOTIFY
// (migration 022): while the hub waits for a signal it holds the advisory
// lock ayb.realtime_signal_key() in shared mode, on a session of its own;
// while it reads in rounds (changes keep coming, and it reads every
// RoundInterval whether signalled or not) it holds nothing. A writer
// notifies only when it cannot take the key exclusively, that is, when some
// instance holds or waits for it: under a steady stream of changes writers
// skip NOTIFY, whose commits PostgreSQL serializes database-wide and each of
// which wakes every listening backend of the database.
//
// Only the hub goroutine uses it (Run and drain).
type signalGate struct {
	cfg      *pgx.ConnConfig // the checker pool's; copied per dial
	conn     *pgx.Conn
	held     bool
	retry    time.Duration
	lastDial time.Time
}

// hold takes the key shared without waiting, and says whether the hub now
// holds it. It fails while a writer that skipped its NOTIFY is in
// progress: every such writer has ended once it succeeds, so one more read
// then sees all of their events.
func (g *signalGate) hold(ctx context.Context) bool {
	if g.held {
		return true
	}
	if g.conn == nil {
		if time.Since(g.lastDial) < g.retry {
			return false
		}
		g.lastDial = time.Now()
		cfg := g.cfg.Copy()
		cfg.RuntimeParams["application_name"] = "ayb-realtime-signal"
		var err error
		if g.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			if ctx.Err() == nil {
				slog.Warn("realtime: signal session", "err", err)
			}
			g.conn = nil
			return false
		}
	}
	var ok bool
	if err := g.conn.QueryRow(ctx, "select pg_try_advisory_lock_shared(ayb.realtime_signal_key())").Scan(&ok); err != nil {
		g.drop(err)
		return false
	}
	g.held = ok
	return ok
}

// release lets writers skip their NOTIFY (as far as this instance goes).
func (g *signalGate) release(ctx context.Context) {
	if !g.held {
		return
	}
	g.held = false
	if _, err := g.conn.Exec(ctx, "select pg_advisory_unlock_shared(ayb.realtime_signal_key())"); err != nil {
		g.drop(err)
	}
}

// drop closes a failed session (its lock goes with it); the hub reads in
// rounds until hold succeeds on a new one.
func (g *signalGate) drop(err error) {
	if err != nil {
		slog.Warn("realtime: signal session", "err", err)
	}
	g.held = false
	if g.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = g.conn.Close(ctx)
		g.conn = nil
	}
}
