package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Message is one change event as clients receive it (the SSE data line).
type Message struct {
	ID          int64          `json:"id,omitempty"`
	Table       string         `json:"table"`
	Op          string         `json:"op"`
	PK          map[string]any `json:"pk"`
	Record      map[string]any `json:"record,omitempty"`
	OldRecord   map[string]any `json:"old_record,omitempty"`
	CommittedAt *time.Time     `json:"committed_at,omitempty"`
}

// verdicts holds, for one table of one batch, which images each claims set
// may see and which images each filter matches.
type verdicts struct {
	visible map[int64][]bool           // claims number (snapshot.kid) -> per image; absent: sees none
	match   map[string][]bool          // filter key -> per image ("" always matches)
	columns map[string]map[string]bool // role -> the table's columns it may select
}

func claimsKey(role, claims string) string { return role + "\n" + claims }

// view is one subscriber's verdicts for one table of a batch, looked up
// once per batch so the per-event loop allocates nothing for events the
// subscriber may not see.
type view struct {
	sn       snapshot
	vis      []bool
	match    []bool
	filtered bool
	cols     map[string]bool
}

func (w *view) sees(img int) bool {
	if img < 0 || w.vis == nil || !w.vis[img] {
		return false
	}
	if !w.filtered {
		return true
	}
	return w.match != nil && w.match[img]
}

func (v *verdicts) view(sn snapshot) *view {
	return &view{sn: sn, vis: v.visible[sn.kid],
		match: v.match[sn.sub.filterKey], filtered: sn.sub.filterKey != "",
		cols: v.columns[sn.role]}
}

// snapshot is a subscriber's identity and subscription for one table, read
// once per batch (a token handover may change it between batches).
type snapshot struct {
	role, claims string
	key          string // claimsKey(role, claims)
	kid          int64  // key's number (claimIDs): equal keys, equal numbers
	uid          *string
	sub          *subscription
	pos          int64
}

// deliver checks a batch of events (in id order) for the plan's
// subscribers and queues the visible ones, plus leave events, to each.
func (s *Service) deliver(ctx context.Context, evs []event, p *readerPlan) {
	subs := p.subs
	byTable := map[string][]int{}
	var tables []string
	for i, e := range evs {
		if _, ok := byTable[e.Table]; !ok {
			tables = append(tables, e.Table)
		}
		byTable[e.Table] = append(byTable[e.Table], i)
	}
	// image index per event: primary image (the new row, or the old one for
	// a delete) and, for an update, the old row.
	primary := make([]int, len(evs))
	old := make([]int, len(evs))
	keys := make([]string, len(evs))
	hits := map[int]map[string]*view{} // subs index -> table -> its view
	var order []int                    // the keys of hits
	pos := map[int]int64{}             // subs index -> its position, read once per round
	for _, t := range tables {
		var images [][]byte
		for _, i := range byTable[t] {
			e := evs[i]
			keys[i] = pkKey(e.PK)
			old[i] = -1
			if e.Op == "delete" {
				primary[i] = len(images)
				images = append(images, e.rawOld)
				continue
			}
			primary[i] = len(images)
			images = append(images, e.rawRecord)
			if e.Op == "update" {
				old[i] = len(images)
				images = append(images, e.rawOld)
			}
		}
		tr := p.forTable(t)
		readers, readerSub := tr.readers, tr.readerSub
		if len(readers) == 0 {
			continue
		}
		// Rows this batch may take out of a subscriber's view: the old key
		// of an update and the key of a delete (see emit).
		var leaveKeys []string
		for _, i := range byTable[t] {
			switch e := evs[i]; e.Op {
			case "update":
				leaveKeys = append(leaveKeys, pkKey(pickPK(e.OldRecord, readers[0].sub.pkCols)))
			case "delete":
				leaveKeys = append(leaveKeys, keys[i])
			}
		}
		var v *verdicts
		err := tr.err
		if err == nil {
			v, err = s.judge(ctx, t, images, tr.groups)
		}
		if err != nil {
			// Fail closed, lose nothing: nobody sees what could not be
			// checked, and its readers are disconnected with a resumable
			// reason, so they get these events on resume.
			slog.Error("realtime: visibility check failed; readers disconnected", "table", t, "err", err)
			for _, i := range readerSub {
				subs[i].fail(closeError)
			}
			continue
		}
		// A reader that sees none of the table's images and was shown none
		// of the rows the batch may hide gets nothing from it (no event, no
		// leave). With many subscribers and few readers per row that is
		// most of them, so only the others are visited below, and a round
		// costs per reader of its rows, not per subscriber.
		for j, sn := range readers {
			_, sees := v.visible[sn.kid]
			i := readerSub[j]
			if !sees && !subs[i].shownAny(sn.sub.table, leaveKeys) {
				continue
			}
			at, ok := pos[i]
			if !ok {
				at = subs[i].position()
				pos[i] = at
			}
			sn.pos = at
			h := hits[i]
			if h == nil {
				h = map[string]*view{}
				hits[i] = h
				order = append(order, i)
			}
			h[t] = v.view(sn)
		}
	}

	slices.Sort(order) // in the order of subs, as every subscriber was visited before
	encoded := map[encodedKey][]byte{}
	for n, i := range order {
		if n%64 == 63 {
			// Let request goroutines waiting for a CPU run: on a small
			// machine a round with thousands of receivers would otherwise
			// hold its P until preempted (10 ms), a REST tail.
			runtime.Gosched()
		}
		sub, views := subs[i], hits[i]
		for idx, e := range evs {
			w := views[e.Table]
			if w == nil || e.ID <= w.sn.pos {
				continue
			}
			s.emit(sub, w, e, idx, primary[idx], old[idx], keys[idx], encoded)
			if sub.isClosed() {
				break
			}
		}
	}
	written := make([]*subscriber, len(order))
	for n, i := range order {
		written[n] = subs[i]
	}
	s.writeRound(written)
	changed := make(map[string]bool, len(tables))
	for _, t := range tables {
		changed[t] = true
	}
	// A change in one table (e.g. a membership table) may hide rows of
	// another that subscribers were shown: re-check those rows.
	s.recheck(ctx, subs, changed)
}

