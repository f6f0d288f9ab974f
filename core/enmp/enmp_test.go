package enmp

import (
	"context"
	"reflect"
	"testing"

	"enmplab/core/bundle"
)

// TestSearchReproducible runs a short search on the shipped shards with one
// and two workers and twice with the same seed: masks and every accuracy
// must be identical.
func TestSearchReproducible(t *testing.T) {
	for _, family := range []string{"vision", "text"} {
		fam, err := bundle.LoadDir("../../public/shards", family)
		if err != nil {
			t.Fatal(err)
		}
		run := func(workers int) *Report {
			c := Default()
			c.Iterations, c.ValPerTask, c.Workers, c.Seed = 4, 16, workers, 7
			c.Sigma0 = 1.5 // wide enough that candidates prune modules in four generations
			r, err := Run(context.Background(), fam, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		a, b, c := run(1), run(2), run(2)
		for _, r := range []*Report{b, c} {
			if !reflect.DeepEqual(a.Indices, r.Indices) || !reflect.DeepEqual(a.Rows, r.Rows) || a.BestFitness != r.BestFitness {
				t.Fatalf("%s: runs differ: %v %v vs %v %v", family, a.Indices, a.BestFitness, r.Indices, r.BestFitness)
			}
		}
		if a.Pruned == 0 || a.Stats.Evaluated == 0 {
			t.Fatalf("%s: the search pruned nothing (%d evaluations): the test exercises too little", family, a.Stats.Evaluated)
		}
	}
}

func TestTunedFileParses(t *testing.T) {
	tu, err := ReadTuned("../../public/tuned.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vision", "text"} {
		for _, m := range Methods() {
			if _, ok := tu.Lookup(f, m); !ok {
				t.Errorf("tuned.json lacks %s/%s", f, m)
			}
		}
	}
	if _, err := ParseTuned([]byte(`{"format":"enmp-lab-tuned/1","families":{"vision":{"ties":{"TopK":2,"Lambda":1}}}}`)); err == nil {
		t.Error("a top-K of 2 must be refused")
	}
	if _, err := ParseTuned([]byte(`{"format":"x"}`)); err == nil {
		t.Error("a wrong format must be refused")
	}
}
