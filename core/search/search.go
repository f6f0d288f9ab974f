// Package search holds ENMP's mask searchers: the reference's CMA-ES over
// negativity scores, and the baselines the paper compares with (random
// pruning at matched count, greedy, leave-one-out) plus a bit-flip GA.
//
// Every searcher is ask/tell and advances one generation per Ask/Tell pair,
// so the browser can drive it step by step, render each population, and
// checkpoint between generations (MarshalState, RestoreSearcher). All
// randomness comes from a seeded math/rand/v2 PCG and all transcendental
// arithmetic from enmplab/core/num, so a run replays bit-identically natively
// and in js/wasm. Searchers maximise Fitness.
package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// Space is the shape of the mask being searched: Layers x Tasks modules,
// or with Projs > 0 one unit per (layer, task, projection).
type Space struct {
	Layers int `json:"layers"`
	Tasks  int `json:"tasks"`
	Projs  int `json:"projections,omitempty"`
}

// Units returns N.
func (s Space) Units() int { return units(s.Layers, s.Tasks, s.Projs) }

func (s Space) validate() error { return checkDims(s.Layers, s.Tasks, s.Projs) }

func (s Space) empty() Mask { m, _ := newMask(s.Layers, s.Tasks, s.Projs); return m }

// Candidate is one mask to evaluate.
type Candidate struct {
	Generation int       `json:"generation"`
	Index      int       `json:"index"`            // position within its generation
	Genome     []float64 `json:"genome,omitempty"` // CMA-ES scores; nil for bit searchers
	Mask       Mask      `json:"mask"`
	Lambda     float64   `json:"lambda,omitempty"` // global merge scale; 0 = the merge method's default
}

// Result is an evaluated Candidate. Fitness is maximised; in ENMP it is the
// mean normalised validation accuracy minus the unpruned baseline's, and
// PerTask holds the normalised per-task accuracies behind it.
type Result struct {
	Candidate
	Fitness float64   `json:"fitness"`
	PerTask []float64 `json:"per_task,omitempty"`
}

// Searcher is an ask/tell mask search. Ask returns the next generation
// (the same one again if it has not been told yet); Tell takes its results
// in any order, matched by Index. Repeated masks, within or across
// generations, are normal: caching evaluations is the evaluator's job.
type Searcher interface {
	Ask() ([]Candidate, error)
	Tell(results []Result) error
	Done() bool
	Best() (Result, bool) // best result ever told (first of equals)
}

// Checkpointer is implemented by every searcher in this package.
// MarshalState captures everything, including a pending generation, and
// RestoreSearcher (or UnmarshalState on a zero value of the same type)
// resumes it exactly.
type Checkpointer interface {
	MarshalState() ([]byte, error)
	UnmarshalState(data []byte) error
}

// ErrDone is returned by Ask once a searcher has finished.
var ErrDone = errors.New("search: searcher is done")

// EvalFunc evaluates a generation. It must return one Result per
// candidate, carrying the candidate's Generation and Index.
type EvalFunc func(ctx context.Context, cands []Candidate) ([]Result, error)

// Observer is told about every completed generation; results are sorted by Index.
type Observer interface {
	OnGeneration(gen int, results []Result, best Result)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(gen int, results []Result, best Result)

// OnGeneration calls f.
func (f ObserverFunc) OnGeneration(gen int, results []Result, best Result) { f(gen, results, best) }

// Run drives s to completion: Ask, eval, Tell, notify obs (may be nil).
// It returns the best result; on cancellation or error it returns the best
// so far together with the error.
func Run(ctx context.Context, s Searcher, eval EvalFunc, obs Observer) (Result, error) {
	for !s.Done() {
		if err := ctx.Err(); err != nil {
			best, _ := s.Best()
			return best, err
		}
		cands, err := s.Ask()
		if err != nil {
			best, _ := s.Best()
			return best, err
		}
		res, err := eval(ctx, cands)
		if err != nil {
			best, _ := s.Best()
			return best, err
		}
		if err := s.Tell(res); err != nil {
			best, _ := s.Best()
			return best, err
		}
		best, _ := s.Best()
		if obs != nil && len(cands) > 0 {
			sorted := append([]Result(nil), res...)
			sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].Index < sorted[b].Index })
			obs.OnGeneration(cands[0].Generation, sorted, best)
		}
	}
	best, ok := s.Best()
	if !ok {
		return Result{}, errors.New("search: searcher finished without results")
	}
	return best, nil
}

// tracker is the bookkeeping every searcher shares: generation counter,
// the pending generation, the best result ever and the evaluation count.
type tracker struct {
	Gen     int         `json:"generation"` // completed generations
	Pending []Candidate `json:"pending,omitempty"`
	BestR   *Result     `json:"best,omitempty"`
	Evals   int         `json:"evaluations"`
}

func (t *tracker) ask(next func() ([]Candidate, error)) ([]Candidate, error) {
	if t.Pending == nil {
		cands, err := next()
		if err != nil {
			return nil, err
		}
		for i := range cands {
			cands[i].Generation, cands[i].Index = t.Gen, i
		}
		t.Pending = cands
	}
	return cloneCandidates(t.Pending), nil
}

