package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/job"
	"github.com/aybhq/ayb/internal/matview"
)

func init() {
	Register(&Command{Name: "jobs", Summary: "jobs list|get|cancel|retry|enqueue|stats [--json]: the job queue", Run: runJobs})
	Register(&Command{Name: "schedules", Summary: "schedules list|get|create|update|delete|enable|disable|run [--json]: cron schedules", Run: runSchedules})
	Register(&Command{Name: "matviews", Summary: "matviews list|get|register|update|unregister|refresh|history [--json]: materialized view refresh", Run: runMatviews})
}

// adminCall parses the flags, connects as admin (like psql) and runs fn in
// one transaction; it prints fn's result as JSON with --json, else through
// table.
type adminCall struct {
	cf     *commonFlags
	asJSON *bool
}

func newAdminCall(name string) *adminCall {
	cf := newFlags(name)
	return &adminCall{cf: cf, asJSON: cf.fs.Bool("json", false, "print JSON")}
}

func (a *adminCall) run(ctx context.Context, w io.Writer, fn func(tx pgx.Tx) (any, error), table func(v any) ([]string, [][]string)) error {
	cfg, err := a.cf.load()
	if err != nil {
		return err
	}
	rt, err := Connect(ctx, cfg, true, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	conn, err := pgx.Connect(ctx, rt.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var v any
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	if err != nil {
		return err
	}
	if *a.asJSON || table == nil {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	head, rows := table(v)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func ts(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func str(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func needArgs(pos []string, n int, usage string) error {
	if len(pos) < n {
		return errors.New("usage: " + usage)
	}
	return nil
}

func jobRows(v any) ([]string, [][]string) {
	var list []job.Record
	switch x := v.(type) {
	case []job.Record:
		list = x
	case *job.Record:
		list = []job.Record{*x}
	}
	var rows [][]string
	for _, j := range list {
		rows = append(rows, []string{strconv.FormatInt(j.ID, 10), j.Queue, j.Kind, j.State,
			fmt.Sprintf("%d/%d", j.Attempt, j.MaxAttempts), strconv.Itoa(int(j.Priority)), ts(&j.ScheduledAt), ts(j.FinalizedAt)})
	}
	return []string{"ID", "QUEUE", "KIND", "STATE", "ATTEMPT", "PRIO", "SCHEDULED", "FINALIZED"}, rows
}

func runJobs(ctx context.Context, args []string, w io.Writer) error {
	const usage = "ayb jobs list [--state s --queue q --kind k --limit n] | get ID | cancel ID | retry ID | enqueue KIND [--args JSON --queue q --priority n --delay 30s --max-attempts n --unique-key k] | stats"
	a := newAdminCall("jobs")
	state := a.cf.fs.String("state", "", "list: only this state")
	queue := a.cf.fs.String("queue", "", "list: only this queue; enqueue: the queue")
	kind := a.cf.fs.String("kind", "", "list: only this kind")
	limit := a.cf.fs.Int("limit", 50, "list: how many")
	jargs := a.cf.fs.String("args", "{}", "enqueue: JSON args")
	prio := a.cf.fs.Int("priority", 0, "enqueue: 0 (first) to 9")
	delay := a.cf.fs.String("delay", "", "enqueue: run after this duration")
	maxAtt := a.cf.fs.Int("max-attempts", 0, "enqueue: attempts before discard (default 20)")
	ukey := a.cf.fs.String("unique-key", "", "enqueue: skip if a job with this key is waiting")
	pos, err := positional(a.cf.fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(pos, 1, usage); err != nil {
		return err
	}
	id := func() (int64, error) {
		if err := needArgs(pos, 2, usage); err != nil {
			return 0, err
		}
		n, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("job id must be an integer, got %q", pos[1])
		}
		return n, nil
	}
	switch pos[0] {
	case "list":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) {
			return job.List(ctx, tx, job.Filter{State: *state, Queue: *queue, Kind: *kind, Limit: *limit})
		}, jobRows)
	case "get", "cancel", "retry":
		n, err := id()
		if err != nil {
			return err
		}
		fn := map[string]func(context.Context, job.Querier, int64) (*job.Record, error){"get": job.Get, "cancel": job.Cancel, "retry": job.Retry}[pos[0]]
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return fn(ctx, tx, n) }, jobRows)
	case "enqueue":
		if err := needArgs(pos, 2, usage); err != nil {
			return err
		}
		p := job.EnqueueParams{Kind: pos[1], Args: json.RawMessage(*jargs), Queue: *queue, Priority: *prio,
			Delay: *delay, MaxAttempts: *maxAtt, UniqueKey: *ukey}
		if err := job.ValidateEnqueue(p); err != nil {
			return err
		}
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) {
			res, err := job.Enqueue(ctx, tx, []job.EnqueueParams{p})
			if err != nil {
				return nil, err
			}
			return res[0], nil
		}, func(v any) ([]string, [][]string) {
			e := v.(job.Enqueued)
			return []string{"ID", "DUPLICATE"}, [][]string{{strconv.FormatInt(e.ID, 10), strconv.FormatBool(e.Duplicate)}}
		})
	case "stats":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return job.Stats(ctx, tx) }, func(v any) ([]string, [][]string) {
			head := append([]string{"QUEUE"}, upper(job.States)...)
			var rows [][]string
			for _, q := range v.([]job.QueueStats) {
				r := []string{q.Queue}
				for _, st := range job.States {
					r = append(r, strconv.FormatInt(q.States[st], 10))
				}
				rows = append(rows, r)
			}
			return head, rows
		})
	}
	return errors.New("usage: " + usage)
}

