package realtime

import (
	"errors"
	"sort"
)

// readerGroups is what a visibility check sends for one table: its
// readers' distinct claims sets by role, with their numbers and auth.uid()
// values, and the distinct filters.
type readerGroups struct {
	roles   []string // sorted
	byRole  map[string]*roleGroup
	filters map[string]*subscription // filter key -> one subscription using it
}

type roleGroup struct {
	claims []string
	kids   []int64
	uids   string // uuid[] literal of the claims sets' auth.uid() (uuidArray)
}

// groupReaders groups readers for judge: each distinct claims set once.
func groupReaders(readers []snapshot) (*readerGroups, error) {
	g := &readerGroups{byRole: map[string]*roleGroup{}, filters: map[string]*subscription{}}
	uids := map[string][]*string{}
	seen := map[int64]bool{}
	for _, r := range readers {
		if r.kid == 0 {
			// Every reader is registered, and registering numbers its
			// claims; an unnumbered one would share verdicts with others.
			return nil, errors.New("realtime: subscriber without a claims number")
		}
		if r.sub.filterKey != "" {
			g.filters[r.sub.filterKey] = r.sub
		}
		if seen[r.kid] {
			continue
		}
		seen[r.kid] = true
		rg := g.byRole[r.role]
		if rg == nil {
			rg = &roleGroup{}
			g.byRole[r.role] = rg
			g.roles = append(g.roles, r.role)
		}
		rg.claims = append(rg.claims, r.claims)
		rg.kids = append(rg.kids, r.kid)
		uids[r.role] = append(uids[r.role], r.uid)
	}
	sort.Strings(g.roles)
	for role, rg := range g.byRole {
		rg.uids = uuidArray(uids[role])
	}
	return g, nil
}

// readerPlan is a round's live subscribers and, per table, its readers
// grouped for the check. Building it visits every subscriber, so the hub
// keeps it across rounds while no subscriber registers, leaves, goes live
// or changes identity (Service.readersGen): a round's work in the server
// then follows the readers of its rows, not the number of subscribers.
type readerPlan struct {
	gen    uint64
	subs   []*subscriber
	tables map[string]*tableReaders
}

// tableReaders is one table's readers in a plan: readers[j] is
// subs[readerSub[j]] with that table's subscription. The snapshots' pos is
// not kept (it moves every round): deliver reads it for the readers it
// visits.
type tableReaders struct {
	readers   []snapshot
	readerSub []int
	groups    *readerGroups
	err       error
}

func newReaderPlan(gen uint64, subs []*subscriber) *readerPlan {
	return &readerPlan{gen: gen, subs: subs, tables: map[string]*tableReaders{}}
}

// forTable returns the table's readers, built on first use.
func (p *readerPlan) forTable(t string) *tableReaders {
	if tr, ok := p.tables[t]; ok {
		return tr
	}
	tr := &tableReaders{}
	for i, sub := range p.subs {
		if ts, ok := sub.tables[t]; ok {
			sn := sub.snapshot()
			sn.sub = ts
			tr.readers = append(tr.readers, sn)
			tr.readerSub = append(tr.readerSub, i)
		}
	}
	if len(tr.readers) > 0 {
		tr.groups, tr.err = groupReaders(tr.readers)
	}
	p.tables[t] = tr
	return tr
}

// readersChanged tells the hub that its reader plan must be rebuilt.
func (s *Service) readersChanged() { s.readersGen.Add(1) }

// livePlan returns the plan for the live subscribers, rebuilt only when
// readersGen moved (or unregister dropped it). Called with s.mu held, from
// the hub's goroutine only.
func (s *Service) livePlan() *readerPlan {
	gen := s.readersGen.Load()
	if s.plan != nil && s.plan.gen == gen {
		return s.plan
	}
	live := make([]*subscriber, 0, len(s.subs))
	for _, sub := range s.subs {
		if sub.live {
			live = append(live, sub)
		}
	}
	s.plan = newReaderPlan(gen, live)
	return s.plan
}
