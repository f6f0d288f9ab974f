package search

import (
	"errors"
	"fmt"
)

// GAOptions configures the bit-flip genetic algorithm. Zero values select
// the defaults noted.
type GAOptions struct {
	Space
	Popsize      int     `json:"popsize"`       // 0: 8; >= 2
	Generations  int     `json:"generations"`   // 0: 30
	Tournament   int     `json:"tournament"`    // tournament size; 0: 2
	MutationRate float64 `json:"mutation_rate"` // per-unit flip probability; 0: 1/N
	InitRate     float64 `json:"init_rate"`     // probability a unit starts pruned; 0: 0.1
	Seed         uint64  `json:"seed"`
}

// GASearcher is a generational GA on masks: tournament selection (with
// replacement), uniform crossover, independent bit-flip mutation, and
// elitism 1 (the generation's best, first of equals, is copied unchanged
// to index 0 of the next and so re-evaluated: a cached evaluator makes
// that free).
type GASearcher struct {
	opts GAOptions
	r    rng
	next []Mask // the population Ask will hand out
	t    tracker
}

// NewGASearcher validates opts and draws the initial population.
func NewGASearcher(opts GAOptions) (*GASearcher, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	s := &GASearcher{opts: opts, r: newRNG(opts.Seed)}
	s.next = make([]Mask, opts.Popsize)
	for k := range s.next {
		m := opts.empty()
		for i := range m.bits {
			m.bits[i] = s.r.Float64() < opts.InitRate
		}
		s.next[k] = m
	}
	return s, nil
}

func (o *GAOptions) fill() error {
	if err := o.Space.validate(); err != nil {
		return err
	}
	if o.Popsize == 0 {
		o.Popsize = DefaultPopsize
	}
	if o.Generations == 0 {
		o.Generations = 30
	}
	if o.Tournament == 0 {
		o.Tournament = 2
	}
	if o.MutationRate == 0 {
		o.MutationRate = 1 / float64(o.Units())
	}
	if o.InitRate == 0 {
		o.InitRate = 0.1
	}
	switch {
	case o.Popsize < 2:
		return fmt.Errorf("search: popsize %d, need >= 2", o.Popsize)
	case o.Generations < 1:
		return fmt.Errorf("search: generations %d, need >= 1", o.Generations)
	case o.Tournament < 1:
		return fmt.Errorf("search: tournament size %d, need >= 1", o.Tournament)
	case !(o.MutationRate > 0 && o.MutationRate <= 1):
		return fmt.Errorf("search: mutation rate %v outside (0,1]", o.MutationRate)
	case !(o.InitRate > 0 && o.InitRate <= 1):
		return fmt.Errorf("search: init rate %v outside (0,1]", o.InitRate)
	}
	return nil
}

// Ask returns the current population.
func (s *GASearcher) Ask() ([]Candidate, error) {
	if s.t.Pending == nil && s.Done() {
		return nil, ErrDone
	}
	return s.t.ask(func() ([]Candidate, error) {
		cands := make([]Candidate, len(s.next))
		for i, m := range s.next {
			cands[i] = Candidate{Mask: m.Clone()}
		}
		return cands, nil
	})
}

// Tell breeds the next population from the results.
func (s *GASearcher) Tell(results []Result) error {
	rs, err := s.t.accept(results)
	if err != nil {
		return err
	}
	elite := 0
	for i, r := range rs {
		if r.Fitness > rs[elite].Fitness {
			elite = i
		}
	}
	tournament := func() Mask {
		w := s.r.IntN(len(rs))
		for k := 1; k < s.opts.Tournament; k++ {
			if c := s.r.IntN(len(rs)); rs[c].Fitness > rs[w].Fitness {
				w = c
			}
		}
		return rs[w].Mask
	}
	next := make([]Mask, s.opts.Popsize)
	next[0] = rs[elite].Mask.Clone()
	for k := 1; k < len(next); k++ {
		a, b := tournament(), tournament()
		child := s.opts.empty()
		for i := range child.bits {
			if s.r.Uint64()&1 == 0 {
				child.bits[i] = a.bits[i]
			} else {
				child.bits[i] = b.bits[i]
			}
			if s.r.Float64() < s.opts.MutationRate {
				child.bits[i] = !child.bits[i]
			}
		}
		next[k] = child
	}
	s.next = next
	return nil
}

// Done reports whether all generations are told.
func (s *GASearcher) Done() bool { return s.t.Gen >= s.opts.Generations }

// Best returns the best result ever told.
func (s *GASearcher) Best() (Result, bool) { return s.t.best() }

type gaCheckpoint struct {
	Options GAOptions `json:"options"`
	RNG     []byte    `json:"rng"`
	Next    []Mask    `json:"next"`
	Tracker tracker   `json:"tracker"`
}

// MarshalState serialises the searcher as JSON.
func (s *GASearcher) MarshalState() ([]byte, error) {
	if s.r.pcg == nil {
		return nil, errors.New("search: GA searcher not initialised")
	}
	b, err := s.r.state()
	if err != nil {
		return nil, err
	}
	return marshalEnvelope(KindGA, gaCheckpoint{s.opts, b, s.next, s.t})
}

// UnmarshalState restores a MarshalState checkpoint into s.
func (s *GASearcher) UnmarshalState(data []byte) error {
	var st gaCheckpoint
	if err := unmarshalEnvelope(data, KindGA, &st); err != nil {
		return err
	}
	ns, err := NewGASearcher(st.Options)
	if err != nil {
		return err
	}
	if ns.r, err = restoreRNG(st.RNG); err != nil {
		return err
	}
	if len(st.Next) != ns.opts.Popsize {
		return errors.New("search: GA checkpoint has a wrong-sized population")
	}
	for _, m := range st.Next {
		if m.Layers != ns.opts.Layers || m.Tasks != ns.opts.Tasks || m.Projs != ns.opts.Projs {
			return errors.New("search: GA checkpoint mask does not fit the space")
		}
	}
	if err := st.Tracker.check(ns.opts.Space); err != nil {
		return err
	}
	ns.next, ns.t = st.Next, st.Tracker
	*s = *ns
	return nil
}
