// Package mail sends AYB's email: the built-in templates (verification,
// password reset, magic link, email change) rendered by one function, a
// durable outbox written in the same transaction as the change that causes
// a message, and a worker that drains it through a backend (log or smtp),
// retrying failed sends with backoff.
package mail

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/aybhq/ayb/internal/config"
)

// Message is one email, ready to send.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers one message or returns why it could not.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// NewSender builds the backend named by cfg.Backend.
func NewSender(cfg config.Mail) (Sender, error) {
	switch cfg.Backend {
	case "", "log":
		return LogSender{From: cfg.From}, nil
	case "smtp":
		return NewSMTPSender(cfg)
	}
	return nil, fmt.Errorf("mail.backend %q: want log or smtp", cfg.Backend)
}

// LogSender prints the whole message to the log (development default).
type LogSender struct {
	From string
	// W, when set, receives the rendered message instead of the log.
	W io.Writer
}

// Send logs m.
func (l LogSender) Send(ctx context.Context, m Message) error {
	raw, err := Compose(l.From, m)
	if err != nil {
		return err
	}
	if l.W != nil {
		_, err := l.W.Write(raw)
		return err
	}
	slog.InfoContext(ctx, "mail (log backend)", "to", m.To, "subject", m.Subject, "message", string(raw))
	return nil
}
