package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/aybhq/ayb/internal/apierror"
	"github.com/aybhq/ayb/internal/identity"
)

// Error codes of the realtime endpoints.
const (
	CodeMFARequired        = "mfa_required"
	CodeTokenExpired       = "token_expired"
	CodeRealtimeNotEnabled = "realtime_not_enabled"
	// CodeRealtimeNotGranted is the reason an API key without realtime
	// access is refused (code insufficient_scope, 403).
	CodeRealtimeNotGranted = "realtime_not_granted"
)

// refuseIdentity says why an identity may not stream (nil when it may).
func refuseIdentity(id identity.Identity, now time.Time) error {
	if !id.RealtimeAllowed() {
		return apierror.New(apierror.CodeInsufficientScope, "this API key has no realtime access").
			WithDetails(map[string]string{"reason": CodeRealtimeNotGranted}).
			WithHint("create the key with realtime: true (ayb apikeys create --realtime), or grant it: PATCH /api/admin/api-keys/{id} {\"realtime\": true}")
	}
	if pending, _ := id.Claims["mfa_pending"].(bool); pending {
		return apierror.New(apierror.CodeForbidden, "this token is waiting for its second factor").
			WithDetails(map[string]string{"reason": CodeMFARequired}).
			WithHint("complete the MFA challenge and use the token it returns")
	}
	if aal, _ := id.Claims["aal"].(string); aal == "aal0" {
		return apierror.New(apierror.CodeForbidden, "this token is waiting for its second factor").
			WithDetails(map[string]string{"reason": CodeMFARequired})
	}
	if exp, ok := expiry(id); ok && !exp.After(now) {
		return apierror.New(apierror.CodeInvalidToken, "the token has expired").
			WithDetails(map[string]string{"reason": CodeTokenExpired})
	}
	return nil
}

// expiry reads the exp claim (seconds since the epoch).
func expiry(id identity.Identity) (time.Time, bool) {
	switch v := id.Claims["exp"].(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case int64:
		return time.Unix(v, 0), true
	case int:
		return time.Unix(int64(v), 0), true
	case json.Number:
		n, err := v.Int64()
		return time.Unix(n, 0), err == nil
	}
	return time.Time{}, false
}