func upper(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToUpper(x)
	}
	return out
}

func scheduleRows(v any) ([]string, [][]string) {
	var list []job.Schedule
	switch x := v.(type) {
	case []job.Schedule:
		list = x
	case *job.Schedule:
		list = []job.Schedule{*x}
	}
	var rows [][]string
	for _, s := range list {
		rows = append(rows, []string{s.Name, s.Cron, s.Timezone, s.Kind, strconv.FormatBool(s.Enabled), ts(s.NextRunAt), ts(s.LastEnqueuedAt), str(s.LastError)})
	}
	return []string{"NAME", "CRON", "TIMEZONE", "KIND", "ENABLED", "NEXT RUN", "LAST ENQUEUED", "ERROR"}, rows
}

func runSchedules(ctx context.Context, args []string, w io.Writer) error {
	const usage = "ayb schedules list | get NAME | create NAME --cron EXPR --kind KIND [--args JSON --timezone TZ --queue q --disabled --no-catch-up] | update NAME ... | delete NAME | enable NAME | disable NAME | run NAME"
	a := newAdminCall("schedules")
	cron := a.cf.fs.String("cron", "", "cron expression: 5 fields, 6 with seconds, @hourly, @every 30s")
	kind := a.cf.fs.String("kind", "", "job kind")
	jargs := a.cf.fs.String("args", "{}", "JSON args of each job")
	tz := a.cf.fs.String("timezone", "UTC", "IANA time zone")
	queue := a.cf.fs.String("queue", "default", "queue")
	disabled := a.cf.fs.Bool("disabled", false, "create disabled")
	noCatchUp := a.cf.fs.Bool("no-catch-up", false, "skip fire times missed while down instead of one catch-up run")
	pos, err := positional(a.cf.fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(pos, 1, usage); err != nil {
		return err
	}
	if pos[0] == "list" {
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return job.ListSchedules(ctx, tx, "") }, scheduleRows)
	}
	if err := needArgs(pos, 2, usage); err != nil {
		return err
	}
	name := pos[1]
	switch pos[0] {
	case "get":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return job.GetSchedule(ctx, tx, name) }, scheduleRows)
	case "create", "update":
		enabled, catchUp := !*disabled, !*noCatchUp
		p := job.ScheduleParams{Name: name, Cron: *cron, Kind: *kind, Args: json.RawMessage(*jargs), Timezone: *tz,
			Queue: *queue, Enabled: &enabled, CatchUp: &catchUp}
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) {
			existing, err := job.ListSchedules(ctx, tx, name)
			if err != nil {
				return nil, err
			}
			if pos[0] == "create" && len(existing) > 0 {
				return nil, fmt.Errorf("schedule %s already exists (use update)", name)
			}
			if pos[0] == "update" {
				if len(existing) == 0 {
					return nil, fmt.Errorf("schedule %s not found", name)
				}
				if p.Cron == "" {
					p.Cron = existing[0].Cron
				}
				if p.Kind == "" {
					p.Kind = existing[0].Kind
				}
			}
			return job.UpsertSchedule(ctx, tx, p)
		}, scheduleRows)
	case "delete":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) {
			return map[string]string{"deleted": name}, job.DeleteSchedule(ctx, tx, name)
		}, nil)
	case "enable", "disable":
		on := pos[0] == "enable"
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return job.SetScheduleEnabled(ctx, tx, name, on) }, scheduleRows)
	case "run":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) {
			id, err := job.RunScheduleNow(ctx, tx, name)
			return map[string]int64{"job_id": id}, err
		}, nil)
	}
	return errors.New("usage: " + usage)
}

