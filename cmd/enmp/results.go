package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/merge"
)

func runResults(args []string) error {
	fs := flag.NewFlagSet("results", flag.ContinueOnError)
	dir := fs.String("shards", defaultShards, "shard directory holding manifest.json")
	tuned := fs.String("tuned", defaultTuned, "tuned hyperparameters")
	family := fs.String("family", "all", "vision, text or all")
	methods := fs.String("methods", "all", "comma-separated merge methods, or all")
	seeds := fs.String("seeds", "1,2,3", "comma-separated search seeds")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "runs at once")
	val := fs.Int("val", enmp.DefaultValPerTask, "validation samples per task (0: all shipped)")
	out := fs.String("out", "results/results.json", "where to write every run as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fams, err := families(*family)
	if err != nil {
		return err
	}
	ms := enmp.Methods()
	if *methods != "all" {
		ms = strings.Split(*methods, ",")
		for _, m := range ms {
			if _, err := merge.Lookup(m); err != nil {
				return err
			}
		}
	}
	var ss []uint64
	for _, s := range strings.Split(*seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("bad seed %q", s)
		}
		ss = append(ss, v)
	}
	t, err := enmp.ReadTuned(*tuned)
	if err != nil {
		return err
	}
	var jobs []enmp.ResultsJob
	for _, f := range fams {
		fam, err := bundle.LoadDir(*dir, string(f))
		if err != nil {
			return err
		}
		base := enmp.Default()
		base.ValPerTask = *val
		jobs = append(jobs, enmp.ResultsJob{Family: fam, Base: base, Tuned: t})
	}
	cells, err := enmp.Results(context.Background(), jobs, ms, ss, *parallel, func(c enmp.Cell) {
		fmt.Fprintf(os.Stderr, "%s %-11s seed %d: unpruned %.2f -> ENMP %.2f test (random %.2f), %d pruned, %.0fs\n",
			c.Family, c.Method, c.Seed, c.UnprunedTest, c.ENMPTest, c.RandomTest, c.Pruned, c.Seconds)
	})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(cells, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Print(enmp.ResultsTable(cells))
	return nil
}
