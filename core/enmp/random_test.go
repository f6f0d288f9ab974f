package enmp

import (
	"math/rand/v2"
	"testing"

	"enmplab/core/search"
)

// The random ablation's masks: the draws the results table always made
// (rng PCG(seed, 0xab1a7e), rng.Perm(units)[:count] per draw), the same for
// the same seed, the requested count each, and bad counts refused.
func TestRandomMasks(t *testing.T) {
	for _, like := range []search.Mask{search.NewMask(6, 8), search.NewProjMask(3, 4, 4)} {
		count := 7
		got, err := RandomMasks(like, count, RandomDraws, 42)
		if err != nil {
			t.Fatal(err)
		}
		// The loop runCell had inline before RandomMasks existed.
		rng := rand.New(rand.NewPCG(42, 0xab1a7e))
		for d := 0; d < RandomDraws; d++ {
			m := like.Clone()
			for _, u := range rng.Perm(m.Units())[:count] {
				m.SetUnit(u, true)
			}
			if !m.Equal(got[d]) || got[d].Count() != count {
				t.Fatalf("draw %d: %s, want %s (count %d)", d, got[d].Key(), m.Key(), got[d].Count())
			}
		}
		again, _ := RandomMasks(like, count, RandomDraws, 42)
		other, _ := RandomMasks(like, count, RandomDraws, 43)
		same := true
		for d := range got {
			if !again[d].Equal(got[d]) {
				t.Fatalf("draw %d differs for the same seed", d)
			}
			same = same && other[d].Equal(got[d])
		}
		if same {
			t.Fatal("seeds 42 and 43 drew the same masks")
		}
	}
	// A filled template is cleared first.
	full := search.NewMask(2, 2)
	for u := 0; u < full.Units(); u++ {
		full.SetUnit(u, true)
	}
	if ms, err := RandomMasks(full, 1, 2, 1); err != nil || ms[0].Count() != 1 || ms[1].Count() != 1 {
		t.Fatalf("filled template: %v %v", ms, err)
	}
	for _, c := range []int{-1, 5} {
		if _, err := RandomMasks(search.NewMask(2, 2), c, 3, 1); err == nil {
			t.Errorf("count %d of 4 accepted", c)
		}
	}
	if _, err := RandomMasks(search.NewMask(2, 2), 1, -1, 1); err == nil {
		t.Error("negative draws accepted")
	}
}
