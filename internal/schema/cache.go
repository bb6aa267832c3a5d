package schema

import (
	"context"
	_ "embed"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

//go:embed queries/trigger_installed.sql
var triggerInstalledSQL string

// PollEvery is how often the cache reloads when the DDL event trigger is
// missing (a database whose migrations did not run as a superuser).
var PollEvery = 30 * time.Second

// Debounce is how long the cache waits after a DDL signal before reloading,
// so a migration of many statements costs one reload.
const Debounce = 200 * time.Millisecond

// Cache holds the current Snapshot and keeps it fresh.
type Cache struct {
	db      *db.DB
	schemas []string
	cur     atomic.Pointer[Snapshot]
	reload  chan struct{}
	mu      sync.Mutex // serializes reloads
	// loaded is closed-and-replaced after each successful reload (tests wait on it).
	loadedMu sync.Mutex
	loaded   chan struct{}
}

// New loads the schema once and returns the cache. Call Run to keep it
// fresh.
func New(ctx context.Context, d *db.DB, schemas []string) (*Cache, error) {
	if len(schemas) == 0 {
		schemas = []string{"public"}
	}
	c := &Cache{db: d, schemas: schemas, reload: make(chan struct{}, 1), loaded: make(chan struct{})}
	if err := c.Reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Snapshot returns the current schema; never nil after New.
func (c *Cache) Snapshot() *Snapshot { return c.cur.Load() }

// Reload introspects now and swaps the snapshot. It also rereads the API
// roles' statement_timeout (db.LoadRoleSettings): ALTER ROLE fires no event
// trigger, so `notify ayb_schema` after one is how it reaches every instance.
func (c *Cache) Reload(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := Load(ctx, c.db, c.schemas)
	if err != nil {
		return err
	}
	if err := c.db.LoadRoleSettings(ctx); err != nil {
		// Requests keep the settings last read (db.Open refuses to start
		// without them); the schema still moves on.
		slog.Warn("schema cache: rereading the API roles' statement_timeout failed; keeping the last ones", "err", err)
	}
	c.cur.Store(s)
	c.loadedMu.Lock()
	close(c.loaded)
	c.loaded = make(chan struct{})
	c.loadedMu.Unlock()
	return nil
}

// Changed returns a channel closed at the next successful reload.
func (c *Cache) Changed() <-chan struct{} {
	c.loadedMu.Lock()
	defer c.loadedMu.Unlock()
	return c.loaded
}

// Run reloads, debounced, on every DDL signal (on the DB's shared LISTEN
// connection) until ctx ends. After that connection was lost it reloads
// too, since signals sent meanwhile are lost.
func (c *Cache) Run(ctx context.Context) {
	sub := c.db.Listen(Channel, db.Handler{
		Notify: func(string) { c.signal() },
		// Anything changed between the last load and LISTEN would be missed.
		Up: c.signal,
	})
	defer sub.Stop()
	go c.pollWithoutTrigger(ctx)
	c.reloader(ctx)
}

// pollWithoutTrigger reloads periodically when no event trigger signals DDL.
func (c *Cache) pollWithoutTrigger(ctx context.Context) {
	var installed bool
	err := c.db.System(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, triggerInstalledSQL).Scan(&installed)
	})
	if err != nil || installed {
		return
	}
	slog.Warn("schema cache: the ayb_schema_ddl event trigger is missing; reloading every " + PollEvery.String())
	t := time.NewTicker(PollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.signal()
		}
	}
}

func (c *Cache) signal() {
	select {
	case c.reload <- struct{}{}:
	default:
	}
}

func (c *Cache) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.reload:
		}
		// Debounce: absorb the burst of signals a migration sends.
		t := time.NewTimer(Debounce)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-c.reload:
			case <-t.C:
				break wait
			}
		}
		if err := c.Reload(ctx); err != nil && ctx.Err() == nil {
			slog.Error("schema cache: reload failed; keeping the previous schema", "err", err)
			time.AfterFunc(time.Second, c.signal)
		}
	}
}
