package search

import (
	"errors"
	"fmt"
	"math"
)

// CMAOptions configures the reference ENMP search. Zero values select the
// reference defaults noted.
type CMAOptions struct {
	Space
	Popsize    int       `json:"popsize"`               // 0: 8
	Iterations int       `json:"iterations"`            // generations; 0: 30
	Sigma0     float64   `json:"sigma0"`                // 0: 0.5
	X0         []float64 `json:"x0,omitempty"`          // nil: -1 for every gene (lambda gene included)
	TopK       float64   `json:"topk"`                  // prune ceiling as a fraction of N; 0: 0.2; must lie in [0,1]
	Threshold  float64   `json:"threshold"`             // genes must exceed it to prune; default 0
	LambdaGene bool      `json:"lambda_gene,omitempty"` // add the global-scale gene, lambda = 3*sigmoid(z_N)
	Seed       uint64    `json:"seed"`                  // the reference uses 42
	// StopOnFlatFitness also ends the search when pycma would stop on
	// tolfun or tolflatfitness (all values equal, or the best and the
	// 75th-percentile value equal two generations running). Off by default
	// so that a run shows all its iterations; the reference's loop, which
	// calls es.stop(), would stop there.
	StopOnFlatFitness bool `json:"stop_on_flat_fitness,omitempty"`
}

// DefaultCMAOptions returns the reference settings for an L x T module grid.
func DefaultCMAOptions(layers, tasks int) CMAOptions {
	return CMAOptions{Space: Space{Layers: layers, Tasks: tasks}, Popsize: DefaultPopsize,
		Iterations: 30, Sigma0: 0.5, TopK: 0.2, Seed: 42}
}

func (o *CMAOptions) fill() error {
	if err := o.Space.validate(); err != nil {
		return err
	}
	if o.Popsize == 0 {
		o.Popsize = DefaultPopsize
	}
	if o.Iterations == 0 {
		o.Iterations = 30
	}
	if o.Sigma0 == 0 {
		o.Sigma0 = 0.5
	}
	if o.TopK == 0 {
		o.TopK = 0.2
	}
	switch {
	case o.Popsize < 2:
		return fmt.Errorf("search: popsize %d, need >= 2", o.Popsize)
	case o.Iterations < 1:
		return fmt.Errorf("search: iterations %d, need >= 1", o.Iterations)
	case !(o.TopK >= 0 && o.TopK <= 1):
		return fmt.Errorf("search: topk %v outside [0,1]", o.TopK)
	case math.IsNaN(o.Threshold):
		return errors.New("search: threshold is NaN")
	}
	return nil
}

func (o CMAOptions) decoder() Decoder {
	return Decoder{Layers: o.Layers, Tasks: o.Tasks, Projs: o.Projs, TopK: o.TopK,
		Threshold: o.Threshold, LambdaGene: o.LambdaGene}
}

// CMASearcher is ENMP's search: CMA-ES over one negativity score per unit
// (plus the optional lambda gene), decoded by Decoder, maximising Fitness
// (the CMA-ES minimises -Fitness, as the reference does), keeping the best
// mask ever evaluated rather than the final mean.
type CMASearcher struct {
	opts    CMAOptions
	es      *CMAES
	t       tracker
	stopped string
}

// NewCMASearcher validates opts and returns a searcher at generation 0.
func NewCMASearcher(opts CMAOptions) (*CMASearcher, error) {
	opts.X0 = append([]float64(nil), opts.X0...)
	if err := opts.fill(); err != nil {
		return nil, err
	}
	es, err := NewCMAES(CMAConfig{N: opts.decoder().GenomeLen(), X0: opts.X0, Sigma0: opts.Sigma0,
		Popsize: opts.Popsize, Seed: opts.Seed})
	if err != nil {
		return nil, err
	}
	return &CMASearcher{opts: opts, es: es}, nil
}

// Options returns the options with defaults filled in.
func (s *CMASearcher) Options() CMAOptions {
	o := s.opts
	o.X0 = append([]float64(nil), o.X0...)
	return o
}

