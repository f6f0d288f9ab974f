package search

import "errors"

// LOOOptions configures leave-one-out.
type LOOOptions struct {
	Space
	// Combine adds a second generation with a single candidate: the union
	// of all units whose removal alone helped (fitness > 0). Skipped when
	// there are none.
	Combine bool `json:"combine,omitempty"`
}

// LOOSearcher evaluates, in one generation of N candidates, every mask
// that prunes exactly one unit (candidate i prunes unit i). With ENMP's
// fitness (relative to the unpruned baseline) each fitness is that
// unit's effect: positive means a negative module.
type LOOSearcher struct {
	opts    LOOOptions
	effects []float64
	t       tracker
}

// NewLOOSearcher validates opts.
func NewLOOSearcher(opts LOOOptions) (*LOOSearcher, error) {
	if err := opts.Space.validate(); err != nil {
		return nil, err
	}
	return &LOOSearcher{opts: opts}, nil
}

// Effects returns each unit's fitness when pruned alone, indexed by unit;
// false until generation 0 is told.
func (s *LOOSearcher) Effects() ([]float64, bool) {
	if s.effects == nil {
		return nil, false
	}
	return append([]float64(nil), s.effects...), true
}

// Negatives returns the units whose removal alone gave fitness > 0.
func (s *LOOSearcher) Negatives() []int {
	idx := []int{}
	for i, e := range s.effects {
		if e > 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// Ask returns the single-unit masks, then (with Combine) their union.
func (s *LOOSearcher) Ask() ([]Candidate, error) {
	if s.t.Pending == nil && s.Done() {
		return nil, ErrDone
	}
	return s.t.ask(func() ([]Candidate, error) {
		if s.effects == nil {
			cands := make([]Candidate, s.opts.Units())
			for i := range cands {
				m := s.opts.empty()
				m.bits[i] = true
				cands[i] = Candidate{Mask: m}
			}
			return cands, nil
		}
		m := s.opts.empty()
		for _, i := range s.Negatives() {
			m.bits[i] = true
		}
		return []Candidate{{Mask: m}}, nil
	})
}

// Tell records the effects.
func (s *LOOSearcher) Tell(results []Result) error {
	rs, err := s.t.accept(results)
	if err != nil {
		return err
	}
	if s.effects == nil {
		s.effects = make([]float64, len(rs))
		for i, r := range rs {
			s.effects[i] = r.Fitness
		}
	}
	return nil
}

// Done reports whether all generations are told.
func (s *LOOSearcher) Done() bool {
	if s.t.Gen == 0 {
		return false
	}
	return !s.opts.Combine || s.t.Gen >= 2 || len(s.Negatives()) == 0
}

// Best returns the best result ever told.
func (s *LOOSearcher) Best() (Result, bool) { return s.t.best() }

type looCheckpoint struct {
	Options LOOOptions `json:"options"`
	Effects []float64  `json:"effects,omitempty"`
	Tracker tracker    `json:"tracker"`
}

// MarshalState serialises the searcher as JSON.
func (s *LOOSearcher) MarshalState() ([]byte, error) {
	return marshalEnvelope(KindLOO, looCheckpoint{s.opts, s.effects, s.t})
}

// UnmarshalState restores a MarshalState checkpoint into s.
func (s *LOOSearcher) UnmarshalState(data []byte) error {
	var st looCheckpoint
	if err := unmarshalEnvelope(data, KindLOO, &st); err != nil {
		return err
	}
	ns, err := NewLOOSearcher(st.Options)
	if err != nil {
		return err
	}
	if st.Effects != nil && len(st.Effects) != ns.opts.Units() {
		return errors.New("search: LOO checkpoint has the wrong number of effects")
	}
	if (st.Effects == nil) != (st.Tracker.Gen == 0) {
		return errors.New("search: LOO checkpoint effects and generation disagree")
	}
	if err := st.Tracker.check(ns.opts.Space); err != nil {
		return err
	}
	ns.effects, ns.t = st.Effects, st.Tracker
	*s = *ns
	return nil
}