// emit queues what one event means for one subscriber.
func (s *Service) emit(sub *subscriber, w *view, e event, idx, primary, old int, key string, enc map[encodedKey][]byte) {
	send := func(rec, oldRec map[string]any) {
		// Readers with the same role, table name and variant get the same
		// bytes: encode each once per round, not once per reader.
		k := encodedKey{idx: idx, name: w.sn.sub.name, role: w.sn.role, rec: rec != nil, old: oldRec != nil}
		b, ok := enc[k]
		if !ok {
			b, _ = json.Marshal(w.message(e, rec, oldRec))
			enc[k] = b
		}
		sub.queueEncoded(e.ID, b)
	}
	seesNew := w.sees(primary)
	switch e.Op {
	case "insert":
		if !seesNew {
			return
		}
		send(e.Record, nil)
		sub.markShown(w.sn.sub.table, key, e.PK)
	case "update":
		seesOld := w.sees(old)
		if seesNew {
			oldKey := key
			var oldRec map[string]any
			if seesOld {
				oldRec = e.OldRecord
			}
			oldPK := pickPK(e.OldRecord, w.sn.sub.pkCols)
			if oldKey = pkKey(oldPK); oldKey != key {
				sub.unmarkShown(w.sn.sub.table, oldKey)
			}
			send(e.Record, oldRec)
			sub.markShown(w.sn.sub.table, key, e.PK)
			return
		}
		oldPK := pickPK(e.OldRecord, w.sn.sub.pkCols)
		oldKey := pkKey(oldPK)
		if seesOld || sub.wasShown(w.sn.sub.table, oldKey) {
			sub.sendLeave(w.sn.sub.name, project(oldPK, w.cols), false)
			sub.unmarkShown(w.sn.sub.table, oldKey)
		}
	case "delete":
		if seesNew {
			send(nil, e.OldRecord)
		} else if sub.wasShown(w.sn.sub.table, key) {
			sub.sendLeave(w.sn.sub.name, project(e.PK, w.cols), false)
		}
		sub.unmarkShown(w.sn.sub.table, key)
	}
}

// encodedKey names one encoding of an event within a round: the columns
// depend on the role, the table name on how the client named it, and an
// update carries the old row only to readers who could see it.
type encodedKey struct {
	idx        int
	name, role string
	rec, old   bool
}

func (w *view) message(e event, rec, old map[string]any) Message {
	at := e.CreatedAt
	return Message{ID: e.ID, Table: w.sn.sub.name, Op: e.Op, PK: project(e.PK, w.cols),
		Record: project(rec, w.cols), OldRecord: project(old, w.cols), CommittedAt: &at}
}