// Stream is GET /api/realtime: an SSE stream of the changes the caller may
// see in the tables it names (?tables=a,b), each optionally narrowed by
// ?filter[a]=<REST filter>. Resume with the Last-Event-ID header (or
// ?last_event_id=).
func (s *Service) Stream(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := identity.From(ctx)
	if err := refuseIdentity(id, time.Now()); err != nil {
		return err
	}
	names := splitList(r.URL.Query().Get("tables"))
	if len(names) == 0 {
		return apierror.New(apierror.CodeValidation, "name at least one table").
			WithHint("GET /api/realtime?tables=messages,rooms")
	}
	tables, err := s.resolve(ctx, id, names, r)
	if err != nil {
		return err
	}
	var lastID int64
	resume := false
	if v := r.Header.Get("Last-Event-ID"); v != "" || r.URL.Query().Get("last_event_id") != "" {
		if v == "" {
			v = r.URL.Query().Get("last_event_id")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return apierror.New(apierror.CodeValidation, "Last-Event-ID must be an event id")
		}
		lastID, resume = n, true
	}
	var pruned, horizon int64
	if resume {
		if err := s.pool.QueryRow(ctx, qPrunedThrough).Scan(&pruned); err != nil {
			return err
		}
	}
	if err := s.pool.QueryRow(ctx, qHorizon).Scan(&horizon); err != nil {
		return err
	}
	claims, err := id.ClaimsJSON()
	if err != nil {
		return apierror.Internal(err)
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sub := newSubscriber(newConnectionID(), id, string(claims), tables, s.opt.Buffer, s.opt.MaxShown)
	if resume && lastID < pruned {
		// Events the client missed are gone: say so, then go on from what
		// is still in the log.
		b, _ := json.Marshal(map[string]any{"reason": "events_pruned", "last_event_id": lastID, "resumed_after": pruned})
		if _, err := w.Write(frame{event: "reset", data: b}.encode()); err != nil {
			return nil
		}
		lastID = pruned
	}
	if err := s.register(sub, resume, lastID, horizon); err != nil {
		return apierror.New(apierror.CodeUnavailable, "the server is shutting down")
	}
	defer s.unregister(sub)
	hello, _ := json.Marshal(map[string]any{"connection": sub.id, "tables": names})
	start := frame{event: "connected", data: hello}
	if !resume {
		start.id = sub.position() // so a reconnect without events still resumes here
	}
	if _, err := w.Write(start.encode()); err != nil {
		return nil
	}
	_ = rc.Flush()
	if resume {
		go func() {
			if err := s.catchUp(ctx, sub); err != nil && ctx.Err() == nil {
				slog.Error("realtime: catch up", "err", err)
				sub.fail(closeError)
			}
		}()
	}
	s.pump(ctx, w, rc, sub)
	return nil
}

// streamWriteTimeout is how long one frame may take to reach the kernel's
// socket buffer: at least this less deadlineRefresh, at most this. A write
// blocks only when the client has not read what the kernel already holds
// for it, and then until a third of the send buffer (up to 4 MB) drains:
// a live client reading at 60 KB/s kept a write waiting over 25 s. A
// client whose writes make no progress for this long is cut off (a dead
// peer would otherwise hold its stream goroutine until TCP gives up) and
// resumes by Last-Event-ID.
const streamWriteTimeout = time.Minute

// deadlineRefresh is how stale a stream's write deadline may get before a
// write moves it: setting one updates a netpoller timer, which three times
// per delivery showed in the realtime bench's profile (~0.5% of the
// server's CPU).
const deadlineRefresh = 5 * time.Second

// fanoutHold is how long a round's writer may spend on one stream, and a
// fallback write its fan-out slot, before the rest go on without it: a
// write to a healthy client takes microseconds; one that blocks (the
// client stopped reading and the kernel's buffer for it is full) waits up
// to streamWriteTimeout and must not hold up the other streams.
const fanoutHold = 5 * time.Millisecond

// streamWriter is one stream's response and its current write deadline.
type streamWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline time.Time
}

// flushFrames writes frames to a stream and flushes them. With fanout it
// first takes one of the service's fan-out slots (GOMAXPROCS-1 of them, at
// least one), so streams woken together write a few at a time instead of
// on every P at once and request goroutines keep a P; a write that blocks
// gives its slot back after fanoutHold.
func (s *Service) flushFrames(sw *streamWriter, fs []frame, fanout bool) bool {
	if fanout {
		s.fanout <- struct{}{}
		release := sync.OnceFunc(func() { <-s.fanout })
		t := time.AfterFunc(fanoutHold, release)
		defer func() { t.Stop(); release() }()
	}
	return sw.write(fs)
}

func (sw *streamWriter) write(fs []frame) bool {
	for _, f := range fs {
		sw.arm()
		if _, err := sw.w.Write(f.encode()); err != nil {
			return false
		}
	}
	sw.arm()
	return sw.rc.Flush() == nil
}

// writeRound writes what a round queued to its streams, one stream after
// another from one goroutine, rather than waking each stream's goroutine
// to write its own: a round that reaches hundreds of streams then costs a
// write each, not also two goroutine wake-ups each (one for the stream,
// one for its fan-out slot), and leaves the other Ps to requests. A write
// that blocks for fanoutHold hands the streams not yet written to their
// own goroutines (see round.check).
func (s *Service) writeRound(subs []*subscriber) {
	if len(subs) == 0 {
		return
	}
	r := &round{subs: subs}
	r.watch = time.AfterFunc(fanoutHold, r.check)
	go r.run()
}

// round is one round's streams being written.
type round struct {
	subs  []*subscriber
	next  atomic.Int64 // the next index to write; claimed by Add
	done  atomic.Int64 // streams written
	seen  int64        // done at check's last look (check only)
	watch *time.Timer
}

