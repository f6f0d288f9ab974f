package enmp

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"enmplab/core/bundle"
	"enmplab/core/search"
)

// Cell is one (family, method, seed) run of the results table.
type Cell struct {
	Family       string  `json:"family"`
	Method       string  `json:"method"`
	Seed         uint64  `json:"seed"`
	Lambda       float64 `json:"lambda"`
	UnprunedVal  float64 `json:"unpruned_val"`
	UnprunedTest float64 `json:"unpruned_test"`
	ENMPVal      float64 `json:"enmp_val"`
	ENMPTest     float64 `json:"enmp_test"`
	RandomTest   float64 `json:"random_test"` // mean over RandomDraws masks with ENMP's count
	Pruned       int     `json:"pruned"`
	Modules      int     `json:"modules"`
	Indices      []int   `json:"indices"`
	Seconds      float64 `json:"seconds"`
	Evaluated    int     `json:"evaluated"`
}

// RandomDraws is how many random masks the ablation averages.
const RandomDraws = 5

// ResultsJob is one family with its configuration template.
type ResultsJob struct {
	Family *bundle.Family
	Base   Config // Method and Seed are overwritten per cell
	Tuned  *Tuned
}

// Results runs CMA-ES for every family x method x seed, plus the random
// ablation at the same count, with up to parallel cells at once (each cell
// single-threaded, so cells, not candidates, share the cores; the numbers do
// not depend on it). progress (may be nil) is called after each cell.
func Results(ctx context.Context, jobs []ResultsJob, methods []string, seeds []uint64, parallel int, progress func(Cell)) ([]Cell, error) {
	type work struct {
		job    ResultsJob
		method string
		seed   uint64
		slot   int
	}
	var ws []work
	for _, j := range jobs {
		for _, m := range methods {
			for _, s := range seeds {
				ws = append(ws, work{j, m, s, len(ws)})
			}
		}
	}
	cells := make([]Cell, len(ws))
	errs := make([]error, len(ws))
	if parallel < 1 {
		parallel = 1
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, w := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func(w work) {
			defer func() { <-sem; wg.Done() }()
			c := w.job.Base
			c.Method, c.Seed, c.Workers = w.method, w.seed, 1
			fam := string(w.job.Family.Config.Family)
			if w.job.Tuned != nil {
				if p, ok := w.job.Tuned.Lookup(fam, w.method); ok {
					c.Params, c.Lambda = p, p.Lambda
				}
			}
			cell, err := runCell(ctx, w.job.Family, c)
			cells[w.slot], errs[w.slot] = cell, err
			if err == nil && progress != nil {
				mu.Lock()
				progress(cell)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s/%s seed %d: %w", ws[i].job.Family.Config.Family, ws[i].method, ws[i].seed, err)
		}
	}
	return cells, nil
}

func runCell(ctx context.Context, f *bundle.Family, c Config) (Cell, error) {
	r, err := Run(ctx, f, c, nil)
	if err != nil {
		return Cell{}, err
	}
	cell := Cell{Family: r.Family, Method: c.Method, Seed: c.Seed, Lambda: r.BestLambda, UnprunedVal: r.Unpruned.Val,
		UnprunedTest: r.Unpruned.Test, ENMPVal: r.ENMP.Val, ENMPTest: r.ENMP.Test, Pruned: r.Pruned,
		Modules: r.Mask.Units(), Indices: r.Indices, Seconds: r.Seconds, Evaluated: r.Stats.Evaluated}
	// Random pruning of the same number of modules, scored on test.
	ev, err := NewEvaluator(f, c)
	if err != nil {
		return Cell{}, err
	}
	masks, err := RandomMasks(r.Mask, r.Pruned, RandomDraws, c.Seed)
	if err != nil {
		return Cell{}, err
	}
	for _, m := range masks {
		t, err := ev.Test(m, r.Config.Lambda)
		if err != nil {
			return Cell{}, err
		}
		cell.RandomTest += t.Mean / RandomDraws
	}
	return cell, nil
}

// RandomMasks draws the random ablation's masks: draws masks shaped like
// like (same layers, tasks and projections), each pruning count units
// chosen uniformly at random, from the rng seeded with seed (the same draws
// as the results table's random column for that seed).
func RandomMasks(like search.Mask, count, draws int, seed uint64) ([]search.Mask, error) {
	if count < 0 || count > like.Units() {
		return nil, fmt.Errorf("random masks: cannot prune %d of %d units", count, like.Units())
	}
	if draws < 0 {
		return nil, fmt.Errorf("random masks: negative number of draws %d", draws)
	}
	rng := rand.New(rand.NewPCG(seed, 0xab1a7e))
	out := make([]search.Mask, 0, draws)
	for d := 0; d < draws; d++ {
		m := like.Clone()
		for u := 0; u < m.Units(); u++ {
			m.SetUnit(u, false)
		}
		for _, u := range rng.Perm(m.Units())[:count] {
			m.SetUnit(u, true)
		}
		out = append(out, m)
	}
	return out, nil
}

// MeanStd returns the mean and sample standard deviation.
func MeanStd(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) < 2 {
		return m, 0
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)-1))
}

// ResultsTable renders cells as a markdown table, one row per family x method.
func ResultsTable(cells []Cell) string {
	type key struct{ fam, method string }
	groups := map[key][]Cell{}
	var keys []key
	for _, c := range cells {
		k := key{c.Family, c.Method}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], c)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].fam != keys[j].fam {
			return keys[i].fam > keys[j].fam
		}
		return false
	})
	var b strings.Builder
	b.WriteString("| family | method | lambda | unpruned test | ENMP test | gain | random, same count | pruned / modules | ENMP val gain | seeds |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range keys {
		g := groups[k]
		var ut, et, gain, rt, pr, vg []float64
		for _, c := range g {
			ut = append(ut, c.UnprunedTest)
			et = append(et, c.ENMPTest)
			gain = append(gain, c.ENMPTest-c.UnprunedTest)
			rt = append(rt, c.RandomTest)
			pr = append(pr, float64(c.Pruned))
			vg = append(vg, c.ENMPVal-c.UnprunedVal)
		}
		um, _ := MeanStd(ut)
		em, es := MeanStd(et)
		gm, gs := MeanStd(gain)
		rm, rs := MeanStd(rt)
		pm, _ := MeanStd(pr)
		vm, _ := MeanStd(vg)
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.2f ± %.2f | %+.2f ± %.2f | %.2f ± %.2f | %.1f / %d | %+.2f | %d |\n",
			k.fam, k.method, g[0].Lambda, um, em, es, gm, gs, rm, rs, pm, g[0].Modules, vm, len(g))
	}
	return b.String()
}