func cloneCandidates(cs []Candidate) []Candidate {
	out := make([]Candidate, len(cs))
	for i, c := range cs {
		c.Genome = append([]float64(nil), c.Genome...)
		if cs[i].Genome == nil {
			c.Genome = nil
		}
		c.Mask = c.Mask.Clone()
		out[i] = c
	}
	return out
}

// accept validates results against the pending generation and returns
// them in Index order, rebuilt from our own candidates so that a caller
// cannot alter masks; it updates best and counters.
func (t *tracker) accept(results []Result) ([]Result, error) {
	if t.Pending == nil {
		return nil, errors.New("search: Tell without a pending Ask")
	}
	if len(results) != len(t.Pending) {
		return nil, fmt.Errorf("search: Tell got %d results for %d candidates", len(results), len(t.Pending))
	}
	out := make([]Result, len(results))
	seen := make([]bool, len(results))
	for _, r := range results {
		i := r.Index
		if i < 0 || i >= len(out) || seen[i] {
			return nil, fmt.Errorf("search: result index %d missing, out of range or repeated", i)
		}
		if r.Generation != t.Gen {
			return nil, fmt.Errorf("search: result for generation %d, expecting %d", r.Generation, t.Gen)
		}
		if math.IsNaN(r.Fitness) || math.IsInf(r.Fitness, 0) {
			return nil, fmt.Errorf("search: result %d has fitness %v; map failures to a finite value", i, r.Fitness)
		}
		seen[i] = true
		out[i] = Result{Candidate: t.Pending[i], Fitness: r.Fitness, PerTask: append([]float64(nil), r.PerTask...)}
		if r.PerTask == nil {
			out[i].PerTask = nil
		}
	}
	for i := range out {
		if t.BestR == nil || out[i].Fitness > t.BestR.Fitness {
			b := out[i]
			b.Candidate = cloneCandidates([]Candidate{b.Candidate})[0]
			t.BestR = &b
		}
	}
	t.Evals += len(out)
	t.Pending = nil
	t.Gen++
	return out, nil
}

func (t *tracker) best() (Result, bool) {
	if t.BestR == nil {
		return Result{}, false
	}
	b := *t.BestR
	b.Candidate = cloneCandidates([]Candidate{b.Candidate})[0]
	b.PerTask = append([]float64(nil), b.PerTask...)
	if t.BestR.PerTask == nil {
		b.PerTask = nil
	}
	return b, true
}

// envelope tags a checkpoint with its searcher kind.
type envelope struct {
	Kind  string          `json:"kind"`
	State json.RawMessage `json:"state"`
}

func marshalEnvelope(kind string, st any) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{kind, b})
}

func unmarshalEnvelope(data []byte, kind string, st any) error {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return err
	}
	if env.Kind != kind {
		return fmt.Errorf("search: checkpoint is for %q, not %q", env.Kind, kind)
	}
	return json.Unmarshal(env.State, st)
}

// Searcher kinds as written in checkpoints.
const (
	KindCMA    = "cma"
	KindRandom = "random"
	KindGreedy = "greedy"
	KindLOO    = "loo"
	KindGA     = "ga"
)

// RestoreSearcher resumes any searcher of this package from MarshalState output.
func RestoreSearcher(data []byte) (Searcher, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, err
	}
	var s interface {
		Searcher
		Checkpointer
	}
	switch env.Kind {
	case KindCMA:
		s = new(CMASearcher)
	case KindRandom:
		s = new(RandomSearcher)
	case KindGreedy:
		s = new(GreedySearcher)
	case KindLOO:
		s = new(LOOSearcher)
	case KindGA:
		s = new(GASearcher)
	default:
		return nil, fmt.Errorf("search: unknown searcher kind %q", env.Kind)
	}
	if err := s.UnmarshalState(data); err != nil {
		return nil, err
	}
	return s, nil
}

// checkPending verifies that restored candidates fit the space.
func checkPending(sp Space, cands []Candidate, gen int) error {
	for i, c := range cands {
		if c.Generation != gen || c.Index != i {
			return errors.New("search: checkpoint has inconsistent pending candidates")
		}
		if c.Mask.Layers != sp.Layers || c.Mask.Tasks != sp.Tasks || c.Mask.Projs != sp.Projs {
			return errors.New("search: checkpoint candidate mask does not fit the space")
		}
	}
	return nil
}

// check validates a restored tracker against the space.
func (t *tracker) check(sp Space) error {
	if t.Gen < 0 || t.Evals < 0 {
		return errors.New("search: checkpoint has negative counters")
	}
	if err := checkPending(sp, t.Pending, t.Gen); err != nil {
		return err
	}
	if t.BestR != nil {
		m := t.BestR.Mask
		if m.Layers != sp.Layers || m.Tasks != sp.Tasks || m.Projs != sp.Projs {
			return errors.New("search: checkpoint best mask does not fit the space")
		}
	}
	return nil
}
