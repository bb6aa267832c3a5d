// Command ayb is AYB's single binary: the server and the admin CLI.
package main

import (
	"os"

	"github.com/aybhq/ayb/internal/cli"
)

func main() {
	keepSysmonAwake()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