func (r *round) run() {
	for {
		i := r.next.Add(1) - 1
		if i >= int64(len(r.subs)) {
			r.watch.Stop()
			return
		}
		r.subs[i].writeQueued()
		r.done.Add(1)
	}
}

// check runs every fanoutHold while the round is written. If no stream
// was written since its last look, the writer is blocked on one: the
// streams not yet claimed are signalled, and their goroutines write them
// (each stream's frames go out in order whoever writes them: see
// writeQueued).
func (r *round) check() {
	d := r.done.Load()
	if d >= int64(len(r.subs)) {
		return
	}
	if d == r.seen {
		from := min(r.next.Swap(int64(len(r.subs))), int64(len(r.subs)))
		for _, sub := range r.subs[from:] {
			sub.signal()
		}
		return
	}
	r.seen = d
	r.watch.Reset(fanoutHold)
}

// writeQueued writes the stream's queued frames, unless its own goroutine
// is writing (a heartbeat, or frames it was signalled for): then that
// goroutine is signalled to write them next. Frames are taken from the
// queue and written under wmu, so they reach the client in queue order.
func (sub *subscriber) writeQueued() {
	if !sub.wmu.TryLock() {
		sub.signal()
		return
	}
	defer sub.wmu.Unlock()
	if sub.sw == nil {
		return // the stream has ended
	}
	sub.spare = sub.take(sub.spare)
	if len(sub.spare) > 0 && !sub.sw.write(sub.spare) {
		sub.fail(closeError)
	}
}

// arm gives the next write at least streamWriteTimeout-deadlineRefresh,
// moving the deadline only when it has gone that stale.
func (sw *streamWriter) arm() {
	if now := time.Now(); now.After(sw.deadline.Add(deadlineRefresh - streamWriteTimeout)) {
		sw.deadline = now.Add(streamWriteTimeout)
		_ = sw.rc.SetWriteDeadline(sw.deadline)
	}
}

// pump writes queued frames, heartbeats and the closing event.
func (s *Service) pump(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, sub *subscriber) {
	beat := time.NewTicker(s.opt.Heartbeat)
	defer beat.Stop()
	expTimer := time.NewTimer(time.Hour)
	defer expTimer.Stop()
	armExpiry := func() {
		expTimer.Stop()
		if exp, ok := expiry(sub.identity()); ok {
			expTimer.Reset(time.Until(exp))
		} else {
			expTimer.Reset(100 * 365 * 24 * time.Hour)
		}
	}
	armExpiry()
	sw := &streamWriter{w: w, rc: rc}
	sub.wmu.Lock()
	sub.sw = sw
	sub.wmu.Unlock()
	// The connection may serve another request once the stream ends.
	defer func() {
		sub.wmu.Lock()
		sub.sw = nil
		sub.wmu.Unlock()
		_ = rc.SetWriteDeadline(time.Time{})
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.ready:
			// Everything queued so far, in one flush: frames queued
			// outside a round, or that a round's writer handed over.
			sub.wmu.Lock()
			sub.spare = sub.take(sub.spare)
			ok := len(sub.spare) == 0 || s.flushFrames(sw, sub.spare, true)
			sub.wmu.Unlock()
			if !ok {
				return
			}
		case <-beat.C:
			sub.wmu.Lock()
			ok := s.flushFrames(sw, []frame{{comment: "ping"}}, false)
			sub.wmu.Unlock()
			if !ok {
				return
			}
		case <-sub.renewed:
			armExpiry()
		case <-expTimer.C:
			sub.fail(closeTokenExpired)
		case <-sub.closed:
			// Everything queued before the close was accepted in order:
			// send it, then the reason. The client resumes after the last id.
			reason := sub.closeReason()
			b, _ := json.Marshal(map[string]any{"reason": reason,
				"resumable": reason == closeSlow || reason == closeShutdown || reason == closeError})
			sub.wmu.Lock()
			s.flushFrames(sw, append(sub.take(nil), frame{event: "close", data: b}), false)
			sub.wmu.Unlock()
			return
		}
	}
}

