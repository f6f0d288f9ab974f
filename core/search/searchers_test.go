package search

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
)

// The synthetic problem: L=4 layers x T=8 tasks with a hidden set of
// negative modules; fitness = negatives pruned - positives pruned, so the
// optimum prunes exactly the hidden set (fitness 6).
var (
	synthSpace = Space{Layers: 4, Tasks: 8}
	negatives  = []int{3, 9, 14, 20, 27, 30}
)

func isNegative(i int) bool {
	for _, n := range negatives {
		if n == i {
			return true
		}
	}
	return false
}

func synthFitness(m Mask) float64 {
	f := 0.0
	for _, i := range m.Indices() {
		if isNegative(i) {
			f++
		} else {
			f--
		}
	}
	return f
}

func synthEval(_ context.Context, cands []Candidate) ([]Result, error) {
	out := make([]Result, len(cands))
	// Reverse order: searchers must match results by Index.
	for k, c := range cands {
		out[len(cands)-1-k] = Result{Candidate: c, Fitness: synthFitness(c.Mask), PerTask: []float64{float64(c.Index)}}
	}
	return out, nil
}

func runAll(t *testing.T, s Searcher) (Result, []Result) {
	t.Helper()
	var log []Result
	best, err := Run(context.Background(), s, synthEval, ObserverFunc(func(gen int, rs []Result, best Result) {
		for i, r := range rs {
			if r.Generation != gen || r.Index != i {
				t.Fatalf("observer got result %d/%d at gen %d pos %d", r.Generation, r.Index, gen, i)
			}
		}
		log = append(log, rs...)
	}))
	if err != nil {
		t.Fatal(err)
	}
	return best, log
}

func negFound(m Mask) int {
	c := 0
	for _, n := range negatives {
		if m.GetUnit(n) {
			c++
		}
	}
	return c
}

func TestCMASearcherFindsNegatives(t *testing.T) {
	found := 0
	for seed := uint64(0); seed < 5; seed++ {
		o := DefaultCMAOptions(4, 8)
		o.Seed = seed
		s, err := NewCMASearcher(o)
		if err != nil {
			t.Fatal(err)
		}
		best, log := runAll(t, s)
		if len(log) != 240 || s.StopReason() != "maxiter" {
			t.Fatalf("%d evaluations, stop %q", len(log), s.StopReason())
		}
		if k := best.Mask.Count(); k > 6 { // floor(0.2*32)
			t.Fatalf("best prunes %d > k", k)
		}
		t.Logf("seed %d: best fitness %v, %d/6 negatives, mask %v", seed, best.Fitness, negFound(best.Mask), best.Mask.Indices())
		found += negFound(best.Mask)
	}
	if found < 20 { // most of 5 x 6
		t.Fatalf("CMA-ES found only %d of 30 negatives over 5 seeds", found)
	}
}

