package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

func runConfig(ctx context.Context, args []string, stdout io.Writer) error {
	cf := newFlags("config")
	asJSON := cf.fs.Bool("json", false, "print JSON")
	cf.setting("host", "server.host", "address to listen on")
	cf.setting("port", "server.port", "HTTP port")
	if _, err := positional(cf.fs, args); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	entries := cfg.Entries()
	if *asJSON {
		m := map[string]string{}
		for _, e := range entries {
			m[e.Key] = e.Value
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tENV")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, e.Value, e.Env)
	}
	return tw.Flush()
}