// Handover is POST /api/realtime/{connection}/token: the request's own
// credential (verified by the server's authenticator like any request)
// replaces the stream's, so a client renews its token without reconnecting.
// The new identity must be the same subject and role.
func (s *Service) Handover(w http.ResponseWriter, r *http.Request) error {
	id := identity.From(r.Context())
	if err := refuseIdentity(id, time.Now()); err != nil {
		return err
	}
	sub := s.lookup(chi.URLParam(r, "connection"))
	if sub == nil || sub.isClosed() {
		return apierror.NotFound("no such realtime connection on this server").
			WithHint("reconnect with the new token and Last-Event-ID; nothing is lost")
	}
	cur := sub.identity()
	if cur.Role != id.Role || cur.Subject() != id.Subject() || cur.Kind != id.Kind {
		return apierror.New(apierror.CodeForbidden, "the new token belongs to someone else")
	}
	for _, t := range sub.tables {
		if !id.TableAllowed(t.name) && !id.TableAllowed(t.table) {
			return apierror.New(apierror.CodeForbidden, "the new token may not read "+t.name)
		}
	}
	claims, err := id.ClaimsJSON()
	if err != nil {
		return apierror.Internal(err)
	}
	sub.renew(id, string(claims), &s.claimIDs)
	s.readersChanged()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resolve checks the requested tables and compiles their filters.
func (s *Service) resolve(ctx context.Context, id identity.Identity, names []string, r *http.Request) (map[string]*subscription, error) {
	rows, err := s.pool.Query(ctx, qResolve, names, id.Role)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*subscription{}
	type resolved struct {
		name, tbl       string
		enabled         bool
		columns, pkCols []string
	}
	var list []resolved
	for rows.Next() {
		var x resolved
		if err := rows.Scan(&x.name, &x.tbl, &x.enabled, &x.columns, &x.pkCols); err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for _, x := range list {
		if !id.TableAllowed(x.name) && !id.TableAllowed(x.tbl) && !id.TableAllowed(strings.TrimPrefix(x.tbl, "public.")) {
			return nil, apierror.New(apierror.CodeForbidden, "this credential may not read "+x.name)
		}
		if x.tbl == "" {
			return nil, apierror.NotFound("no table " + x.name)
		}
		if !x.enabled {
			return nil, apierror.New(apierror.CodeValidation, "realtime is not enabled on "+x.name).
				WithDetails(map[string]string{"reason": CodeRealtimeNotEnabled}).
				WithHint("an admin runs: ayb realtime enable " + x.name)
		}
		if len(x.columns) == 0 {
			return nil, apierror.New(apierror.CodeForbidden, "role "+id.Role+" may not read "+x.name)
		}
		sub := &subscription{table: x.tbl, name: x.name, pkCols: x.pkCols}
		if f := r.URL.Query().Get("filter[" + x.name + "]"); f != "" {
			if s.opt.Filters == nil {
				return nil, apierror.New(apierror.CodeValidation, "filters are not available on this server")
			}
			c, err := s.opt.Filters.Compile(FilterTable{Name: x.tbl, Alias: filterAlias, Columns: x.columns, FirstParam: 2}, f)
			if err != nil {
				return nil, err
			}
			allowed := map[string]bool{}
			for _, c := range x.columns {
				allowed[c] = true
			}
			for _, col := range c.Columns {
				if !allowed[col] {
					return nil, apierror.New(apierror.CodeForbidden, "the filter reads column "+col+", which "+id.Role+" may not select")
				}
			}
			sub.filter = &c
			sub.filterKey = f
		}
		if _, dup := out[x.tbl]; dup {
			return nil, apierror.New(apierror.CodeValidation, "table "+x.name+" is named twice")
		}
		out[x.tbl] = sub
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newConnectionID is unguessable: it authorizes nothing by itself (handover
// needs the same subject's fresh token), but it must not be enumerable.
func newConnectionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
