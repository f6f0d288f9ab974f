package app

import (
	"fmt"
	"math"

	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/eval"
	"enmplab/core/nn"
	"enmplab/core/search"
)

// Request is one message from the page to a worker's engine.
type Request struct {
	ID     int     `json:"id"`
	Op     string  `json:"op"`   // "eval" (validation) or "test"
	Mask   string  `json:"mask"` // search.Mask.Key()
	Lambda float64 `json:"lambda,omitempty"`
}

// Response answers a Request with the same ID.
type Response struct {
	ID    int       `json:"id"`
	Eval  eval.Eval `json:"eval"`
	Error string    `json:"error,omitempty"`
}

// Info is what an engine reports once its family is loaded: everything the
// page needs to draw before the first generation.
type Info struct {
	Family     string       `json:"family"`
	Layers     int          `json:"layers"`
	Tasks      []string     `json:"tasks"`
	Space      search.Space `json:"space"`
	Lambda     float64      `json:"lambda"`
	Baseline   eval.Eval    `json:"baseline"`    // unpruned merge, validation
	ExpertVal  []float64    `json:"expert_val"`  // each expert on its own task
	ExpertTest []float64    `json:"expert_test"` //
	Norms      []float64    `json:"norms"`       // Frobenius norm of each module's Delta W (sum over projections), index layer*T + task
}

// Engine is what one Web Worker runs: it holds the family and an evaluator
// and answers requests. It is also what a native test drives directly.
type Engine struct {
	ev   *eval.Evaluator
	info Info
}

// NewEngine decodes and verifies a family from manifest.json bytes and an
// opener of its shards, and builds the evaluator of c.
func NewEngine(catalog []byte, family string, open bundle.Opener, c enmp.Config) (*Engine, error) {
	cat, err := bundle.ParseCatalog(catalog)
	if err != nil {
		return nil, err
	}
	m, err := cat.Family(family)
	if err != nil {
		return nil, err
	}
	f, err := bundle.Load(m, open)
	if err != nil {
		return nil, err
	}
	return NewEngineFamily(f, c)
}

// NewEngineFamily builds an engine over an already loaded family.
func NewEngineFamily(f *bundle.Family, c enmp.Config) (*Engine, error) {
	c.Workers = 1 // one worker, one thread; parallelism comes from the pool
	ev, err := enmp.NewEvaluator(f, c)
	if err != nil {
		return nil, err
	}
	e := &Engine{ev: ev}
	ev2, et := ev.Experts()
	e.info = Info{Family: string(f.Config.Family), Layers: f.Config.Layers, Space: ev.Space(), Lambda: ev.Lambda(),
		Baseline: ev.Baseline(), ExpertVal: ev2, ExpertTest: et}
	for _, t := range f.Tasks {
		e.info.Tasks = append(e.info.Tasks, t.Name)
	}
	d := f.Config.Width
	for l := 0; l < f.Config.Layers; l++ {
		for t := range f.Tasks {
			s := 0.0
			for p := range nn.Projections {
				for _, v := range f.Experts[t].Delta(l, p, d) {
					s += float64(v) * float64(v)
				}
			}
			e.info.Norms = append(e.info.Norms, math.Sqrt(s))
		}
	}
	return e, nil
}

// Info describes the loaded family.
func (e *Engine) Info() Info { return e.info }

// Handle answers one request; errors travel in Response.Error, never as a panic.
func (e *Engine) Handle(r Request) Response {
	out := Response{ID: r.ID}
	m, err := search.ParseMaskKey(r.Mask)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	switch r.Op {
	case "eval":
		out.Eval, err = e.ev.Evaluate(m, r.Lambda)
	case "test":
		out.Eval, err = e.ev.Test(m, r.Lambda)
	default:
		err = fmt.Errorf("unknown op %q", r.Op)
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}
