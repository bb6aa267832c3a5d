package realtime

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/aybhq/ayb/internal/identity"
)

// Close reasons sent in the final "close" event.
const (
	closeSlow           = "slow_client"
	closeShutdown       = "server_shutdown"
	closeTokenExpired   = "token_expired"
	closeSessionRevoked = "session_revoked"
	closeKeyRevoked     = "key_revoked"
	closeError          = "internal_error"
)

// subscription is one table a stream follows.
type subscription struct {
	table     string // regclass text, as the log names it ("public.rows")
	name      string // as the client named it ("rows")
	pkCols    []string
	filter    *CompiledFilter
	filterKey string // the filter text; "" = none
}

// frame is one SSE message.
type frame struct {
	id      int64 // 0: no id line
	event   string
	data    []byte
	comment string // a comment line only (heartbeat)
}

// subscriber is one SSE stream.
type subscriber struct {
	id     string
	tables map[string]*subscription
	// queue holds frames not yet written, at most buffer of them; ready
	// (capacity 1) tells the stream's writer there is something. A slice
	// that grows only as far as a client lags, instead of a channel of
	// buffer frames made up front: 1,000 idle streams held 40 MB of
	// channel slots that every GC cycle scanned.
	qmu    sync.Mutex
	queue  []frame
	buffer int
	ready  chan struct{}
	// wmu is held while writing to the stream, by the stream's goroutine
	// or a round's writer; sw is the stream's response while its handler
	// runs (nil after), spare the frames last written, reused as the
	// queue's next store.
	wmu   sync.Mutex
	sw    *streamWriter
	spare []frame

	// guarded by Service.mu
	live bool

	mu       sync.Mutex
	ident    identity.Identity
	claims   string
	key      string  // claimsKey(role, claims), kept with them
	kid      int64   // key's number in Service.claimIDs while registered
	uid      *string // auth.uid() of the claims
	pos      int64
	shown    map[string]map[string]map[string]any // table -> pk key -> pk
	nShown   int
	maxShown int
	closed   chan struct{}
	reason   string
	renewed  chan struct{}
}

func newSubscriber(id string, ident identity.Identity, claims string, tables map[string]*subscription, buffer, maxShown int) *subscriber {
	return &subscriber{id: id, ident: ident, claims: claims, key: claimsKey(ident.Role, claims), uid: uidOf(ident), tables: tables,
		buffer: buffer, ready: make(chan struct{}, 1), shown: map[string]map[string]map[string]any{},
		maxShown: maxShown, closed: make(chan struct{}), renewed: make(chan struct{}, 1)}
}

// snapshot returns the subscriber's identity for one batch; sub is filled
// per table by the caller.
func (s *subscriber) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snapshot{role: s.ident.Role, claims: s.claims, key: s.key, kid: s.kid, uid: s.uid, pos: s.pos}
}

// snapshotFor is snapshot for one table (ok false when not subscribed).
func (s *subscriber) snapshotFor(table string) (snapshot, bool) {
	sub, ok := s.tables[table]
	if !ok {
		return snapshot{}, false
	}
	sn := s.snapshot()
	sn.sub = sub
	return sn, true
}

func (s *subscriber) position() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

func (s *subscriber) advance(id int64) {
	s.mu.Lock()
	if id > s.pos {
		s.pos = id
	}
	s.mu.Unlock()
}

func (s *subscriber) identity() identity.Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ident
}

// renew replaces the identity after a token handover (ids numbers the new
// claims in place of the old).
func (s *subscriber) renew(id identity.Identity, claims string, ids *claimIDs) {
	key := claimsKey(id.Role, claims)
	kid := ids.acquire(key)
	s.mu.Lock()
	oldKey := s.key
	s.ident, s.claims, s.key, s.kid, s.uid = id, claims, key, kid, uidOf(id)
	s.mu.Unlock()
	ids.release(oldKey)
	select {
	case s.renewed <- struct{}{}:
	default:
	}
}

func (s *subscriber) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// fail ends the stream with a reason (first reason wins).
func (s *subscriber) fail(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		s.reason = reason
		close(s.closed)
	}
}