func matviewRows(v any) ([]string, [][]string) {
	var list []matview.Matview
	switch x := v.(type) {
	case []matview.Matview:
		list = x
	case *matview.Matview:
		list = []matview.Matview{*x}
	}
	var rows [][]string
	for _, m := range list {
		dur := "-"
		if m.LastDurationMS != nil {
			dur = fmt.Sprintf("%.0fms", *m.LastDurationMS)
		}
		rows = append(rows, []string{m.View, m.Mode, str(m.Schedule), strconv.FormatBool(m.RefreshOnChange), ts(m.LastRefreshAt), dur, str(m.LastStatus), str(m.LastError)})
	}
	return []string{"VIEW", "MODE", "SCHEDULE", "ON CHANGE", "LAST REFRESH", "DURATION", "STATUS", "ERROR"}, rows
}

func refreshRows(v any) ([]string, [][]string) {
	var list []matview.Refresh
	switch x := v.(type) {
	case []matview.Refresh:
		list = x
	case *matview.Refresh:
		list = []matview.Refresh{*x}
	}
	var rows [][]string
	for _, h := range list {
		rows = append(rows, []string{strconv.FormatInt(h.ID, 10), ts(&h.StartedAt), fmt.Sprintf("%.0fms", h.DurationMS), h.Status, h.TriggeredBy, str(h.Error)})
	}
	return []string{"ID", "STARTED", "DURATION", "STATUS", "TRIGGERED BY", "ERROR"}, rows
}

func runMatviews(ctx context.Context, args []string, w io.Writer) error {
	const usage = "ayb matviews list | get VIEW | register VIEW [--mode standard|concurrent --schedule CRON --timezone TZ --on-change --debounce 2s] | update VIEW [...] | unregister VIEW | refresh VIEW | history VIEW"
	a := newAdminCall("matviews")
	var p matview.Params
	a.cf.fs.Func("mode", "standard or concurrent", func(s string) error { p.Mode = &s; return nil })
	a.cf.fs.Func("schedule", "cron expression ('' removes it on update)", func(s string) error { p.Schedule = &s; return nil })
	a.cf.fs.Func("timezone", "IANA time zone of the schedule", func(s string) error { p.Timezone = &s; return nil })
	a.cf.fs.Func("debounce", "delay after a change before refreshing, e.g. 2s", func(s string) error { p.Debounce = &s; return nil })
	a.cf.fs.BoolFunc("on-change", "refresh after the source tables change", func(s string) error {
		b, err := strconv.ParseBool(s)
		p.RefreshOnChange = &b
		return err
	})
	pos, err := positional(a.cf.fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(pos, 1, usage); err != nil {
		return err
	}
	if pos[0] == "list" {
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return matview.List(ctx, tx) }, matviewRows)
	}
	if err := needArgs(pos, 2, usage); err != nil {
		return err
	}
	p.View = pos[1]
	switch pos[0] {
	case "get":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return matview.Get(ctx, tx, p.View) }, matviewRows)
	case "register":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return matview.Register(ctx, tx, p) }, matviewRows)
	case "update":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return matview.Update(ctx, tx, p) }, matviewRows)
	case "unregister":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) {
			return map[string]string{"unregistered": p.View}, matview.Unregister(ctx, tx, p.View)
		}, nil)
	case "history":
		return a.run(ctx, w, func(tx pgx.Tx) (any, error) { return matview.History(ctx, tx, p.View, 50) }, refreshRows)
	case "refresh":
		cfg, err := a.cf.load()
		if err != nil {
			return err
		}
		rt, err := Connect(ctx, cfg, true, nil)
		if err != nil {
			return err
		}
		defer rt.Close()
		h, err := matview.RefreshNow(context.WithoutCancel(ctx), rt.DB, p.View, "cli")
		if err != nil {
			return err
		}
		if *a.asJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(h)
		}
		head, rows := refreshRows(h)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
	return errors.New("usage: " + usage)
}