func TestRandomDoesNotFind(t *testing.T) {
	s, err := NewRandomSearcher(RandomOptions{Space: synthSpace, Count: 6, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	best, log := runAll(t, s)
	if len(log) != 240 {
		t.Fatalf("%d evaluations", len(log))
	}
	for _, r := range log {
		if r.Mask.Count() != 6 {
			t.Fatalf("random mask prunes %d", r.Mask.Count())
		}
	}
	if best.Fitness >= 4 || negFound(best.Mask) == 6 {
		t.Fatalf("random found the optimum: %v", best.Mask.Indices())
	}
	t.Logf("random best fitness %v with %d/6", best.Fitness, negFound(best.Mask))
}

func TestGreedyFinds(t *testing.T) {
	s, err := NewGreedySearcher(GreedyOptions{Space: synthSpace})
	if err != nil {
		t.Fatal(err)
	}
	best, log := runAll(t, s)
	if !reflect.DeepEqual(best.Mask.Indices(), negatives) || best.Fitness != 6 {
		t.Fatalf("greedy best %v (%v)", best.Mask.Indices(), best.Fitness)
	}
	if cur, f := s.Current(); !cur.Equal(best.Mask) || f != 6 {
		t.Fatal("greedy current differs from best")
	}
	// 33 + 31 + 30 + 29 + 28 + 27 + 26: six accepted steps and one that fails.
	if len(log) != 33+31+30+29+28+27+26 {
		t.Fatalf("greedy used %d evaluations", len(log))
	}
	c, _ := NewGreedySearcher(GreedyOptions{Space: synthSpace, MaxPruned: 3})
	best, _ = runAll(t, c)
	if best.Mask.Count() != 3 || best.Fitness != 3 {
		t.Fatalf("ceiling: %v", best.Mask.Indices())
	}
}

func TestLOOIdentifies(t *testing.T) {
	s, err := NewLOOSearcher(LOOOptions{Space: synthSpace, Combine: true})
	if err != nil {
		t.Fatal(err)
	}
	best, log := runAll(t, s)
	if len(log) != 33 {
		t.Fatalf("%d evaluations", len(log))
	}
	if got := s.Negatives(); !reflect.DeepEqual(got, negatives) {
		t.Fatalf("LOO negatives %v", got)
	}
	eff, ok := s.Effects()
	if !ok || eff[3] != 1 || eff[0] != -1 {
		t.Fatalf("effects %v", eff)
	}
	if best.Fitness != 6 || !reflect.DeepEqual(best.Mask.Indices(), negatives) {
		t.Fatalf("combined best %v", best.Mask.Indices())
	}
	plain, _ := NewLOOSearcher(LOOOptions{Space: synthSpace})
	if _, log := runAll(t, plain); len(log) != 32 {
		t.Fatalf("plain LOO: %d evaluations", len(log))
	}
}

func TestGAImproves(t *testing.T) {
	s, err := NewGASearcher(GAOptions{Space: synthSpace, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	best, log := runAll(t, s)
	if len(log) != 240 || best.Fitness <= log[0].Fitness {
		t.Fatalf("GA did not improve: %v", best.Fitness)
	}
	// Elitism: every generation after the first starts with the previous best.
	for g := 1; g < 30; g++ {
		prev := log[(g-1)*8 : g*8]
		e := 0
		for i, r := range prev {
			if r.Fitness > prev[e].Fitness {
				e = i
			}
		}
		if !log[g*8].Mask.Equal(prev[e].Mask) {
			t.Fatalf("generation %d lacks the elite", g)
		}
	}
	t.Logf("GA best fitness %v with %d/6", best.Fitness, negFound(best.Mask))
}

type factory struct {
	name string
	make func() (Searcher, error)
}

func factories() []factory {
	return []factory{
		{"cma", func() (Searcher, error) { o := DefaultCMAOptions(4, 8); o.LambdaGene = true; return NewCMASearcher(o) }},
		{"cma-proj", func() (Searcher, error) {
			return NewCMASearcher(CMAOptions{Space: Space{Layers: 2, Tasks: 4, Projs: 4}, Iterations: 12, Seed: 9, StopOnFlatFitness: true})
		}},
		{"random", func() (Searcher, error) {
			return NewRandomSearcher(RandomOptions{Space: synthSpace, Count: 5, Seed: 7})
		}},
		{"greedy", func() (Searcher, error) { return NewGreedySearcher(GreedyOptions{Space: synthSpace}) }},
		{"loo", func() (Searcher, error) { return NewLOOSearcher(LOOOptions{Space: synthSpace, Combine: true}) }},
		{"ga", func() (Searcher, error) { return NewGASearcher(GAOptions{Space: synthSpace, Seed: 7}) }},
	}
}

// TestDeterminismAndCheckpoint: for every searcher, two runs agree exactly,
// and a run interrupted at each generation (with and without a pending
// Ask), serialised and restored through RestoreSearcher, continues exactly.
func TestDeterminismAndCheckpoint(t *testing.T) {
	for _, f := range factories() {
		t.Run(f.name, func(t *testing.T) {
			a, err := f.make()
			if err != nil {
				t.Fatal(err)
			}
			_, la := runAll(t, a)
			b, _ := f.make()
			_, lb := runAll(t, b)
			ja, _ := json.Marshal(la)
			jb, _ := json.Marshal(lb)
			if string(ja) != string(jb) {
				t.Fatal("two runs differ")
			}
			// Interrupted run.
			s, _ := f.make()
			var lc []Result
			for gen := 0; !s.Done(); gen++ {
				st, err := s.(Checkpointer).MarshalState()
				if err != nil {
					t.Fatal(err)
				}
				if s, err = RestoreSearcher(st); err != nil {
					t.Fatal(err)
				}
				cands, err := s.Ask()
				if err != nil {
					t.Fatal(err)
				}
				if gen%2 == 1 { // checkpoint with the generation pending
					st, _ = s.(Checkpointer).MarshalState()
					if s, err = RestoreSearcher(st); err != nil {
						t.Fatal(err)
					}
					again, _ := s.Ask()
					ca, _ := json.Marshal(cands)
					cb, _ := json.Marshal(again)
					if string(ca) != string(cb) {
						t.Fatal("pending generation changed across checkpoint")
					}
				}
				res, _ := synthEval(context.Background(), cands)
				if err := s.Tell(res); err != nil {
					t.Fatal(err)
				}
				for i := range res {
					res[i] = Result{}
				}
				res, _ = synthEval(context.Background(), cands)
				sortByIndex(res)
				lc = append(lc, res...)
			}
			jc, _ := json.Marshal(lc)
			if string(jc) != string(ja) {
				t.Fatal("checkpointed run differs")
			}
			ba, _ := a.Best()
			bs, _ := s.Best()
			if !reflect.DeepEqual(ba, bs) {
				t.Fatal("best differs")
			}
			if _, err := s.Ask(); !errors.Is(err, ErrDone) {
				t.Fatalf("Ask after done: %v", err)
			}
		})
	}
}

func sortByIndex(rs []Result) {
	for i := 0; i < len(rs); i++ {
		for j := i + 1; j < len(rs); j++ {
			if rs[j].Index < rs[i].Index {
				rs[i], rs[j] = rs[j], rs[i]
			}
		}
	}
}

func TestBadConfigs(t *testing.T) {
	sp := synthSpace
	bad := map[string]func() error{
		"cma N=0":       func() error { _, err := NewCMASearcher(CMAOptions{}); return err },
		"cma topk<0":    func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, TopK: -0.1}); return err },
		"cma topk>1":    func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, TopK: 1.5}); return err },
		"cma topk NaN":  func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, TopK: math.NaN()}); return err },
		"cma popsize 1": func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, Popsize: 1}); return err },
		"cma iters<0":   func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, Iterations: -1}); return err },
		"cma sigma<0":   func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, Sigma0: -1}); return err },
		"cma x0 len":    func() error { _, err := NewCMASearcher(CMAOptions{Space: sp, X0: []float64{1, 2}}); return err },
		"cma neg proj":  func() error { _, err := NewCMASearcher(CMAOptions{Space: Space{4, 8, -1}}); return err },
		"random count":  func() error { _, err := NewRandomSearcher(RandomOptions{Space: sp, Count: 33}); return err },
		"random N=0":    func() error { _, err := NewRandomSearcher(RandomOptions{}); return err },
		"random pop<0":  func() error { _, err := NewRandomSearcher(RandomOptions{Space: sp, Popsize: -1}); return err },
		"greedy N=0":    func() error { _, err := NewGreedySearcher(GreedyOptions{}); return err },
		"greedy ceil":   func() error { _, err := NewGreedySearcher(GreedyOptions{Space: sp, MaxPruned: 40}); return err },
		"loo N=0":       func() error { _, err := NewLOOSearcher(LOOOptions{}); return err },
		"ga popsize 1":  func() error { _, err := NewGASearcher(GAOptions{Space: sp, Popsize: 1}); return err },
		"ga N=0":        func() error { _, err := NewGASearcher(GAOptions{}); return err },
		"ga mutation":   func() error { _, err := NewGASearcher(GAOptions{Space: sp, MutationRate: 2}); return err },
		"ga tournament": func() error { _, err := NewGASearcher(GAOptions{Space: sp, Tournament: -1}); return err },
		"restore junk":  func() error { _, err := RestoreSearcher([]byte(`{"kind":"cma","state":{}}`)); return err },
		"restore kind":  func() error { _, err := RestoreSearcher([]byte(`{"kind":"x","state":{}}`)); return err },
	}
	for name, f := range bad {
		if f() == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestTellValidation(t *testing.T) {
	s, _ := NewGASearcher(GAOptions{Space: synthSpace, Seed: 1})
	if err := s.Tell(nil); err == nil {
		t.Error("Tell before Ask accepted")
	}
	cands, _ := s.Ask()
	res, _ := synthEval(context.Background(), cands)
	dup := append([]Result(nil), res...)
	dup[1].Index = dup[0].Index
	wrongGen := append([]Result(nil), res...)
	wrongGen[0].Generation = 5
	nan := append([]Result(nil), res...)
	nan[2].Fitness = math.NaN()
	for name, rs := range map[string][]Result{"short": res[:3], "dup": dup, "gen": wrongGen, "nan": nan} {
		if err := s.Tell(rs); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := s.Tell(res); err != nil {
		t.Fatalf("valid Tell after rejected ones: %v", err)
	}
}

func TestRunCancel(t *testing.T) {
	s, _ := NewRandomSearcher(RandomOptions{Space: synthSpace, Count: 2, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := Run(ctx, s, synthEval, ObserverFunc(func(int, []Result, Result) {
		if n++; n == 3 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Fatalf("Run after cancel: %v after %d generations", err, n)
	}
	boom := errors.New("boom")
	_, err = Run(context.Background(), s, func(context.Context, []Candidate) ([]Result, error) { return nil, boom }, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("eval error not returned: %v", err)
	}
}
