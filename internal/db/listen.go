package db

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Handler receives one channel's notifications from the DB's shared
// listener. Callbacks run on the listener's goroutine, one at a time and in
// the order the database sent them, so they must not block: signal a
// goroutine of your own for anything slow.
type Handler struct {
	// Notify gets the payload of each notification on the channel.
	Notify func(payload string)
	// Up runs once the channel is LISTENed on a connection: at first and
	// again after every reconnect. Signals sent while nobody listened are
	// lost, so a component that caches refreshes here.
	Up func()
	// Down runs when the connection an Up ran on is lost.
	Down func(err error)
}

// Subscription is one Handler's registration.
type Subscription struct {
	l       *listener
	channel string
	h       Handler
	conn    uint64 // the connection it was last brought up on (0: none)
	ready   chan struct{}
	once    sync.Once
}

// Ready is closed after the subscription's first Up.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Stop removes the subscription. A callback already under way may still
// finish after Stop returns; none starts later.
func (s *Subscription) Stop() {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	subs := l.subs[s.channel]
	for i, x := range subs {
		if x == s {
			l.subs[s.channel] = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
}

// Listen subscribes h to channel on the DB's one LISTEN connection, shared
// by every component of the instance: PostgreSQL (before 17) wakes every
// listening backend of a database on every NOTIFY, whatever the channel, so
// each extra listening connection costs a wake-up per notification sent by
// anyone (realtime sends one per transaction on a captured table). The
// connection starts with the first subscription and ends with Close; it
// reconnects with backoff when lost. After Close a subscription is inert:
// never ready, never called.
func (d *DB) Listen(channel string, h Handler) *Subscription {
	d.listenOnce.Do(func() {
		cfg := d.Pool.Config().ConnConfig.Copy()
		app := cfg.RuntimeParams["application_name"]
		if app == "" {
			app = "ayb"
		}
		cfg.RuntimeParams["application_name"] = app + "-listen"
		ctx, cancel := context.WithCancel(context.Background())
		d.listener = &listener{cfg: cfg, subs: map[string][]*Subscription{}, stop: cancel, done: make(chan struct{})}
		go d.listener.run(ctx)
	})
	return d.listener.subscribe(channel, h)
}

type listener struct {
	cfg  *pgx.ConnConfig
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex
	subs map[string][]*Subscription
	conn uint64             // the current connection's number
	kick context.CancelFunc // interrupts the wait to LISTEN new channels
}

func (l *listener) subscribe(channel string, h Handler) *Subscription {
	s := &Subscription{l: l, channel: channel, h: h, ready: make(chan struct{})}
	l.mu.Lock()
	l.subs[channel] = append(l.subs[channel], s)
	kick := l.kick
	l.mu.Unlock()
	if kick != nil {
		kick()
	}
	return s
}

func (l *listener) close() {
	l.stop()
	<-l.done
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.session(ctx, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		slog.Warn("database listener lost its connection; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session runs one connection: LISTEN every subscribed channel, bring the
// subscriptions up, deliver notifications; when a subscription arrives,
// LISTEN its channel too. It returns when the connection fails.
func (l *listener) session(ctx context.Context, connected func()) (err error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	l.mu.Lock()
	l.conn++
	id := l.conn
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.kick = nil
		var down []*Subscription
		for _, subs := range l.subs {
			for _, s := range subs {
				if s.conn == id && s.h.Down != nil {
					down = append(down, s)
				}
			}
		}
		l.mu.Unlock()
		if ctx.Err() != nil {
			return // closing: nobody needs telling
		}
		for _, s := range down {
			s.h.Down(err)
		}
	}()
	listening := map[string]bool{}
	for {
		l.mu.Lock()
		wait, kick := context.WithCancel(ctx)
		l.kick = kick
		var channels []string
		var up []*Subscription
		for ch, subs := range l.subs {
			if !listening[ch] && len(subs) > 0 {
				channels = append(channels, ch)
			}
			for _, s := range subs {
				if s.conn != id {
					s.conn = id
					up = append(up, s)
				}
			}
		}
		l.mu.Unlock()
		if len(channels) > 0 {
			stmts := make([]string, len(channels))
			for i, ch := range channels {
				stmts[i] = "listen " + pgx.Identifier{ch}.Sanitize()
			}
			if _, err := conn.Exec(ctx, strings.Join(stmts, "; ")); err != nil {
				kick()
				return err
			}
			for _, ch := range channels {
				listening[ch] = true
			}
			connected()
		}
		for _, s := range up {
			if s.h.Up != nil {
				s.h.Up()
			}
			s.once.Do(func() { close(s.ready) })
		}
		for {
			n, err := conn.WaitForNotification(wait)
			if err != nil {
				kick()
				if ctx.Err() == nil && wait.Err() != nil && !conn.IsClosed() {
					break // a new subscription: LISTEN it
				}
				return err
			}
			l.mu.Lock()
			subs := l.subs[n.Channel]
			l.mu.Unlock()
			for _, s := range subs {
				if s.h.Notify != nil {
					s.h.Notify(n.Payload)
				}
			}
		}
	}
}
