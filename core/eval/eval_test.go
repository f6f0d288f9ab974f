package eval

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/num"
	"enmplab/core/search"
)

// randomFamily is a small vision family with trained-looking (non-zero) LoRA
// experts and random heads: enough to exercise every path of the evaluator.
func randomFamily(t testing.TB) *bundle.Family {
	c := nn.DefaultConfig(data.Vision)
	c.Width, c.Heads, c.MLP, c.Layers = 8, 2, 8, 3
	m, err := nn.InitBackbone(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	size := data.SampleSize(data.Vision)
	split := func(n int) data.Split {
		s := data.Split{X: make([]uint8, n*size), Y: make([]int32, n)}
		for i := range s.X {
			s.X[i] = uint8(r.IntN(256))
		}
		for i := range s.Y {
			s.Y[i] = int32(r.IntN(3))
		}
		return s
	}
	f := &bundle.Family{Config: c, Backbone: m}
	for i := 0; i < 4; i++ {
		lo := nn.NewLoRA(c, uint64(i))
		for l := range lo.B {
			for p := range lo.B[l] {
				for j := range lo.B[l][p] {
					lo.B[l][p][j] = float32(0.5 * num.Normal(r))
				}
			}
		}
		h := nn.NewHead(3, c.Width)
		for j := range h.W {
			h.W[j] = float32(num.Normal(r))
		}
		f.Tasks = append(f.Tasks, data.Task{Name: string(rune('a' + i)), Classes: []string{"x", "y", "z"}, Val: split(24), Test: split(16)})
		f.Experts = append(f.Experts, lo)
		f.Heads = append(f.Heads, h)
	}
	return f
}

func masks(sp search.Space, n int) []search.Candidate {
	r := rand.New(rand.NewPCG(3, 3))
	var cs []search.Candidate
	for i := 0; i < n; i++ {
		m := search.NewMask(sp.Layers, sp.Tasks)
		for u := 0; u < m.Units(); u++ {
			m.SetUnit(u, r.IntN(4) == 0)
		}
		if i%3 == 2 { // repeats, to exercise deduplication
			m = cs[i-1].Mask.Clone()
		}
		cs = append(cs, search.Candidate{Index: i, Mask: m})
	}
	return cs
}

// TestSpeedupsDoNotChangeResults: every combination of dedup, merge cache,
// prefix reuse and parallelism gives bit-identical fitness for every method.
func TestSpeedupsDoNotChangeResults(t *testing.T) {
	f := randomFamily(t)
	for _, method := range []string{"ta", "ties", "dare_ties", "tsv", "knots_ties"} {
		var want []search.Result
		for _, o := range []Options{
			{Workers: 1, NoDedup: true, NoPrefix: true, NoMergeCache: true},
			{Workers: 1},
			{Workers: 2},
			{Workers: 3, NoPrefix: true},
		} {
			o.Method, o.Lambda, o.Seed = method, 0.5, 11
			ev, err := New(f, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ev.EvalFunc()(context.Background(), masks(ev.Space(), 12))
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s with %+v: results differ from the plain evaluation", method, o)
			}
		}
	}
}

func TestBaselineAndEdgeCases(t *testing.T) {
	f := randomFamily(t)
	ev, err := New(f, Options{Method: "ta", Lambda: 1})
	if err != nil {
		t.Fatal(err)
	}
	sp := ev.Space()
	r, err := ev.Evaluate(search.NewMask(sp.Layers, sp.Tasks), 0)
	if err != nil || r.Fitness != 0 {
		t.Fatalf("unpruned mask: fitness %v err %v, want exactly 0", r.Fitness, err)
	}
	// Pruning everything leaves the backbone: each task at its head's accuracy on W0.
	all := search.NewMask(sp.Layers, sp.Tasks)
	for u := 0; u < all.Units(); u++ {
		all.SetUnit(u, true)
	}
	r, _ = ev.Evaluate(all, 0)
	for i := range f.Tasks {
		if want := ev.taskAcc(f.Backbone, ev.val, i); r.Acc[i] != want {
			t.Fatalf("task %d with every module pruned: %v, backbone alone %v", i, r.Acc[i], want)
		}
	}
	// With one task, TA at lambda 1 is that expert: normalised accuracy 100.
	one := &bundle.Family{Config: f.Config, Backbone: f.Backbone, Tasks: f.Tasks[:1], Experts: f.Experts[:1], Heads: f.Heads[:1]}
	ev1, _ := New(one, Options{Method: "ta", Lambda: 1})
	if ev1.Baseline().Mean != 100 {
		t.Fatalf("single expert merged at lambda 1: normalised %v, want 100", ev1.Baseline().Mean)
	}
	if _, err := ev.Evaluate(search.NewMask(sp.Layers+1, sp.Tasks), 0); err == nil {
		t.Fatal("a mask of the wrong shape must be refused")
	}
	if _, err := New(f, Options{Method: "nope", Lambda: 1}); err == nil {
		t.Fatal("unknown method must be refused")
	}
	if _, err := New(f, Options{Method: "ta", Lambda: -1}); err == nil {
		t.Fatal("negative lambda must be refused")
	}
}

// TestProjectionGranularity: pruning all four projections of (layer, task)
// equals pruning the (layer, task) module.
func TestProjectionGranularity(t *testing.T) {
	f := randomFamily(t)
	ev, _ := New(f, Options{Method: "ties", Lambda: 0.7})
	evp, _ := New(f, Options{Method: "ties", Lambda: 0.7, Projs: 4})
	m := search.NewMask(3, 4)
	m.Set(1, 2, true)
	m.Set(0, 0, true)
	mp, err := m.Expand(4)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ev.Evaluate(m, 0)
	b, err := evp.Evaluate(mp, 0)
	if err != nil || !reflect.DeepEqual(a.Acc, b.Acc) {
		t.Fatalf("module vs expanded projection mask: %v vs %v (%v)", a.Acc, b.Acc, err)
	}
}

// PredictTest gives, per task, one class per test sample; counting the right
// ones gives exactly Test's accuracies, and a mask of the wrong shape is an
// error.
func TestPredictTestMatchesTest(t *testing.T) {
	f := randomFamily(t)
	e, err := New(f, Options{Method: "ta", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range masks(e.Space(), 4) {
		pred, err := e.PredictTest(c.Mask, 0)
		if err != nil {
			t.Fatal(err)
		}
		te, err := e.Test(c.Mask, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pred) != len(f.Tasks) {
			t.Fatalf("%d tasks predicted", len(pred))
		}
		for i, task := range f.Tasks {
			if len(pred[i]) != task.Test.Len() {
				t.Fatalf("task %d: %d predictions for %d samples", i, len(pred[i]), task.Test.Len())
			}
			ok := 0
			for j, p := range pred[i] {
				if p < 0 || int(p) >= len(task.Classes) {
					t.Fatalf("prediction %d outside the classes", p)
				}
				if p == task.Test.Y[j] {
					ok++
				}
			}
			if a := float64(ok) / float64(len(pred[i])); a != te.Acc[i] {
				t.Fatalf("task %d: predictions give %v, Test %v", i, a, te.Acc[i])
			}
		}
	}
	if _, err := e.PredictTest(search.NewMask(1, 1), 0); err == nil {
		t.Fatal("mask of the wrong shape accepted")
	}
}
