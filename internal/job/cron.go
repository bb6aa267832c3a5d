package job

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed schedule expression: five fields (minute hour
// day-of-month month day-of-week), six with a leading seconds field, a
// macro (@yearly, @monthly, @weekly, @daily, @midnight, @hourly), or
// "@every <duration>". It is small enough to own rather than take a
// dependency for (the reference design's gronx fired schedules in UTC only).
type Cron struct {
	expr string
	// every > 0: fire at every multiple of it since the Unix epoch.
	every time.Duration
	sec   uint64 // bits 0..59
	min   uint64 // bits 0..59
	hour  uint64 // bits 0..23
	dom   uint64 // bits 1..31
	month uint64 // bits 1..12
	dow   uint64 // bits 0..6 (Sunday = 0)
	// domStar / dowStar: the field was "*" (Vixie cron: when both are
	// restricted, a day matches if either matches).
	domStar, dowStar bool
}

func (c *Cron) String() string { return c.expr }

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
var dayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// ParseCron parses a schedule expression.
func ParseCron(expr string) (*Cron, error) {
	e := strings.TrimSpace(expr)
	c := &Cron{expr: e}
	if strings.HasPrefix(e, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(e, "@every ")))
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("invalid cron expression %q: @every takes a duration of at least 1s, such as 30s or 5m", expr)
		}
		c.every = d
		return c, nil
	}
	if m, ok := macros[strings.ToLower(e)]; ok {
		e = m
	}
	f := strings.Fields(e)
	switch len(f) {
	case 5:
		f = append([]string{"0"}, f...)
	case 6:
	default:
		return nil, fmt.Errorf("invalid cron expression %q: want 5 fields (minute hour day month weekday), 6 with seconds first, or @hourly/@daily/@every 30s", expr)
	}
	specs := []struct {
		name     string
		lo, hi   int
		names    map[string]int
		dst      *uint64
		starFlag *bool
	}{
		{"second", 0, 59, nil, &c.sec, nil},
		{"minute", 0, 59, nil, &c.min, nil},
		{"hour", 0, 23, nil, &c.hour, nil},
		{"day of month", 1, 31, nil, &c.dom, &c.domStar},
		{"month", 1, 12, monthNames, &c.month, nil},
		{"day of week", 0, 7, dayNames, &c.dow, &c.dowStar},
	}
	for i, s := range specs {
		bitsSet, star, err := parseField(f[i], s.lo, s.hi, s.names)
		if err != nil {
			return nil, fmt.Errorf("invalid cron expression %q: %s field: %w", expr, s.name, err)
		}
		*s.dst = bitsSet
		if s.starFlag != nil {
			*s.starFlag = star
		}
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday too
		c.dow = (c.dow | 1) &^ (1 << 7)
	}
	return c, nil
}

func parseField(s string, lo, hi int, names map[string]int) (uint64, bool, error) {
	var out uint64
	star := s == "*" || s == "?"
	for _, part := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > hi {
				return 0, false, fmt.Errorf("bad step %q", stepStr)
			}
			step = n
		}
		var a, b int
		switch {
		case rng == "*" || rng == "?":
			a, b = lo, hi
			if hi == 7 { // day of week: * is 0-6
				b = 6
			}
		default:
			x, y, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = fieldValue(x, lo, hi, names); err != nil {
				return 0, false, err
			}
			b = a
			if isRange {
				if b, err = fieldValue(y, lo, hi, names); err != nil {
					return 0, false, err
				}
				if b < a {
					return 0, false, fmt.Errorf("range %q runs backwards", rng)
				}
			} else if hasStep {
				b = hi
			}
		}
		for v := a; v <= b; v += step {
			out |= 1 << uint(v)
		}
	}
	if out == 0 {
		return 0, false, fmt.Errorf("empty field %q", s)
	}
	return out, star, nil
}

func fieldValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("value %d out of range %d-%d", n, lo, hi)
	}
	return n, nil
}

func (c *Cron) dayMatches(t time.Time) bool {
	if c.month&(1<<uint(t.Month())) == 0 {
		return false
	}
	domOK := c.dom&(1<<uint(t.Day())) != 0
	dowOK := c.dow&(1<<uint(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// Next returns the first fire time strictly after t, in loc. Fields are
// matched against the wall clock in loc, walking forward through wall-clock
// times, so each wall-clock fire time fires once:
//   - a time skipped by a spring-forward gap fires at the instant Go maps it
//     to (02:30 in a 02:00->03:00 gap fires at 03:30 summer time), so no day
//     is skipped;
//   - a time that occurs twice at fall-back fires at its first occurrence
//     only, because the walk continues from the wall clock of the last fire.
//
// It returns the zero time if nothing matches within five years.
func (c *Cron) Next(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if c.every > 0 {
		n := t.UnixNano() / int64(c.every)
		return time.Unix(0, (n+1)*int64(c.every)).In(loc)
	}
	lt := t.In(loc)
	// The wall clock of t, as a plain value to compare candidates against.
	wall := civil{lt.Year(), int(lt.Month()), lt.Day(), lt.Hour(), lt.Minute(), lt.Second()}
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 12, 0, 0, 0, time.UTC) // noon UTC: safe date stepping
	for i := 0; i < 366*5; i, day = i+1, day.AddDate(0, 0, 1) {
		if !c.dayMatches(day) {
			continue
		}
		for h := range bitsOf(c.hour) {
			for m := range bitsOf(c.min) {
				for s := range bitsOf(c.sec) {
					cand := civil{day.Year(), int(day.Month()), day.Day(), h, m, s}
					if !cand.after(wall) {
						continue
					}
					at := time.Date(cand.y, time.Month(cand.mo), cand.d, h, m, s, 0, loc)
					if !at.After(t) {
						// The first occurrence of a repeated wall-clock time
						// lies before t: it has fired already.
						continue
					}
					return at
				}
			}
		}
	}
	return time.Time{}
}

type civil struct{ y, mo, d, h, mi, s int }

func (a civil) after(b civil) bool {
	x := [6]int{a.y, a.mo, a.d, a.h, a.mi, a.s}
	y := [6]int{b.y, b.mo, b.d, b.h, b.mi, b.s}
	for i := range x {
		if x[i] != y[i] {
			return x[i] > y[i]
		}
	}
	return false
}

// bitsOf yields the set bits of m in increasing order.
func bitsOf(m uint64) func(func(int) bool) {
	return func(yield func(int) bool) {
		for m != 0 {
			b := bits.TrailingZeros64(m)
			if !yield(b) {
				return
			}
			m &^= 1 << uint(b)
		}
	}
}