// judge runs the filters and the visibility check for one table's images.
// Measured here (PG15, 2 shared cores, psql, membership policy, 1,000
// claims): ayb.realtime_check's claims loop costs ~27 us per (claims,
// image) pair with auth.uid() in the policy (its regex and auth.jwt() run
// per pair; ~1.8 us when the policy reads current_setting() directly); the
// set-based path runs 1,000 x 20 pairs in 13.5 ms, ~0.7 us per pair, as the
// planner hash-joins the row's team members with the subscribers. Walrus's
// one-statement-per-subscriber loop: ~14 us per check (perf.md 2.2).
// One round trip per distinct filter and per role; within a role, each
// distinct claims set is checked once (subscribers with identical claims
// share the answer).
func (s *Service) judge(ctx context.Context, table string, images [][]byte, g *readerGroups) (*verdicts, error) {
	start := time.Now()
	defer func() { s.judgeNanos.Add(int64(time.Since(start))); s.judgeCalls.Add(1) }()
	v := &verdicts{visible: map[int64][]bool{}, match: map[string][]bool{}, columns: map[string]map[string]bool{}}
	imgs := make([]string, len(images))
	for i, b := range images {
		imgs[i] = string(b)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()

	for key, sub := range g.filters {
		m, err := s.runFilter(ctx, conn.Conn(), table, sub.filter, imgs)
		if err != nil {
			return nil, err
		}
		v.match[key] = m
	}
	for _, role := range g.roles {
		rg := g.byRole[role]
		claims, keys := rg.claims, rg.kids
		// Claims travel only for policies that read them (see
		// claimsNeeded); a policy that does answers AYRCL, and the round
		// is sent again with them.
		need := table + "\n" + role
		withClaims := s.claimsNeeded(need)
		cols, vis, err := s.checkRole(ctx, conn.Conn(), table, role, claims, withClaims, imgs, rg.uids)
		if !withClaims && isClaimsNeeded(err) {
			s.needClaims.Store(need, time.Now())
			cols, vis, err = s.checkRole(ctx, conn.Conn(), table, role, claims, true, imgs, rg.uids)
		}
		if err != nil {
			return nil, err
		}
		cm := make(map[string]bool, len(cols))
		for _, c := range cols {
			cm[c] = true
		}
		v.columns[role] = cm
		for i, k := range keys {
			if vis[i] != nil {
				v.visible[k] = vis[i]
			}
		}
		s.checks.Add(int64(len(claims) * len(imgs)))
	}
	return v, nil
}

// checkRole runs one role's visibility check: the columns the role may
// select, and which images each claims set sees. Without claims (only the
// subscribers' auth.uid()), a policy that needs them answers AYRCL.
func (s *Service) checkRole(ctx context.Context, conn *pgx.Conn, table, role string, claims []string, withClaims bool,
	imgs []string, uids string) ([]string, [][]bool, error) {
	var claimsArg any
	if withClaims {
		claimsArg = claims
	}
	b := &pgx.Batch{}
	b.Queue(qColumns, table, role)
	b.Queue(qCheck, table, role, claimsArg, imgs, uids)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	var cols []string
	if err := br.QueryRow().Scan(&cols); err != nil {
		return nil, nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, nil, err
	}
	// Sparse: most claims sets see none of a batch's images, and stay nil.
	vis := make([][]bool, len(claims))
	var ci, ii int32
	_, err = pgx.ForEachRow(rows, []any{&ci, &ii}, func() error {
		if vis[ci-1] == nil {
			vis[ci-1] = make([]bool, len(imgs))
		}
		vis[ci-1][ii-1] = true
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return cols, vis, br.Close()
}

// uuidArray renders uids as a PostgreSQL array literal, sent as text: a
// round's 1,000 elements cost one string instead of 1,000 encoded values.
// Every non-nil element passed identity.IsUUID (uidOf), so none needs
// quoting.
func uuidArray(uids []*string) string {
	var b strings.Builder
	b.Grow(2 + 37*len(uids))
	b.WriteByte('{')
	for i, u := range uids {
		if i > 0 {
			b.WriteByte(',')
		}
		if u == nil {
			b.WriteString("NULL")
		} else {
			b.WriteString(*u)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// claimsNeededFor is how long a table and role whose policy read the claims
// keep getting them before a round tries without again (policies change).
const claimsNeededFor = 5 * time.Minute

func (s *Service) claimsNeeded(key string) bool {
	at, ok := s.needClaims.Load(key)
	return ok && time.Since(at.(time.Time)) < claimsNeededFor
}

func isClaimsNeeded(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "AYRCL"
}

func (s *Service) runFilter(ctx context.Context, conn *pgx.Conn, table string, f *CompiledFilter, imgs []string) ([]bool, error) {
	q := strings.NewReplacer("__TABLE__", table, "__ALIAS__", filterAlias, "__FILTER__", f.SQL).Replace(qFilterTemplate)
	args := append([]any{imgs}, f.Args...)
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	m := make([]bool, len(imgs))
	var i int32
	_, err = pgx.ForEachRow(rows, []any{&i}, func() error {
		m[i-1] = true
		return nil
	})
	return m, err
}

// filterAlias is the name compiled filters qualify columns with.
const filterAlias = "ayb_rt_row"

// recheck re-evaluates rows subscribers were shown in tables other than the
// ones that just changed, and sends leave for those they may no longer see.
func (s *Service) recheck(ctx context.Context, subs []*subscriber, changed map[string]bool) {
	type need struct {
		keys   map[string]map[string]any
		owners []snapshotOwner
	}
	s.mu.Lock()
	others := false
	for t := range s.subTables {
		if !changed[t] {
			others = true
			break
		}
	}
	s.mu.Unlock()
	if !others {
		return // every followed table changed: deliver judged its rows
	}
	needs := map[string]*need{}
	for _, sub := range subs {
		if sub.isClosed() {
			continue
		}
		for table := range sub.tables {
			other := false
			for t := range changed {
				if t != table {
					other = true
				}
			}
			if !other {
				continue
			}
			shown := sub.shownIn(table)
			if len(shown) == 0 {
				continue
			}
			n := needs[table]
			if n == nil {
				n = &need{keys: map[string]map[string]any{}}
				needs[table] = n
			}
			for k, pk := range shown {
				n.keys[k] = pk
			}
			n.owners = append(n.owners, snapshotOwner{sub: sub, shown: shown})
		}
	}
	for table, n := range needs {
		keys := make([]string, 0, len(n.keys))
		pks := make([]string, 0, len(n.keys))
		for k, pk := range n.keys {
			b, _ := json.Marshal(pk)
			keys = append(keys, k)
			pks = append(pks, string(b))
		}
		imgByKey, err := s.currentRows(ctx, table, keys, pks)
		if err != nil {
			slog.Error("realtime: re-read shown rows", "table", table, "err", err)
			continue
		}
		var images [][]byte
		imgIdx := map[string]int{}
		for k, b := range imgByKey {
			imgIdx[k] = len(images)
			images = append(images, b)
		}
		var readers []snapshot
		for _, o := range n.owners {
			if sn, ok := o.sub.snapshotFor(table); ok {
				sn.sub = &subscription{table: sn.sub.table, name: sn.sub.name, pkCols: sn.sub.pkCols}
				readers = append(readers, sn)
			}
		}
		v := &verdicts{}
		if len(images) > 0 && len(readers) > 0 {
			var g *readerGroups
			if g, err = groupReaders(readers); err == nil {
				v, err = s.judge(ctx, table, images, g)
			}
			if err != nil {
				slog.Error("realtime: re-check shown rows", "table", table, "err", err)
				continue
			}
		}
		for _, o := range n.owners {
			sn, ok := o.sub.snapshotFor(table)
			if !ok {
				continue
			}
			sn.sub = &subscription{table: sn.sub.table, name: sn.sub.name}
			cols := v.columns[sn.role]
			ks := make([]string, 0, len(o.shown))
			for k := range o.shown {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				i, ok := imgIdx[k]
				if !ok || !v.view(sn).sees(i) {
					o.sub.sendLeave(sn.sub.name, project(o.shown[k], cols), true)
					o.sub.unmarkShown(table, k)
				}
			}
		}
	}
}

type snapshotOwner struct {
	sub   *subscriber
	shown map[string]map[string]any
}

// currentRows re-reads rows by primary key as the server; missing rows are
// absent from the result.
func (s *Service) currentRows(ctx context.Context, table string, keys, pks []string) (map[string][]byte, error) {
	rows, err := s.pool.Query(ctx, qRows, table, pks)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	var i int32
	var rec []byte
	_, err = pgx.ForEachRow(rows, []any{&i, &rec}, func() error {
		out[keys[i-1]] = append([]byte(nil), rec...)
		return nil
	})
	return out, err
}

// project keeps the columns the role may select.
func project(m map[string]any, cols map[string]bool) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if cols[k] {
			out[k] = v
		}
	}
	return out
}

func pickPK(m map[string]any, cols []string) map[string]any {
	out := make(map[string]any, len(cols))
	for _, c := range cols {
		out[c] = m[c]
	}
	return out
}

// pkKey is a canonical string for a primary key (json.Marshal sorts keys).
func pkKey(pk map[string]any) string {
	b, _ := json.Marshal(pk)
	return string(b)
}
