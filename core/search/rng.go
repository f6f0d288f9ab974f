package search

import "math/rand/v2"

// rng is a seeded PCG whose state can be checkpointed. rand.Rand adds no
// state of its own in math/rand/v2, so the PCG's bytes are the whole state.
type rng struct {
	pcg *rand.PCG
	*rand.Rand
}

func newRNG(seed uint64) rng {
	p := rand.NewPCG(seed, pcgStream)
	return rng{p, rand.New(p)}
}

func (r rng) state() ([]byte, error) { return r.pcg.MarshalBinary() }

func restoreRNG(b []byte) (rng, error) {
	r := newRNG(0)
	if err := r.pcg.UnmarshalBinary(b); err != nil {
		return rng{}, err
	}
	return r, nil
}
