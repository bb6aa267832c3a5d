package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/aybhq/ayb/internal/apikey"
	"github.com/aybhq/ayb/internal/app"
	"github.com/aybhq/ayb/internal/ratelimit"
)

func init() {
	Register(&Command{Name: "apps", Summary: "apps create|list|update|delete|usage: client apps and their rate limits", Run: runApps})
	Register(&Command{Name: "apikeys", Summary: "apikeys create|list|update|revoke|rotate: API keys", Run: runAPIKeys})
}

// connectAdmin opens the database for an admin command (the same SQL API
// the admin HTTP API calls; the actor recorded is null: the host's admin).
func connectAdmin(ctx context.Context, cf *commonFlags) (*Runtime, error) {
	cfg, err := cf.load()
	if err != nil {
		return nil, err
	}
	return Connect(ctx, cfg, true, nil)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseLimit reads "100/1m" (requests per window) or "none".
func parseLimit(s string, burst int) (*ratelimit.Spec, bool, error) {
	if s == "" {
		return nil, false, nil
	}
	if s == "none" || s == "unlimited" {
		return nil, true, nil
	}
	n, w, ok := strings.Cut(s, "/")
	req, err := strconv.Atoi(n)
	if !ok || err != nil || req < 1 {
		return nil, false, fmt.Errorf("--limit %q: want REQUESTS/WINDOW, e.g. 100/1m", s)
	}
	win, err := time.ParseDuration(w)
	if err != nil {
		return nil, false, fmt.Errorf("--limit %q: window: %v", s, err)
	}
	sp := &ratelimit.Spec{Requests: req, WindowSeconds: win.Seconds()}
	if burst > 0 {
		sp.Burst = &burst
	}
	return sp, false, nil
}

func limitString(s *ratelimit.Spec) string {
	if s == nil {
		return "unlimited"
	}
	out := strconv.Itoa(s.Requests) + "/" + (time.Duration(s.WindowSeconds * float64(time.Second))).String()
	if s.Burst != nil {
		out += " burst " + strconv.Itoa(*s.Burst)
	}
	return out
}

func parseUUIDArg(what, s string) (uuid.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("%s %q is not a uuid", what, s)
	}
	return u, nil
}

func runApps(ctx context.Context, args []string, stdout io.Writer) error {
	usage := errors.New("usage: ayb apps create <name> [--description D] [--owner USER_ID] [--limit 100/1m] [--burst N]\n" +
		"       ayb apps list [--all]\n" +
		"       ayb apps update <id> [--name N] [--description D] [--owner USER_ID|none] [--limit 100/1m|none] [--burst N]\n" +
		"       ayb apps delete <id>    (revokes the app's keys)\n" +
		"       ayb apps usage <id> [--since 24h|RFC3339]\n" +
		"every subcommand takes --json")
	if len(args) == 0 {
		return usage
	}
	sub := args[0]
	cf := newFlags("apps " + sub)
	asJSON := cf.fs.Bool("json", false, "print JSON")
	name := cf.fs.String("name", "", "new name (update)")
	desc := cf.fs.String("description", "", "description")
	owner := cf.fs.String("owner", "", "owner user id (update: none clears)")
	limit := cf.fs.String("limit", "", "rate limit REQUESTS/WINDOW, e.g. 100/1m (update: none = unlimited)")
	burst := cf.fs.Int("burst", 0, "largest burst (default: the requests of --limit)")
	all := cf.fs.Bool("all", false, "list deleted apps too")
	since := cf.fs.String("since", "24h", "usage since (a duration ago, or RFC 3339)")
	pos, err := positional(cf.fs, args[1:])
	if err != nil {
		return err
	}
	spec, clearLimit, err := parseLimit(*limit, *burst)
	if err != nil {
		return err
	}
	var ownerID *uuid.UUID
	clearOwner := *owner == "none"
	if *owner != "" && !clearOwner {
		u, err := parseUUIDArg("--owner", *owner)
		if err != nil {
			return err
		}
		ownerID = &u
	}
	needID := func() (uuid.UUID, error) {
		if len(pos) != 1 {
			return uuid.UUID{}, usage
		}
		return parseUUIDArg("app id", pos[0])
	}
	switch sub {
	case "create", "list", "update", "delete", "usage":
	default:
		return usage
	}
	rt, err := connectAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer rt.Close()
	svc := app.New(rt.DB)
	show := func(a app.App, err error) error {
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, a)
		}
		return printApps(stdout, []app.App{a})
	}
	switch sub {
	case "create":
		if len(pos) != 1 {
			return usage
		}
		return show(svc.Create(ctx, app.CreateParams{Name: pos[0], Description: *desc, OwnerID: ownerID, RateLimit: spec}, nil))
	case "list":
		as, err := svc.List(ctx, *all)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, as)
		}
		return printApps(stdout, as)
	case "update":
		id, err := needID()
		if err != nil {
			return err
		}
		p := app.UpdateParams{OwnerID: ownerID, ClearOwner: clearOwner, RateLimit: spec, ClearRateLimit: clearLimit}
		if *name != "" {
			p.Name = name
		}
		cf.fs.Visit(func(f *flag.Flag) {
			if f.Name == "description" {
				p.Description = desc
			}
		})
		return show(svc.Update(ctx, id, p))
	case "delete":
		id, err := needID()
		if err != nil {
			return err
		}
		return show(svc.Delete(ctx, id, nil))
	default: // usage
		id, err := needID()
		if err != nil {
			return err
		}
		from, err := parseSince(*since)
		if err != nil {
			return err
		}
		us, err := svc.Usage(ctx, id, from)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, us)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "window_start\twindow\trequests\trejected (429)")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", u.WindowStart.UTC().Format(time.RFC3339), time.Duration(u.WindowSeconds*float64(time.Second)), u.Requests, u.Rejected)
		}
		return tw.Flush()
	}
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration (24h) or an RFC 3339 time", s)
	}
	return t, nil
}

