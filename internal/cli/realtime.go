package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aybhq/ayb/internal/realtime"
)

func init() {
	Register(&Command{Name: "realtime", Summary: "realtime enable|disable <table> | list: manage which tables stream changes", Run: runRealtime})
}

func runRealtime(ctx context.Context, args []string, stdout io.Writer) error {
	cf := newFlags("realtime")
	pos, err := positional(cf.fs, args)
	if err != nil {
		return err
	}
	usage := errors.New("usage: ayb realtime enable <table> | disable <table> | list")
	if len(pos) == 0 {
		return usage
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
	switch {
	case pos[0] == "enable" && len(pos) == 2:
		if err := realtime.Enable(ctx, rt.DB.Pool, pos[1]); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "realtime enabled on", pos[1])
	case pos[0] == "disable" && len(pos) == 2:
		if err := realtime.Disable(ctx, rt.DB.Pool, pos[1]); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "realtime disabled on", pos[1])
	case pos[0] == "list" && len(pos) == 1:
		list, err := realtime.List(ctx, rt.DB.Pool)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "table\tprimary key\tenabled at")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Table, strings.Join(t.PKColumns, ","), t.EnabledAt.Format("2006-01-02 15:04:05Z07:00"))
		}
		return tw.Flush()
	default:
		return usage
	}
	return nil
}
