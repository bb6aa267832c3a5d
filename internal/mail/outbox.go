package mail

import (
	"context"
	_ "embed"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/db"
)

var (
	//go:embed queries/enqueue.sql
	qEnqueue string
	//go:embed queries/claim.sql
	qClaim string
	//go:embed queries/mark_sent.sql
	qMarkSent string
	//go:embed queries/mark_failed.sql
	qMarkFailed string
)

// Enqueue writes m to the outbox inside tx: it is sent only if tx commits.
// template names the template it was rendered from (for the admin's eyes).
func Enqueue(ctx context.Context, tx pgx.Tx, m Message, template string) error {
	var id int64
	return tx.QueryRow(ctx, qEnqueue, m.To, m.Subject, m.Text, m.HTML, template).Scan(&id)
}

// Worker drains the outbox through a Sender.
type Worker struct {
	DB     *db.DB
	Sender Sender
	// Poll is how often the outbox is checked (default 1s). Kick wakes the
	// worker sooner on this instance.
	Poll time.Duration
	// Batch is how many messages one claim takes (default 10).
	Batch int
	// MaxAttempts before a message is given up (default 8).
	MaxAttempts int
	// Backoff is the first retry delay, doubled on each attempt up to 1h
	// (default 5s).
	Backoff time.Duration
	// Now is the clock (tests inject one).
	Now func() time.Time

	kick chan struct{}
}

func (w *Worker) defaults() {
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.Batch <= 0 {
		w.Batch = 10
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 8
	}
	if w.Backoff <= 0 {
		w.Backoff = 5 * time.Second
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.kick == nil {
		w.kick = make(chan struct{}, 1)
	}
}

// Kick asks the worker to look at the outbox now (after a commit that
// enqueued mail). It never blocks.
func (w *Worker) Kick() {
	if w == nil || w.kick == nil {
		return
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Start prepares the worker so Kick works before Run is scheduled.
func (w *Worker) Start() { w.defaults() }

// Run drains the outbox until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		for {
			n, err := w.DrainOnce(ctx)
			if err != nil && ctx.Err() == nil {
				slog.Error("mail outbox", "err", err)
			}
			if n < w.Batch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

type claimed struct {
	id                      int64
	to, subject, text, html string
	attempts                int
}

// DrainOnce claims one batch and sends it, returning how many it claimed.
func (w *Worker) DrainOnce(ctx context.Context) (int, error) {
	w.defaults()
	var batch []claimed
	lease := 60.0
	err := w.DB.System(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qClaim, w.Now(), lease, w.Batch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.id, &c.to, &c.subject, &c.text, &c.html, &c.attempts); err != nil {
				return err
			}
			batch = append(batch, c)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	for _, c := range batch {
		sendErr := w.Sender.Send(ctx, Message{To: c.to, Subject: c.subject, Text: c.text, HTML: c.html})
		if sendErr == nil {
			_, err = w.DB.Pool.Exec(ctx, qMarkSent, c.id, w.Now())
		} else {
			slog.Warn("mail send failed", "id", c.id, "attempt", c.attempts, "err", sendErr)
			delay := time.Duration(float64(w.Backoff) * math.Pow(2, float64(c.attempts-1)))
			if delay > time.Hour || delay <= 0 {
				delay = time.Hour
			}
			_, err = w.DB.Pool.Exec(ctx, qMarkFailed, c.id, sendErr.Error(), w.Now().Add(delay), w.MaxAttempts)
		}
		if err != nil {
			return len(batch), db.Translate(err)
		}
	}
	return len(batch), nil
}
