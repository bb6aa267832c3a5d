package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/mail"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// --- a real SMTP server (go-smtp) with TLS and PLAIN/LOGIN auth ---

type inbox struct {
	mu   sync.Mutex
	msgs []string
	mech []string
}

type backend struct{ in *inbox }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{in: b.in}, nil }

type session struct {
	in     *inbox
	authed bool
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }
func (s *session) Auth(mech string) (sasl.Server, error) {
	s.in.mu.Lock()
	s.in.mech = append(s.in.mech, mech)
	s.in.mu.Unlock()
	check := func(user, pass string) error {
		if user != "u" || pass != "p" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}
func (s *session) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "auth required"}
	}
	return nil
}
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.in.mu.Lock()
	s.in.msgs = append(s.in.msgs, string(b))
	s.in.mu.Unlock()
	return err
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN (go-sasl ships only the client).
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, true, errors.New("unexpected LOGIN step")
}

func selfSigned(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// startSMTP runs a server; implicit selects TLS from the first byte
// (otherwise STARTTLS is offered).
func startSMTP(t *testing.T, implicit bool) (*inbox, string, int) {
	in := &inbox{}
	srv := smtp.NewServer(backend{in})
	srv.Domain = "localhost"
	srv.TLSConfig = selfSigned(t)
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return in, host, p
}

func smtpConfig(host string, port int, tlsMode, auth string) config.Mail {
	return config.Mail{Backend: "smtp", From: "AYB <no-reply@ayb.test>", SMTPHost: host, SMTPPort: port,
		SMTPUser: "u", SMTPPass: "p", SMTPTLS: tlsMode, SMTPAuth: auth, SMTPInsecureSkipVerify: true,
		SMTPTimeout: config.Duration{Duration: 3 * time.Second}}
}

// SMTP over STARTTLS and implicit TLS, with PLAIN and LOGIN; a plain
// connection never sends the password when TLS was asked for.
func TestSMTPSender(t *testing.T) {
	t.Parallel()
	msg, err := mail.Render(mail.TemplateReset, "to@example.com", mail.Data{Email: "to@example.com", Link: "https://x.test/r?token=abc", ExpiresIn: "1 hour"})
	require.NoError(t, err)
	for _, c := range []struct {
		tls, auth string
		implicit  bool
	}{{"starttls", "plain", false}, {"starttls", "login", false}, {"tls", "plain", true}, {"tls", "login", true}} {
		in, host, port := startSMTP(t, c.implicit)
		s, err := mail.NewSMTPSender(smtpConfig(host, port, c.tls, c.auth))
		require.NoError(t, err)
		require.NoError(t, s.Send(context.Background(), msg), "%+v", c)
		require.Len(t, in.msgs, 1)
		require.Contains(t, in.msgs[0], "Subject: Reset your password")
		require.Contains(t, in.msgs[0], "multipart/alternative")
		require.Contains(t, in.msgs[0], "text/html")
		require.Equal(t, []string{strings.ToUpper(c.auth)}, in.mech)
	}
	// A server that does not answer in time fails the send (timeout).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never greets
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	cfg := smtpConfig(host, p, "starttls", "plain")
	cfg.SMTPTimeout.Duration = 300 * time.Millisecond
	s, err := mail.NewSMTPSender(cfg)
	require.NoError(t, err)
	start := time.Now()
	require.Error(t, s.Send(context.Background(), msg))
	require.Less(t, time.Since(start), 3*time.Second)
}

// Headers cannot be injected through the subject.
func TestComposeNoHeaderInjection(t *testing.T) {
	t.Parallel()
	raw, err := mail.Compose("AYB <a@b.test>", mail.Message{To: "x@y.test", Subject: "hi\r\nBcc: evil@z.test", Text: "t"})
	require.NoError(t, err)
	require.NotContains(t, string(raw), "\r\nBcc:")
}

type flaky struct {
	fails atomic.Int32
	mu    sync.Mutex
	sent  []string
}

func (f *flaky) Send(_ context.Context, m mail.Message) error {
	if f.fails.Add(-1) >= 0 {
		return errors.New("smtp down")
	}
	f.mu.Lock()
	f.sent = append(f.sent, m.To)
	f.mu.Unlock()
	return nil
}

func enqueue(t *testing.T, d *dbtest.DB, to string, commit bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := d.Pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, mail.Enqueue(ctx, tx, mail.Message{To: to, Subject: "s", Text: "t"}, "test"))
	if commit {
		require.NoError(t, tx.Commit(ctx))
	} else {
		require.NoError(t, tx.Rollback(ctx))
	}
}

// A rolled-back change sends nothing; a failed send is retried after a
// backoff; a message is sent once even with concurrent workers.
func TestOutbox(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	var off atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	f := &flaky{}
	f.fails.Store(2)
	w := &mail.Worker{DB: d.DB, Sender: f, Now: now, Backoff: time.Minute}

	enqueue(t, d, "rolled@back.test", false)
	enqueue(t, d, "a@x.test", true)
	n, err := w.DrainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, f.sent)
	var attempts int
	var next time.Time
	var lastErr string
	require.NoError(t, d.Pool.QueryRow(ctx, "select attempts, next_attempt_at, last_error from ayb.mail_outbox").Scan(&attempts, &next, &lastErr))
	require.Equal(t, 1, attempts)
	require.Contains(t, lastErr, "smtp down")
	require.WithinDuration(t, now().Add(time.Minute), next, 5*time.Second)

	// Not due yet.
	n, err = w.DrainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n)
	off.Add(int64(61 * time.Second))
	_, err = w.DrainOnce(ctx) // second failure: backoff doubles
	require.NoError(t, err)
	require.NoError(t, d.Pool.QueryRow(ctx, "select next_attempt_at from ayb.mail_outbox").Scan(&next))
	require.WithinDuration(t, now().Add(2*time.Minute), next, 5*time.Second)
	off.Add(int64(121 * time.Second))
	_, err = w.DrainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a@x.test"}, f.sent)

	// 40 messages, 4 workers at once: each sent exactly once.
	for i := 0; i < 40; i++ {
		enqueue(t, d, "m"+strconv.Itoa(i)+"@x.test", true)
	}
	f2 := &flaky{}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &mail.Worker{DB: d.DB, Sender: f2, Now: now, Batch: 3}
			for {
				n, err := wk.DrainOnce(ctx)
				if err != nil || n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, f2.sent, 40)
	seen := map[string]bool{}
	for _, s := range f2.sent {
		require.False(t, seen[s], "sent twice: %s", s)
		seen[s] = true
	}
	var unsent int
	require.NoError(t, d.Pool.QueryRow(ctx, "select count(*) from ayb.mail_outbox where sent_at is null").Scan(&unsent))
	require.Equal(t, 0, unsent)
}
