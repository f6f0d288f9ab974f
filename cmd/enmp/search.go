package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/search"
)

func runSearch(args []string) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	d := enmp.Default()
	dir := fs.String("shards", defaultShards, "shard directory holding manifest.json")
	tuned := fs.String("tuned", defaultTuned, "tuned hyperparameters (./build.sh tune)")
	family := fs.String("family", "vision", "vision or text")
	c := d
	fs.StringVar(&c.Method, "method", d.Method, "merge method: ta avg ties dare_ties dare_linear tsv iso knots_ties core core_iso")
	fs.Float64Var(&c.Lambda, "lambda", 0, "merge scaling (0: the tuned default)")
	fs.StringVar(&c.Searcher, "searcher", d.Searcher, "cmaes, random, greedy, loo or ga")
	fs.IntVar(&c.Popsize, "pop", d.Popsize, "population per generation")
	fs.IntVar(&c.Iterations, "iters", d.Iterations, "generations")
	fs.Float64Var(&c.Sigma0, "sigma0", d.Sigma0, "CMA-ES initial step size")
	fs.Float64Var(&c.TopK, "topk", d.TopK, "prune ceiling as a fraction of the modules")
	fs.IntVar(&c.ValPerTask, "val", d.ValPerTask, "validation samples per task (0: all shipped)")
	fs.BoolVar(&c.Projections, "proj", false, "(layer, task, projection) modules instead of (layer, task)")
	fs.BoolVar(&c.LambdaGene, "lambda-gene", false, "also search a global lambda = 3*sigmoid(z)")
	fs.IntVar(&c.Count, "count", 0, "random searcher: modules pruned per mask")
	fs.Uint64Var(&c.Seed, "seed", d.Seed, "seed of the search and of DARE")
	fs.IntVar(&c.Workers, "workers", 0, "candidates evaluated in parallel (0: all cores)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("q", false, "no per-generation lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := applyTuned(*tuned, *family, &c); err != nil {
		return err
	}
	fam, err := bundle.LoadDir(*dir, *family)
	if err != nil {
		return err
	}
	obs := search.ObserverFunc(func(gen int, res []search.Result, best search.Result) {
		if *quiet {
			return
		}
		fmt.Fprintf(os.Stderr, "gen %2d: best fitness %+.2f, %d pruned\n", gen+1, best.Fitness, best.Mask.Count())
	})
	r, err := enmp.Run(context.Background(), fam, c, obs)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printReport(r)
	return nil
}

func printReport(r *enmp.Report) {
	c := r.Config
	fmt.Printf("%s, method %s, lambda %.2f, searcher %s, seed %d\n\n", r.Family, c.Method, r.BestLambda, c.Searcher, c.Seed)
	fmt.Println("| task | expert val | unpruned val | ENMP val | expert test | unpruned test | ENMP test |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.Rows {
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", row.Task, row.ExpertVal, row.UnprunedVal, row.ENMPVal,
			row.ExpertTest, row.UnprunedTest, row.ENMPTest)
	}
	fmt.Printf("\nmean normalised accuracy: unpruned val %.2f test %.2f; ENMP val %.2f test %.2f\n",
		r.Unpruned.Val, r.Unpruned.Test, r.ENMP.Val, r.ENMP.Test)
	fmt.Printf("\npruned %d modules (rows: layers, columns: tasks %s):\n", r.Pruned, strings.Join(r.Tasks, " "))
	for l, row := range r.Mask.Grid() {
		var b strings.Builder
		for _, p := range row {
			if p {
				b.WriteString(" X")
			} else {
				b.WriteString(" .")
			}
		}
		fmt.Printf("  layer %d:%s\n", l, b.String())
	}
	idx, _ := json.Marshal(r.Indices)
	fmt.Printf("flattened indices (layer*T + task): %s\n", idx)
	s := r.Stats
	fmt.Printf("\n%d generations, %d evaluations requested, %d computed, %d answered by dedup; %d layers run, %d reused from cached prefixes; %d merges run, %d reused; %.1fs\n",
		r.Generations, s.Requested, s.Evaluated, s.DedupHits, s.LayersRun, s.LayersSkipped, s.MergesRun, s.MergesReused, r.Seconds)
}

// applyTuned fills in the tuned lambda and hyperparameters of the family
// and method when the user left them unset.
func applyTuned(path, family string, c *enmp.Config) error {
	t, err := enmp.ReadTuned(path)
	if err != nil {
		return err
	}
	t.Apply(family, c)
	return nil
}
