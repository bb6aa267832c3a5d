package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/aybhq/ayb/internal/migrate"
)

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	cf := newFlags("migrate")
	asJSON := cf.fs.Bool("json", false, "print JSON")
	pos, err := positional(cf.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "up" && pos[0] != "status") {
		return errors.New("usage: ayb migrate up|status")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	rt, err := Connect(ctx, cfg, pos[0] == "up", progressPrinter)
	if err != nil {
		return err
	}
	defer rt.Close()
	conn, err := pgx.Connect(ctx, rt.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	st, err := migrate.GetStatus(ctx, conn)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	fmt.Fprintf(stdout, "version %d of %d\n", st.Current, st.Latest)
	for _, p := range st.Pending {
		fmt.Fprintln(stdout, "pending:", p)
	}
	return nil
}