// ES exposes the underlying CMA-ES for inspection (sigma, mean); do not
// Ask or Tell it directly.
func (s *CMASearcher) ES() *CMAES { return s.es }

// Ask returns the next generation of decoded genomes.
func (s *CMASearcher) Ask() ([]Candidate, error) {
	if s.t.Pending == nil && s.Done() {
		return nil, ErrDone
	}
	return s.t.ask(func() ([]Candidate, error) {
		dec := s.opts.decoder()
		genomes := s.es.Ask()
		cands := make([]Candidate, len(genomes))
		for i, z := range genomes {
			m, lambda, err := dec.Decode(z)
			if err != nil {
				return nil, err
			}
			cands[i] = Candidate{Genome: z, Mask: m, Lambda: lambda}
		}
		return cands, nil
	})
}

// Tell feeds -Fitness to the CMA-ES.
func (s *CMASearcher) Tell(results []Result) error {
	t := s.t // commit only if the CMA-ES accepts too
	rs, err := t.accept(results)
	if err != nil {
		return err
	}
	vals := make([]float64, len(rs))
	for i, r := range rs {
		vals[i] = -r.Fitness
	}
	if err := s.es.Tell(vals); err != nil {
		return err
	}
	s.t = t
	if s.opts.StopOnFlatFitness && s.es.Stop() != "" {
		s.stopped = s.es.Stop()
	}
	return nil
}

// Done reports whether the iteration budget is spent (or, with
// StopOnFlatFitness, pycma would have stopped).
func (s *CMASearcher) Done() bool { return s.t.Gen >= s.opts.Iterations || s.stopped != "" }

// StopReason returns "maxiter", "tolfun", "tolflatfitness" or "" while running.
func (s *CMASearcher) StopReason() string {
	if s.stopped != "" {
		return s.stopped
	}
	if s.t.Gen >= s.opts.Iterations {
		return "maxiter"
	}
	return ""
}

// Best returns the best result ever told.
func (s *CMASearcher) Best() (Result, bool) { return s.t.best() }

// Generation returns the number of completed generations.
func (s *CMASearcher) Generation() int { return s.t.Gen }

// Evaluations returns the number of results told so far.
func (s *CMASearcher) Evaluations() int { return s.t.Evals }

type cmaSearcherState struct {
	Options CMAOptions `json:"options"`
	ES      *cmaState  `json:"es"`
	Tracker tracker    `json:"tracker"`
	Stopped string     `json:"stopped,omitempty"`
}

// MarshalState serialises the searcher, CMA-ES included, as JSON.
func (s *CMASearcher) MarshalState() ([]byte, error) {
	if s.es == nil {
		return nil, errors.New("search: CMA searcher not initialised")
	}
	es, err := s.es.state()
	if err != nil {
		return nil, err
	}
	return marshalEnvelope(KindCMA, cmaSearcherState{s.opts, es, s.t, s.stopped})
}

// UnmarshalState restores a MarshalState checkpoint into s.
func (s *CMASearcher) UnmarshalState(data []byte) error {
	var st cmaSearcherState
	if err := unmarshalEnvelope(data, KindCMA, &st); err != nil {
		return err
	}
	ns, err := NewCMASearcher(st.Options)
	if err != nil {
		return err
	}
	if st.ES == nil {
		return errors.New("search: CMA checkpoint lacks the CMA-ES state")
	}
	if err := ns.es.restore(st.ES); err != nil {
		return err
	}
	if ns.es.cfg.N != ns.opts.decoder().GenomeLen() || ns.es.lam != ns.opts.Popsize {
		return errors.New("search: CMA checkpoint options and CMA-ES state disagree")
	}
	if err := st.Tracker.check(ns.opts.Space); err != nil {
		return err
	}
	if (st.Tracker.Pending == nil) != (ns.es.pop == nil) {
		return errors.New("search: CMA checkpoint pending generations disagree")
	}
	ns.t, ns.stopped = st.Tracker, st.Stopped
	*s = *ns
	return nil
}
