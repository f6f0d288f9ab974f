package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"enmplab/core/enmp"
	"enmplab/core/eval"
	"enmplab/core/search"
)

// Evaluator is what a session evaluates through: a Pool of Web Workers in
// the browser, a Pool of LocalWorkers natively.
type Evaluator interface {
	EvalFunc() search.EvalFunc
	Eval(ctx context.Context, op string, m search.Mask, lambda float64) (eval.Eval, error)
	Run(ctx context.Context, reqs []Request) ([]eval.Eval, error)
	Responses(ctx context.Context, reqs []Request) ([]Response, error)
	LoadTest(ctx context.Context, files map[string][]byte) ([]float64, error)
}

// Gen is one completed generation, as the views need it.
type Gen struct {
	Gen     int             `json:"gen"`
	Evals   int             `json:"evals"`   // evaluations so far, this generation included
	Results []search.Result `json:"results"` // by Index
	Best    search.Result   `json:"best"`    // best so far
	Mean    float64         `json:"mean"`    // population mean fitness
	Freq    []float64       `json:"freq"`    // per module (layer*T + task): fraction of the population pruning it
}

// Session is one run in the page: the searcher, its history and the pool.
type Session struct {
	State  State
	Config enmp.Config
	Info   Info
	S      search.Searcher
	Gens   []Gen
	ev     Evaluator
	// TestFiles fetches the test split's file(s) when the engines were
	// started without them (nil: they have it already).
	TestFiles func(ctx context.Context) (map[string][]byte, error)
}

// NewSession starts a fresh search of cfg over the engine's space.
func NewSession(st State, cfg enmp.Config, info Info, ev Evaluator) (*Session, error) {
	s, err := enmp.NewSearcher(info.Space, cfg)
	if err != nil {
		return nil, err
	}
	return &Session{State: st, Config: cfg, Info: info, S: s, ev: ev}, nil
}

// Done says whether the search has finished.
func (s *Session) Done() bool { return s.S.Done() }

// Total is the planned number of generations (0 when the searcher decides,
// as greedy and leave-one-out do).
func (s *Session) Total() int {
	switch s.Config.Searcher {
	case "", "cmaes", "random", "ga":
		return s.Config.Iterations
	}
	return 0
}

// Title is the tab title, e.g. "ENMP - gen 12/30".
func (s *Session) Title() string {
	if s.Done() {
		return fmt.Sprintf("ENMP - done (%d gens)", len(s.Gens))
	}
	if t := s.Total(); t > 0 {
		return fmt.Sprintf("ENMP - gen %d/%d", len(s.Gens), t)
	}
	return fmt.Sprintf("ENMP - gen %d", len(s.Gens))
}

// Step runs one generation: ask, evaluate through the pool, tell, record.
func (s *Session) Step(ctx context.Context) error {
	if s.S.Done() {
		return search.ErrDone
	}
	cands, err := s.S.Ask()
	if err != nil {
		return err
	}
	res, err := s.ev.EvalFunc()(ctx, cands)
	if err != nil {
		return err
	}
	if err := s.S.Tell(res); err != nil {
		return err
	}
	best, _ := s.S.Best()
	g := Gen{Gen: len(s.Gens), Results: make([]search.Result, len(res))}
	for _, r := range res {
		g.Results[r.Index] = r
	}
	if len(s.Gens) > 0 {
		g.Evals = s.Gens[len(s.Gens)-1].Evals
	}
	g.Evals += len(res)
	g.Best = best
	sp := s.Info.Space
	g.Freq = make([]float64, sp.Layers*sp.Tasks)
	for _, r := range g.Results {
		g.Mean += r.Fitness / float64(len(res))
		for l := 0; l < sp.Layers; l++ {
			for t := 0; t < sp.Tasks; t++ {
				if modulePruned(r.Mask, l, t) {
					g.Freq[l*sp.Tasks+t] += 1 / float64(len(res))
				}
			}
		}
	}
	s.Gens = append(s.Gens, g)
	return nil
}

// modulePruned says whether any unit of module (l, t) is pruned.
func modulePruned(m search.Mask, l, t int) bool {
	if m.Projs == 0 {
		return m.Get(l, t)
	}
	for p := 0; p < m.Projs; p++ {
		if m.Pruned(l, t, p) {
			return true
		}
	}
	return false
}

// checkpoint is what goes to local storage after each generation.
type checkpoint struct {
	Format   string          `json:"format"`
	Hash     string          `json:"hash"`
	Searcher json.RawMessage `json:"searcher"`
	Gens     []Gen           `json:"gens"`
}

const checkpointFormat = "enmp-lab-checkpoint/1"

// Checkpoint serialises the session between generations.
func (s *Session) Checkpoint() ([]byte, error) {
	c, ok := s.S.(search.Checkpointer)
	if !ok {
		return nil, errors.New("searcher cannot checkpoint")
	}
	st, err := c.MarshalState()
	if err != nil {
		return nil, err
	}
	return json.Marshal(checkpoint{Format: checkpointFormat, Hash: s.State.Hash(), Searcher: st, Gens: s.Gens})
}

// CheckpointHash returns the state hash a checkpoint was written for.
func CheckpointHash(data []byte) (string, error) {
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("checkpoint: %v", err)
	}
	if c.Format != checkpointFormat {
		return "", fmt.Errorf("checkpoint: format %q, want %q", c.Format, checkpointFormat)
	}
	return c.Hash, nil
}

