package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/shard"
	"enmplab/smallmodels/datasets"
	"enmplab/smallmodels/recipe"
)

func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	family := fs.String("family", "all", "vision, text or all")
	pools := fs.String("pools", "smallmodels/cache", "directory of task pools built by ./build.sh data")
	out := fs.String("out", defaultShards, "shard directory to write")
	seed := fs.Uint64("seed", 1, "recipe seed")
	small := fs.Bool("small", false, "tiny model and few steps (for tests)")
	quiet := fs.Bool("q", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fams, err := families(*family)
	if err != nil {
		return err
	}
	for _, f := range fams {
		path := filepath.Join(*pools, string(f)+".gob")
		tasks, err := datasets.LoadCache(path)
		if err != nil {
			return fmt.Errorf("%s: %w (run ./build.sh data first)", path, err)
		}
		c := recipe.Default(f)
		if *small {
			c = recipe.Small(f)
		}
		c.Seed = *seed
		log := func(s string) { fmt.Fprintln(os.Stderr, s) }
		if *quiet {
			log = nil
		}
		start := time.Now()
		res, err := recipe.Run(f, tasks, c, log)
		if err != nil {
			return err
		}
		var prov []shard.Provenance
		for _, s := range datasets.Provenance(f) {
			prov = append(prov, shard.Provenance{Name: s.Name, Package: s.Package, Licence: s.Licence, Attribution: s.Attribution, URL: s.URL})
		}
		if err := bundle.WriteDir(*out, res.Bundle(f, tasks, prov)); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: shards written to %s in %.0fs\n", f, *out, time.Since(start).Seconds())
	}
	return nil
}

func families(s string) ([]data.Family, error) {
	switch s {
	case "all":
		return []data.Family{data.Vision, data.Text}, nil
	case "vision", "text":
		return []data.Family{data.Family(s)}, nil
	}
	return nil, fmt.Errorf("unknown family %q (want vision, text or all)", s)
}
