package main

import (
	"flag"
	"fmt"
	"os"

	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/merge"
)

func runTune(args []string) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	dir := fs.String("shards", defaultShards, "shard directory holding manifest.json")
	out := fs.String("out", defaultTuned, "tuned file to write (other families' entries are kept)")
	family := fs.String("family", "all", "vision, text or all")
	method := fs.String("method", "all", "one merge method or all")
	val := fs.Int("val", enmp.DefaultValPerTask, "validation samples per task (0: all shipped)")
	seed := fs.Uint64("seed", 42, "DARE seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fams, err := families(*family)
	if err != nil {
		return err
	}
	methods := enmp.Methods()
	if *method != "all" {
		if _, err := merge.Lookup(*method); err != nil {
			return err
		}
		methods = []string{*method}
	}
	t, err := enmp.ReadTuned(*out)
	if err != nil {
		return err
	}
	if t.Families == nil {
		t.Families = map[string]map[string]merge.Params{}
	}
	t.Notes = "chosen on validation only by `go run ./cmd/enmp tune` (./build.sh tune): lambda grid, then TIES top-K, then DARE drop rate, unpruned merge"
	for _, f := range fams {
		fam, err := bundle.LoadDir(*dir, string(f))
		if err != nil {
			return err
		}
		if t.Families[string(f)] == nil {
			t.Families[string(f)] = map[string]merge.Params{}
		}
		for _, m := range methods {
			p, steps, err := enmp.Tune(fam, m, *val, *seed)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", f, m, err)
			}
			best := 0.0
			for _, s := range steps {
				if s.Params == p {
					best = s.Score
				}
			}
			fmt.Fprintf(os.Stderr, "%s %-11s lambda %.2f top-K %.2f drop %.2f: normalised val %.2f (%d settings tried)\n",
				f, m, p.Lambda, p.TopK, p.DropRate, best, len(steps))
			t.Families[string(f)][m] = p
		}
	}
	b, err := t.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}