func (s *subscriber) closeReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// send queues a frame; a full buffer disconnects the client (it resumes
// with Last-Event-ID) rather than silently dropping the event. With signal
// the stream's goroutine is woken to write it; without, a round's writer
// will (see Service.writeRound).
func (s *subscriber) send(f frame, signal bool) {
	if s.isClosed() {
		return
	}
	s.qmu.Lock()
	if len(s.queue) >= s.buffer {
		s.qmu.Unlock()
		s.fail(closeSlow)
		return
	}
	s.queue = append(s.queue, f)
	s.qmu.Unlock()
	if f.id > 0 {
		s.advance(f.id)
	}
	if signal {
		s.signal()
	}
}

// signal wakes the stream's goroutine to write what is queued.
func (s *subscriber) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// take returns the queued frames, oldest first, and empties the queue
// (reusing spare, the slice an earlier take returned, as its next store).
func (s *subscriber) take(spare []frame) []frame {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	fs := s.queue
	clear(spare)
	s.queue = spare[:0]
	return fs
}

// queueEncoded queues an event already encoded as JSON (shared,
// read-only) for the round's writer (see Service.writeRound): the stream's
// goroutine is not woken.
func (s *subscriber) queueEncoded(id int64, b []byte) {
	s.send(frame{id: id, data: b}, false)
}

// sendLeave tells the client a row it was shown is no longer visible. It
// carries no id: it does not move the resume position. With signal false
// it is queued for the round's writer.
func (s *subscriber) sendLeave(table string, pk map[string]any, signal bool) {
	b, _ := json.Marshal(Message{Table: table, Op: "leave", PK: pk, Record: pk})
	s.send(frame{data: b}, signal)
}

func (s *subscriber) markShown(table, key string, pk map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.shown[table]
	if m == nil {
		m = map[string]map[string]any{}
		s.shown[table] = m
	}
	if _, ok := m[key]; ok {
		return
	}
	if s.nShown >= s.maxShown {
		return // bounded: rows beyond the bound get no leave
	}
	m[key] = pk
	s.nShown++
}

func (s *subscriber) unmarkShown(table, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.shown[table]; m != nil {
		if _, ok := m[key]; ok {
			delete(m, key)
			s.nShown--
		}
	}
}

func (s *subscriber) wasShown(table, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.shown[table][key]
	return ok
}

// shownAny reports whether any of the rows keys of table was shown (and
// not left since).
func (s *subscriber) shownAny(table string, keys []string) bool {
	if len(keys) == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.shown[table]
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// shownIn copies the keys shown in one table.
func (s *subscriber) shownIn(table string) map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.shown[table]
	c := make(map[string]map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// uidOf is what auth.uid() returns for these claims: sub when it is a
// uuid, else null. The set-based check takes it precomputed; the
// differential test proves it agrees with auth.uid().
func uidOf(id identity.Identity) *string {
	sub, ok := id.Claims["sub"].(string)
	if !ok || !identity.IsUUID(sub) {
		return nil
	}
	return &sub
}

// encode renders a frame in the SSE wire format.
func (f frame) encode() []byte {
	if f.comment != "" {
		return []byte(": " + f.comment + "\n\n")
	}
	var b []byte
	if f.id > 0 {
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, f.id, 10)
		b = append(b, '\n')
	}
	if f.event != "" {
		b = append(b, "event: "...)
		b = append(b, f.event...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = append(b, f.data...)
	b = append(b, "\n\n"...)
	return b
}

// claimIDs numbers the distinct (role, claims) keys of registered
// subscribers, so that a check round keys its maps by a small integer
// instead of hashing every subscriber's ~300-byte claims several times.
// Numbers are never reused, so two different keys never share one.
type claimIDs struct {
	mu    sync.Mutex
	byKey map[string]*claimID
	next  int64
}

type claimID struct {
	id   int64
	refs int
}

func (c *claimIDs) acquire(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*claimID{}
	}
	e := c.byKey[key]
	if e == nil {
		c.next++
		e = &claimID{id: c.next}
		c.byKey[key] = e
	}
	e.refs++
	return e.id
}

func (c *claimIDs) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[key]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(c.byKey, key)
		}
	}
}
