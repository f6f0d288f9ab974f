package search

import (
	"errors"
	"fmt"
	"math"
)

// GreedyOptions configures forward greedy pruning.
type GreedyOptions struct {
	Space
	MaxPruned int     `json:"max_pruned"` // ceiling on pruned units; 0: N
	MinGain   float64 `json:"min_gain"`   // a step must improve fitness by more than this; default 0
}

// GreedySearcher is forward selection: from the empty mask, each
// generation evaluates adding every still-unpruned unit to the current
// mask and keeps the best addition if it improves the current fitness by
// more than MinGain; it stops when none does or at MaxPruned. Generation 0
// also evaluates the current (empty) mask itself, at index 0, so that the
// first step has something to beat. N steps of up to N evaluations: cheap
// on toys, the cost grows as N^2.
type GreedySearcher struct {
	opts GreedyOptions
	gs   greedyState
	t    tracker
}

type greedyState struct {
	Current    Mask    `json:"current"`
	CurrentFit float64 `json:"current_fitness"`
	HaveBase   bool    `json:"have_base"`
	Finished   bool    `json:"finished"`
}

// NewGreedySearcher validates opts.
func NewGreedySearcher(opts GreedyOptions) (*GreedySearcher, error) {
	if err := opts.Space.validate(); err != nil {
		return nil, err
	}
	if opts.MaxPruned == 0 {
		opts.MaxPruned = opts.Units()
	}
	if opts.MaxPruned < 0 || opts.MaxPruned > opts.Units() {
		return nil, fmt.Errorf("search: greedy ceiling %d outside [1,%d]", opts.MaxPruned, opts.Units())
	}
	if math.IsNaN(opts.MinGain) || math.IsInf(opts.MinGain, 0) {
		return nil, errors.New("search: greedy min gain must be finite")
	}
	return &GreedySearcher{opts: opts, gs: greedyState{Current: opts.empty()}}, nil
}

// Current returns the mask greedy has settled on so far and its fitness
// (valid once generation 0 is told).
func (s *GreedySearcher) Current() (Mask, float64) { return s.gs.Current.Clone(), s.gs.CurrentFit }

// Ask returns the current mask plus each single addition.
func (s *GreedySearcher) Ask() ([]Candidate, error) {
	if s.t.Pending == nil && s.Done() {
		return nil, ErrDone
	}
	return s.t.ask(func() ([]Candidate, error) {
		var cands []Candidate
		if !s.gs.HaveBase {
			cands = append(cands, Candidate{Mask: s.gs.Current.Clone()})
		}
		for i, b := range s.gs.Current.bits {
			if !b {
				m := s.gs.Current.Clone()
				m.bits[i] = true
				cands = append(cands, Candidate{Mask: m})
			}
		}
		return cands, nil
	})
}

// Tell takes the step.
func (s *GreedySearcher) Tell(results []Result) error {
	rs, err := s.t.accept(results)
	if err != nil {
		return err
	}
	if !s.gs.HaveBase {
		s.gs.CurrentFit, s.gs.HaveBase = rs[0].Fitness, true
		rs = rs[1:]
	}
	best := -1
	for i, r := range rs {
		if best < 0 || r.Fitness > rs[best].Fitness {
			best = i
		}
	}
	if best >= 0 && rs[best].Fitness > s.gs.CurrentFit+s.opts.MinGain {
		s.gs.Current, s.gs.CurrentFit = rs[best].Mask.Clone(), rs[best].Fitness
	} else {
		s.gs.Finished = true
	}
	return nil
}

// Done reports whether no addition improved or the ceiling is reached.
func (s *GreedySearcher) Done() bool {
	c := s.gs.Current.Count()
	return s.gs.Finished || (s.gs.HaveBase && (c >= s.opts.MaxPruned || c == s.opts.Units()))
}

// Best returns the best result ever told.
func (s *GreedySearcher) Best() (Result, bool) { return s.t.best() }

type greedyCheckpoint struct {
	Options GreedyOptions `json:"options"`
	State   greedyState   `json:"state"`
	Tracker tracker       `json:"tracker"`
}

// MarshalState serialises the searcher as JSON.
func (s *GreedySearcher) MarshalState() ([]byte, error) {
	return marshalEnvelope(KindGreedy, greedyCheckpoint{s.opts, s.gs, s.t})
}

// UnmarshalState restores a MarshalState checkpoint into s.
func (s *GreedySearcher) UnmarshalState(data []byte) error {
	var st greedyCheckpoint
	if err := unmarshalEnvelope(data, KindGreedy, &st); err != nil {
		return err
	}
	ns, err := NewGreedySearcher(st.Options)
	if err != nil {
		return err
	}
	m := st.State.Current
	if m.Layers != ns.opts.Layers || m.Tasks != ns.opts.Tasks || m.Projs != ns.opts.Projs {
		return errors.New("search: greedy checkpoint mask does not fit the space")
	}
	if err := st.Tracker.check(ns.opts.Space); err != nil {
		return err
	}
	ns.gs, ns.t = st.State, st.Tracker
	*s = *ns
	return nil
}
