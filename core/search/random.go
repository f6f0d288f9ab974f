package search

import (
	"errors"
	"fmt"
)

// RandomOptions configures random pruning at a fixed count, the paper's
// "random at matched sparsity" control.
type RandomOptions struct {
	Space
	Count       int    `json:"count"`       // pruned units per mask, in [0, N]
	Popsize     int    `json:"popsize"`     // masks per generation; 0: 8
	Generations int    `json:"generations"` // 0: 30
	Seed        uint64 `json:"seed"`
}

// RandomSearcher draws Popsize uniformly random masks with exactly Count
// pruned units per generation, independent of all fitness values.
type RandomSearcher struct {
	opts RandomOptions
	r    rng
	t    tracker
}

// NewRandomSearcher validates opts.
func NewRandomSearcher(opts RandomOptions) (*RandomSearcher, error) {
	if err := opts.Space.validate(); err != nil {
		return nil, err
	}
	if opts.Popsize == 0 {
		opts.Popsize = DefaultPopsize
	}
	if opts.Generations == 0 {
		opts.Generations = 30
	}
	switch {
	case opts.Count < 0 || opts.Count > opts.Units():
		return nil, fmt.Errorf("search: random count %d outside [0,%d]", opts.Count, opts.Units())
	case opts.Popsize < 1:
		return nil, fmt.Errorf("search: popsize %d, need >= 1", opts.Popsize)
	case opts.Generations < 1:
		return nil, fmt.Errorf("search: generations %d, need >= 1", opts.Generations)
	}
	return &RandomSearcher{opts: opts, r: newRNG(opts.Seed)}, nil
}

// Ask draws the next generation.
func (s *RandomSearcher) Ask() ([]Candidate, error) {
	if s.t.Pending == nil && s.Done() {
		return nil, ErrDone
	}
	return s.t.ask(func() ([]Candidate, error) {
		n := s.opts.Units()
		perm := make([]int, n)
		cands := make([]Candidate, s.opts.Popsize)
		for k := range cands {
			for i := range perm {
				perm[i] = i
			}
			m := s.opts.empty()
			// Partial Fisher-Yates: the first Count entries are a uniform subset.
			for i := 0; i < s.opts.Count; i++ {
				j := i + s.r.IntN(n-i)
				perm[i], perm[j] = perm[j], perm[i]
				m.bits[perm[i]] = true
			}
			cands[k] = Candidate{Mask: m}
		}
		return cands, nil
	})
}

// Tell records results; they do not influence later draws.
func (s *RandomSearcher) Tell(results []Result) error {
	_, err := s.t.accept(results)
	return err
}

// Done reports whether all generations are told.
func (s *RandomSearcher) Done() bool { return s.t.Gen >= s.opts.Generations }

// Best returns the best result ever told.
func (s *RandomSearcher) Best() (Result, bool) { return s.t.best() }

type randomState struct {
	Options RandomOptions `json:"options"`
	RNG     []byte        `json:"rng"`
	Tracker tracker       `json:"tracker"`
}

// MarshalState serialises the searcher as JSON.
func (s *RandomSearcher) MarshalState() ([]byte, error) {
	if s.r.pcg == nil {
		return nil, errors.New("search: random searcher not initialised")
	}
	b, err := s.r.state()
	if err != nil {
		return nil, err
	}
	return marshalEnvelope(KindRandom, randomState{s.opts, b, s.t})
}

// UnmarshalState restores a MarshalState checkpoint into s.
func (s *RandomSearcher) UnmarshalState(data []byte) error {
	var st randomState
	if err := unmarshalEnvelope(data, KindRandom, &st); err != nil {
		return err
	}
	ns, err := NewRandomSearcher(st.Options)
	if err != nil {
		return err
	}
	if ns.r, err = restoreRNG(st.RNG); err != nil {
		return err
	}
	if err := st.Tracker.check(ns.opts.Space); err != nil {
		return err
	}
	ns.t = st.Tracker
	*s = *ns
	return nil
}
