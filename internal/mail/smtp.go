package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"time"

	"github.com/aybhq/ayb/internal/config"
)

// SMTPSender delivers through an SMTP server: implicit TLS ("tls"),
// STARTTLS ("starttls", required when chosen) or plain ("none"), with PLAIN
// or LOGIN authentication when a user is set. Every send is bounded by the
// configured timeout.
type SMTPSender struct {
	cfg  config.Mail
	from string
}

// NewSMTPSender checks cfg and returns the sender.
func NewSMTPSender(cfg config.Mail) (*SMTPSender, error) {
	if cfg.SMTPHost == "" {
		return nil, errors.New("mail.smtp_host is required for the smtp backend")
	}
	switch cfg.SMTPTLS {
	case "none", "starttls", "tls":
	default:
		return nil, fmt.Errorf("mail.smtp_tls %q: want none, starttls or tls", cfg.SMTPTLS)
	}
	switch cfg.SMTPAuth {
	case "", "plain", "login":
	default:
		return nil, fmt.Errorf("mail.smtp_auth %q: want plain or login", cfg.SMTPAuth)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail.from %q: %w", cfg.From, err)
	}
	if cfg.SMTPTimeout.Duration <= 0 {
		cfg.SMTPTimeout.Duration = 10 * time.Second
	}
	return &SMTPSender{cfg: cfg, from: from.Address}, nil
}

// Send delivers m.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	raw, err := Compose(s.cfg.From, m)
	if err != nil {
		return err
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SMTPTimeout.Duration)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.SMTPHost, strconv.Itoa(s.cfg.SMTPPort))
	tlsCfg := &tls.Config{ServerName: s.cfg.SMTPHost, InsecureSkipVerify: s.cfg.SMTPInsecureSkipVerify} //nolint:gosec // opt-in for tests
	var conn net.Conn
	d := &net.Dialer{Timeout: s.cfg.SMTPTimeout.Duration}
	if s.cfg.SMTPTLS == "tls" {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("smtp connect %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.cfg.SMTPHost)
	if err != nil {
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if s.cfg.SMTPTLS == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("smtp: server does not offer STARTTLS (set mail.smtp_tls)")
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if s.cfg.SMTPUser != "" {
		var a smtp.Auth
		if s.cfg.SMTPAuth == "login" {
			a = &loginAuth{user: s.cfg.SMTPUser, pass: s.cfg.SMTPPass}
		} else {
			a = plainAuth{user: s.cfg.SMTPUser, pass: s.cfg.SMTPPass, tls: s.cfg.SMTPTLS != "none"}
		}
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("smtp RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp end of data: %w", err)
	}
	return c.Quit()
}

// plainAuth is SASL PLAIN. Unlike net/smtp.PlainAuth it allows a
// non-TLS loopback server only when the connection is not encrypted by
// choice (smtp_tls = none), which the admin opted into.
type plainAuth struct {
	user, pass string
	tls        bool
}

func (a plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if a.tls && !si.TLS {
		return "", nil, errors.New("smtp: refusing to send the password over an unencrypted connection")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("smtp: unexpected server challenge for PLAIN")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism some servers still require.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(_ *smtp.ServerInfo) (string, []byte, error) {
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, errors.New("smtp: unexpected LOGIN challenge")
}