// Resume rebuilds a session from a checkpoint of the same state (the hash
// must match, without autorun and hidden controls, which change nothing).
func Resume(data []byte, st State, cfg enmp.Config, info Info, ev Evaluator) (*Session, error) {
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("checkpoint: %v", err)
	}
	if c.Format != checkpointFormat {
		return nil, fmt.Errorf("checkpoint: format %q, want %q", c.Format, checkpointFormat)
	}
	if c.Hash != st.Hash() {
		return nil, errors.New("checkpoint: written for other settings")
	}
	s, err := search.RestoreSearcher(c.Searcher)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %v", err)
	}
	return &Session{State: st, Config: cfg, Info: info, S: s, Gens: c.Gens, ev: ev}, nil
}

// Report evaluates the best mask on validation and test, and the unpruned
// merge on test, into the native CLI's report (no Stats or timing).
func (s *Session) Report(ctx context.Context) (*enmp.Report, error) {
	best, ok := s.S.Best()
	if !ok {
		return nil, errors.New("no generation evaluated yet")
	}
	if err := s.EnsureTest(ctx); err != nil {
		return nil, err
	}
	none := s.EmptyMask()
	evs, err := s.ev.Run(ctx, []Request{{Op: "test", Mask: none.Key()}, {Op: "eval", Mask: best.Mask.Key(), Lambda: best.Lambda},
		{Op: "test", Mask: best.Mask.Key(), Lambda: best.Lambda}})
	if err != nil {
		return nil, err
	}
	uTest, bVal, bTest := evs[0], evs[1], evs[2]
	lambda := best.Lambda
	if lambda == 0 {
		lambda = s.Info.Lambda
	}
	in := s.Info
	r := &enmp.Report{Family: in.Family, Config: s.Config, Layers: in.Layers, Tasks: in.Tasks, Lambda: in.Lambda, BestLambda: lambda,
		Mask: best.Mask, Indices: best.Mask.Indices(), Pruned: best.Mask.Count(), BestFitness: best.Fitness,
		Unpruned: enmp.Summary{Val: in.Baseline.Mean, Test: uTest.Mean}, ENMP: enmp.Summary{Val: bVal.Mean, Test: bTest.Mean},
		Generations: len(s.Gens), BaselineMean: in.Baseline.Mean}
	for i, t := range in.Tasks {
		r.Rows = append(r.Rows, enmp.TaskRow{Task: t, ExpertVal: in.ExpertVal[i], ExpertTest: in.ExpertTest[i],
			UnprunedVal: in.Baseline.Acc[i], UnprunedTest: uTest.Acc[i], ENMPVal: bVal.Acc[i], ENMPTest: bTest.Acc[i]})
	}
	return r, nil
}

// EmptyMask is the mask pruning nothing in the session's space.
func (s *Session) EmptyMask() search.Mask {
	sp := s.Info.Space
	if sp.Projs > 0 {
		return search.NewProjMask(sp.Layers, sp.Tasks, sp.Projs)
	}
	return search.NewMask(sp.Layers, sp.Tasks)
}

// EnsureTest gives the workers the test split if they lack it (fetched
// through TestFiles) and records the experts' test accuracies in Info.
func (s *Session) EnsureTest(ctx context.Context) error {
	if s.Info.HasTest {
		return nil
	}
	if s.TestFiles == nil {
		return errors.New("the test split is not loaded and there is no way to fetch it")
	}
	files, err := s.TestFiles(ctx)
	if err != nil {
		return fmt.Errorf("test split: %v", err)
	}
	et, err := s.ev.LoadTest(ctx, files)
	if err != nil {
		return err
	}
	s.Info.ExpertTest, s.Info.HasTest = et, true
	return nil
}

// EvalMask scores one mask outside the search (a hand-edited mask, a
// module's leave-one-out mask) on validation. It only reads the session's
// evaluator, so a UI may call it while a generation runs.
func (s *Session) EvalMask(ctx context.Context, m search.Mask) (eval.Eval, error) {
	sp := s.Info.Space
	if m.Layers != sp.Layers || m.Tasks != sp.Tasks || m.Projs != sp.Projs {
		return eval.Eval{}, fmt.Errorf("mask is %dx%dx%d, the family needs %dx%dx%d", m.Layers, m.Tasks, m.Projs, sp.Layers, sp.Tasks, sp.Projs)
	}
	return s.ev.Eval(ctx, "eval", m, 0)
}

// Toggle returns a copy of m with module (layer, task) flipped: every
// projection of it pruned, or all restored when any was pruned.
func Toggle(m search.Mask, layer, task int) (search.Mask, error) {
	if layer < 0 || layer >= m.Layers || task < 0 || task >= m.Tasks {
		return m, fmt.Errorf("module (%d, %d) outside the %dx%d grid", layer, task, m.Layers, m.Tasks)
	}
	out := m.Clone()
	out.Set(layer, task, !modulePruned(m, layer, task))
	return out, nil
}

// LeaveOneOut is the mask pruning module (layer, task) only.
func (s *Session) LeaveOneOut(layer, task int) (search.Mask, error) {
	return Toggle(s.EmptyMask(), layer, task)
}
