// Command bench runs AYB's benchmarks. Each prints its figure beside a
// baseline measured in the same run (a peer, or the physical limit such as
// pgbench), as a ratio: these machines are shared and noisy, so absolute
// numbers mean little. `make bench` runs all; `-only name[,name]` picks some.
//
// It is its own Go module so peers (River, ...) never enter the product's
// go.mod.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

// Bench is one benchmark; areas register theirs from their own files.
type Bench struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *Env) error
}

var benches = map[string]*Bench{}

func register(b *Bench) { benches[b.Name] = b }

func main() {
	only := flag.String("only", "", "comma-separated benchmark names (default: all)")
	list := flag.Bool("list", false, "list benchmarks")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	names := make([]string, 0, len(benches))
	for n := range benches {
		names = append(names, n)
	}
	sort.Strings(names)
	if *list {
		for _, n := range names {
			fmt.Printf("%-12s %s\n", n, benches[n].Summary)
		}
		return
	}
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	ctx := context.Background()
	env, err := newEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer env.Close()
	failed := false
	for _, n := range names {
		b, ok := benches[n]
		if !ok {
			fmt.Fprintf(os.Stderr, "bench: unknown benchmark %q\n", n)
			os.Exit(2)
		}
		fmt.Printf("\n== %s: %s\n", b.Name, b.Summary)
		start := time.Now()
		if err := b.Run(ctx, env); err != nil {
			fmt.Printf("!! %s failed: %v\n", b.Name, err)
			failed = true
		}
		fmt.Printf("   (%s took %s)\n", b.Name, time.Since(start).Round(time.Millisecond))
	}
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}