func uuidString(u *uuid.UUID) string {
	if u == nil {
		return "-"
	}
	return u.String()
}

func printApps(w io.Writer, as []app.App) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tname\towner\trate limit\tcreated\tdeleted")
	for _, a := range as {
		del := "-"
		if a.DeletedAt != nil {
			del = a.DeletedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Name, uuidString(a.OwnerID), limitString(a.RateLimit),
			a.CreatedAt.UTC().Format(time.RFC3339), del)
	}
	return tw.Flush()
}

func runAPIKeys(ctx context.Context, args []string, stdout io.Writer) error {
	usage := errors.New("usage: ayb apikeys create --name N (--user USER_ID | --service) [--scope read|write|full] [--app APP_ID]\n" +
		"                           [--tables a,b] [--functions f,g] [--expires 720h|RFC3339] [--limit 10/1s] [--burst N] [--realtime]\n" +
		"       ayb apikeys list [--user USER_ID] [--app APP_ID] [--active]\n" +
		"       ayb apikeys update <id> --realtime=true|false   (grant or withdraw realtime access)\n" +
		"       ayb apikeys revoke <id>\n" +
		"       ayb apikeys rotate <id> [--grace 24h]   (new key, same settings; the old one works for --grace more)\n" +
		"every subcommand takes --json")
	if len(args) == 0 {
		return usage
	}
	sub := args[0]
	cf := newFlags("apikeys " + sub)
	asJSON := cf.fs.Bool("json", false, "print JSON")
	name := cf.fs.String("name", "", "key name")
	user := cf.fs.String("user", "", "the user the key acts as")
	service := cf.fs.Bool("service", false, "a service key (acts as service_role)")
	scope := cf.fs.String("scope", "write", "read, write or full")
	appFlag := cf.fs.String("app", "", "app id")
	tables := cf.fs.String("tables", "", "comma-separated tables the key may touch (default: all)")
	functions := cf.fs.String("functions", "", "comma-separated RPC functions (with --tables: only these)")
	expires := cf.fs.String("expires", "", "expiry: a duration from now (720h) or an RFC 3339 time")
	limit := cf.fs.String("limit", "", "per-key rate limit REQUESTS/WINDOW, e.g. 10/1s")
	burst := cf.fs.Int("burst", 0, "largest burst of the per-key limit")
	active := cf.fs.Bool("active", false, "list only keys that are not revoked")
	grace := cf.fs.Duration("grace", 0, "rotate: how long the old key keeps working")
	realtimeFlag := cf.fs.Bool("realtime", false, "the key may open realtime (SSE) streams (default: it may not)")
	pos, err := positional(cf.fs, args[1:])
	if err != nil {
		return err
	}
	optUUID := func(what, s string) (*uuid.UUID, error) {
		if s == "" {
			return nil, nil
		}
		u, err := parseUUIDArg(what, s)
		return &u, err
	}
	userID, err := optUUID("--user", *user)
	if err != nil {
		return err
	}
	appID, err := optUUID("--app", *appFlag)
	if err != nil {
		return err
	}
	var p apikey.CreateParams
	switch sub {
	case "create":
		if *name == "" && len(pos) == 1 {
			*name = pos[0]
		}
		if *name == "" || (userID == nil) == !*service {
			return usage
		}
		spec, _, err := parseLimit(*limit, *burst)
		if err != nil {
			return err
		}
		p = apikey.CreateParams{Name: *name, UserID: userID, Scope: *scope, AppID: appID,
			AllowedTables: splitList(*tables), AllowedFunctions: splitList(*functions), RateLimit: spec,
			Realtime: *realtimeFlag}
		if *expires != "" {
			t, err := parseExpiry(*expires)
			if err != nil {
				return err
			}
			p.ExpiresAt = &t
		}
	case "list":
	case "revoke", "rotate":
		if len(pos) != 1 {
			return usage
		}
	case "update":
		realtimeSet := false
		cf.fs.Visit(func(f *flag.Flag) { realtimeSet = realtimeSet || f.Name == "realtime" })
		if len(pos) != 1 || !realtimeSet {
			return usage
		}
	default:
		return usage
	}
	rt, err := connectAdmin(ctx, cf)
	if err != nil {
		return err
	}
	defer rt.Close()
	svc := apikey.New(rt.DB, apikey.Options{})
	printCreated := func(c apikey.Created, err error) error {
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, c)
		}
		fmt.Fprintf(stdout, "%s\n\nThis is the only time the key is shown; store it now.\n\n", c.Key)
		return printKeys(stdout, []apikey.Info{c.APIKey})
	}
	switch sub {
	case "create":
		return printCreated(svc.Create(ctx, p, nil, nil))
	case "list":
		ks, err := svc.List(ctx, apikey.ListParams{UserID: userID, AppID: appID, IncludeRevoked: !*active})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, ks)
		}
		return printKeys(stdout, ks)
	case "revoke", "update":
		id, err := parseUUIDArg("key id", pos[0])
		if err != nil {
			return err
		}
		var k apikey.Info
		if sub == "revoke" {
			k, err = svc.Revoke(ctx, id, nil, nil)
		} else {
			k, err = svc.SetRealtime(ctx, id, *realtimeFlag, nil)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, k)
		}
		return printKeys(stdout, []apikey.Info{k})
	default: // rotate
		id, err := parseUUIDArg("key id", pos[0])
		if err != nil {
			return err
		}
		var g *time.Duration
		if *grace > 0 {
			g = grace
		}
		return printCreated(svc.Rotate(ctx, id, g, nil, nil))
	}
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

func parseExpiry(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: want a duration (720h) or an RFC 3339 time", s)
	}
	return t, nil
}

func printKeys(w io.Writer, ks []apikey.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tname\tprefix\tkind\tuser\tapp\tscope\ttables\trealtime\texpires\tlast used\tstatus")
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range ks {
		status := "active"
		if k.RevokedAt != nil {
			status = "revoked"
			if k.RevokedReason != nil {
				status += " (" + *k.RevokedReason + ")"
			}
		} else if k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()) {
			status = "expired"
		}
		tables := "all"
		if len(k.AllowedTables) > 0 {
			tables = strings.Join(k.AllowedTables, ",")
		}
		rt := "no"
		if k.Realtime {
			rt = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.KeyPrefix, k.Kind,
			uuidString(k.UserID), uuidString(k.AppID), k.Scope, tables, rt, ts(k.ExpiresAt), ts(k.LastUsedAt), status)
	}
	return tw.Flush()
}
