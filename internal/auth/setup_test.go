package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/aybhq/ayb/internal/auth"
	"github.com/aybhq/ayb/internal/config"
	"github.com/aybhq/ayb/internal/dbtest"
	"github.com/aybhq/ayb/internal/mail"
	"github.com/aybhq/ayb/internal/server"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// received is one message delivered to the test SMTP server.
type received struct {
	From, To string
	Body     string // quoted-printable decoded
}

// mailbox is a real SMTP server (go-smtp) on loopback, requiring PLAIN auth.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []received
	ch   chan struct{}
}

type smtpBackend struct{ mb *mailbox }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{mb: b.mb}, nil }

type smtpSession struct {
	mb       *mailbox
	authed   bool
	from, to string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "mailer" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, received{From: s.from, To: s.to, Body: string(dec)})
	s.mb.mu.Unlock()
	select {
	case s.mb.ch <- struct{}{}:
	default:
	}
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mb := &mailbox{addr: ln.Addr().String(), ch: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtpBackend{mb})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

// waitFor returns the n-th (0-based) message to `to`, waiting up to 10 s.
func (mb *mailbox) waitFor(t *testing.T, to string, n int) received {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		mb.mu.Lock()
		i := 0
		for _, m := range mb.msgs {
			if m.To == to {
				if i == n {
					mb.mu.Unlock()
					return m
				}
				i++
			}
		}
		mb.mu.Unlock()
		select {
		case <-mb.ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no email #%d to %s arrived", n, to)
		}
	}
}

func (mb *mailbox) count(to string) int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	n := 0
	for _, m := range mb.msgs {
		if m.To == to {
			n++
		}
	}
	return n
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+\?token=[A-Za-z0-9_\-%]+`)

// link extracts the emailed link (the plain-text part's, which comes first).
func link(t *testing.T, m received) string {
	t.Helper()
	l := linkRE.FindString(m.Body)
	require.NotEmpty(t, l, "no link in email:\n%s", m.Body)
	return l
}

// clock is a settable test clock.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

type env struct {
	t     *testing.T
	db    *dbtest.DB
	svc   *auth.Service
	srv   *httptest.Server
	mail  *mailbox
	clock *clock
	cfg   config.Config
}

// setup starts a migrated database, a real SMTP server, the mail worker and
// the AYB server (auth wired in) on loopback.
func setup(t *testing.T, mutate ...func(*config.Config)) *env {
	t.Helper()
	d := dbtest.New(t)
	mb := startMailbox(t)
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(mb.addr)
	p, _ := strconv.Atoi(port)
	cfg := config.Defaults()
	cfg.Server.PublicURL = srv.URL
	cfg.Auth.ArgonMemoryKiB = 8 * 1024 // tests: smaller hashes, same code
	cfg.Auth.ArgonIterations = 1
	cfg.Mail = config.Mail{Backend: "smtp", From: "AYB <no-reply@ayb.test>", SMTPHost: host, SMTPPort: p,
		SMTPUser: "mailer", SMTPPass: "s3cret", SMTPTLS: "none", SMTPAuth: "plain", SMTPTimeout: config.Duration{Duration: 5 * time.Second}}
	for _, m := range mutate {
		m(&cfg)
	}
	sender, err := mail.NewSender(cfg.Mail)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	worker := &mail.Worker{DB: d.DB, Sender: sender, Poll: 50 * time.Millisecond}
	worker.Start()
	go worker.Run(ctx)
	clk := &clock{}
	svc, err := auth.New(ctx, auth.Options{Config: cfg, DB: d.DB, Mail: worker, Now: clk.now})
	require.NoError(t, err)
	go svc.Listen(ctx)
	srv.Config.Handler = server.New(server.Options{Config: cfg, DB: d.DB, Authenticator: svc, Auth: svc}).Handler()
	return &env{t: t, db: d, svc: svc, srv: srv, mail: mb, clock: clk, cfg: cfg}
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

func (r resp) str(k string) string { s, _ := r.JSON[k].(string); return s }

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(j)
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) resp {
	e.t.Helper()
	res, err := noRedirect.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Body: b}
	_ = json.Unmarshal(b, &r.JSON)
	return r
}

// register creates an account and returns its tokens.
func (e *env) register(email, password string) resp {
	e.t.Helper()
	r := e.do("POST", "/api/auth/register", "", map[string]any{"email": email, "password": password})
	require.Equal(e.t, http.StatusCreated, r.Status, string(r.Body))
	return r
}

func (e *env) login(email, password string) resp {
	e.t.Helper()
	r := e.do("POST", "/api/auth/login", "", map[string]any{"email": email, "password": password})
	require.Equal(e.t, http.StatusOK, r.Status, string(r.Body))
	return r
}

func (e *env) countRows(table string) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.db.Admin(e.t).QueryRow(context.Background(), "select count(*) from "+table).Scan(&n))
	return n
}
