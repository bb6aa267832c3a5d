package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/aybhq/ayb/internal/auth"
)

func init() {
	Register(&Command{Name: "admin", Summary: "admin create|login --email E [--password P]: admin users (role service_role)", Run: runAdmin})
	Register(&Command{Name: "users", Summary: "users list|create|delete|set-password|ban: manage accounts", Run: runUsers})
	Register(&Command{Name: "keys", Summary: "keys rotate: add a new token signing key and retire the current one", Run: runKeys})
}

// userFlags are the flags the account commands share.
type userFlags struct {
	*commonFlags
	email, password, search string
	admin, unban, asJSON    bool
	limit                   int
}

func newUserFlags(name string) *userFlags {
	f := &userFlags{commonFlags: newFlags(name)}
	f.fs.StringVar(&f.email, "email", "", "the account's email")
	f.fs.StringVar(&f.password, "password", "", "password (default: $AYB_PASSWORD, else one is generated and printed)")
	f.fs.StringVar(&f.search, "search", "", "list: only emails containing this")
	f.fs.IntVar(&f.limit, "limit", 100, "list: most rows")
	f.fs.BoolVar(&f.admin, "admin", false, "create: make an admin (sessions carry service_role)")
	f.fs.BoolVar(&f.unban, "unban", false, "ban: lift the ban instead")
	f.fs.BoolVar(&f.asJSON, "json", false, "print JSON")
	return f
}

// authService connects (migrating) and builds the auth service.
func (f *userFlags) authService(ctx context.Context) (*auth.Service, func(), error) {
	cfg, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	rt, err := Connect(ctx, cfg, true, nil)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.New(ctx, auth.Options{Config: cfg, DB: rt.DB})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	return svc, rt.Close, nil
}

func (f *userFlags) needEmail() error {
	if f.email == "" {
		return errors.New("--email is required")
	}
	return nil
}

// passwordOrGenerated returns --password, $AYB_PASSWORD, or a new random one
// (generated reports whether it was made here, to print it once).
func (f *userFlags) passwordOrGenerated() (pw string, generated bool) {
	if f.password != "" {
		return f.password, false
	}
	if p := os.Getenv("AYB_PASSWORD"); p != "" {
		return p, false
	}
	return auth.GeneratePassword(), true
}

func runAdmin(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: ayb admin create|login --email E [--password P]")
	}
	f := newUserFlags("admin " + args[0])
	if _, err := positional(f.fs, args[1:]); err != nil {
		return err
	}
	if err := f.needEmail(); err != nil {
		return err
	}
	switch args[0] {
	case "create":
		f.admin = true
		return createUser(ctx, f, stdout)
	case "login":
		if f.password == "" && os.Getenv("AYB_PASSWORD") == "" {
			return errors.New("--password (or $AYB_PASSWORD) is required")
		}
		pw, _ := f.passwordOrGenerated()
		svc, done, err := f.authService(ctx)
		if err != nil {
			return err
		}
		defer done()
		t, err := svc.AdminLogin(ctx, f.email, pw)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	}
	return fmt.Errorf("ayb admin: unknown subcommand %q (want create or login)", args[0])
}

func createUser(ctx context.Context, f *userFlags, stdout io.Writer) error {
	pw, generated := f.passwordOrGenerated()
	svc, done, err := f.authService(ctx)
	if err != nil {
		return err
	}
	defer done()
	u, err := svc.CreateUser(ctx, f.email, pw, f.admin)
	if err != nil {
		return err
	}
	kind := "user"
	if u.IsAdmin {
		kind = "admin user"
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", kind, u.Email, u.ID)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n(shown once; change it with ayb users set-password)\n", pw)
	}
	return nil
}

func runUsers(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: ayb users list|create|delete|set-password|ban [--email E] [flags]")
	}
	f := newUserFlags("users " + args[0])
	if _, err := positional(f.fs, args[1:]); err != nil {
		return err
	}
	sub := args[0]
	if sub != "list" {
		if err := f.needEmail(); err != nil {
			return err
		}
	}
	if sub == "create" {
		return createUser(ctx, f, stdout)
	}
	svc, done, err := f.authService(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		users, err := svc.ListUsers(ctx, f.search, f.limit, 0)
		if err != nil {
			return err
		}
		if f.asJSON {
			return json.NewEncoder(stdout).Encode(users)
		}
		tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tVERIFIED\tADMIN\tBANNED\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%v\t%s\n", u.ID, u.Email, u.EmailVerifiedAt != nil, u.IsAdmin, u.BannedAt != nil, u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "delete":
		if err := svc.DeleteUser(ctx, f.email); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "deleted", f.email)
		return nil
	case "set-password":
		pw, generated := f.passwordOrGenerated()
		if err := svc.SetPassword(ctx, f.email, pw); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "password set; every session of", f.email, "ended")
		if generated {
			fmt.Fprintln(stdout, "password:", pw)
		}
		return nil
	case "ban":
		if err := svc.SetBanned(ctx, f.email, !f.unban); err != nil {
			return err
		}
		if f.unban {
			fmt.Fprintln(stdout, "unbanned", f.email)
		} else {
			fmt.Fprintln(stdout, "banned", f.email, "; every session ended")
		}
		return nil
	}
	return fmt.Errorf("ayb users: unknown subcommand %q", sub)
}

func runKeys(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: ayb keys rotate")
	}
	cf := newFlags("keys rotate")
	if _, err := positional(cf.fs, args[1:]); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	rt, err := Connect(ctx, cfg, true, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	kid, err := auth.Rotate(ctx, rt.DB, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s; the previous key still verifies until its tokens expire (%s)\n", kid, cfg.Auth.AccessTokenTTL.Duration)
	return nil
}
