package enmp

import (
	"context"
	"testing"

	"enmplab/core/bundle"
)

// BenchmarkDefaultSearch runs the default vision search (CMA-ES, population
// 8, 30 iterations, task arithmetic) with the evaluator's speed-ups switched
// on one at a time. Compare within one run: the machine is shared.
func BenchmarkDefaultSearch(b *testing.B) {
	fam, err := bundle.LoadDir("../../public/shards", "vision")
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		set  func(*Config)
	}{
		{"none", func(c *Config) { c.NoDedup, c.NoMergeCache, c.NoPrefix, c.Workers = true, true, true, 1 }},
		{"dedup", func(c *Config) { c.NoMergeCache, c.NoPrefix, c.Workers = true, true, 1 }},
		{"dedup+mergecache", func(c *Config) { c.NoPrefix, c.Workers = true, 1 }},
		{"dedup+mergecache+prefix", func(c *Config) { c.Workers = 1 }},
		{"all+parallel", func(c *Config) { c.Workers = 0 }},
	} {
		b.Run(v.name, func(b *testing.B) {
			c := Default()
			c.Lambda = 0.5
			v.set(&c)
			var evals int
			for i := 0; i < b.N; i++ {
				r, err := Run(context.Background(), fam, c, nil)
				if err != nil {
					b.Fatal(err)
				}
				evals = r.Stats.Evaluated
			}
			b.ReportMetric(float64(evals), "computed/op")
			b.ReportMetric(float64(240*b.N)/b.Elapsed().Seconds(), "evals/s")
		})
	}
}
