package app

import (
	"fmt"
	"math"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/enmp"
	"enmplab/core/eval"
	"enmplab/core/nn"
	"enmplab/core/search"
)

// Request is one message from the page to a worker's engine.
type Request struct {
	ID int `json:"id"`
	// Op is "eval" (validation), "test", "predict" (per-sample test
	// predictions of Mask), "samples" (the test samples Refs names), or
	// "loadtest".
	Op     string  `json:"op"`
	Mask   string  `json:"mask"` // search.Mask.Key()
	Lambda float64 `json:"lambda,omitempty"`
	// samples: which test samples to return.
	Refs []SampleRef `json:"refs,omitempty"`
	// loadtest: the test split's file (by name) and, when another worker
	// already measured them, the experts' test accuracies (nil: measure).
	ExpertTest []float64         `json:"expert_test,omitempty"`
	Files      map[string][]byte `json:"-"`
}

// Response answers a Request with the same ID.
type Response struct {
	ID   int       `json:"id"`
	Eval eval.Eval `json:"eval"` // loadtest: Acc holds the experts' test accuracies
	// predict: per task, the predicted and the true class of every test
	// sample, in the order of the task's test split.
	Pred   [][]int32 `json:"pred,omitempty"`
	Labels [][]int32 `json:"labels,omitempty"`
	// samples: the samples asked for, in the order of Request.Refs.
	Samples []Sample `json:"samples,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// SampleRef names one test sample: its task and its index in the task's
// test split.
type SampleRef struct {
	Task  int `json:"task"`
	Index int `json:"index"`
}

// Sample is one test sample's bytes and true class.
type Sample struct {
	SampleRef
	Label int32  `json:"label"`
	X     []byte `json:"x"`
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
	ExpertTest []float64    `json:"expert_test"` // zeros until the test split is loaded
	HasTest    bool         `json:"has_test"`    // the test split is loaded
	Norms      []float64    `json:"norms"`       // Frobenius norm of each module's Delta W (sum over projections), index layer*T + task
	Classes    [][]string   `json:"classes"`     // each task's class names, index = label
}

// Known is what one engine measured that the others can reuse.
func (in Info) Known() *eval.Reference {
	b := in.Baseline
	r := &eval.Reference{ExpertVal: in.ExpertVal, Baseline: &b}
	if in.HasTest {
		r.ExpertTest = in.ExpertTest
	}
	return r
}

// Engine is what one Web Worker runs: it holds the family and an evaluator
// and answers requests. It is also what a native test drives directly.
type Engine struct {
	fam  *bundle.Family
	cfg  enmp.Config
	ev   *eval.Evaluator
	test *eval.Evaluator // nil until the test split is loaded
	info Info
}

// NewEngine decodes and verifies a family from manifest.json bytes and an
// opener of its shards, and builds the evaluator of c. When open cannot
// give the test split's file the family is loaded without it (test
// requests are refused until a loadtest). known (may be nil) is what
// another engine of the same settings measured, so this one need not.
func NewEngine(catalog []byte, family string, open bundle.Opener, c enmp.Config, known *eval.Reference) (*Engine, error) {
	cat, err := bundle.ParseCatalog(catalog)
	if err != nil {
		return nil, err
	}
	m, err := cat.Family(family)
	if err != nil {
		return nil, err
	}
	withTest := false
	for _, fi := range m.Files {
		if bundle.IsTestFile(m, fi) {
			if _, err := open(fi.Name); err == nil {
				withTest = true
			}
		}
	}
	load := bundle.LoadWithoutTest
	if withTest {
		load = bundle.Load
	}
	f, err := load(m, open)
	if err != nil {
		return nil, err
	}
	return newEngine(f, c, known)
}

// NewEngineFamily builds an engine over an already loaded family.
func NewEngineFamily(f *bundle.Family, c enmp.Config) (*Engine, error) { return newEngine(f, c, nil) }

func hasTest(f *bundle.Family) bool {
	for _, t := range f.Tasks {
		if t.Test.Len() > 0 {
			return true
		}
	}
	return false
}

func newEngine(f *bundle.Family, c enmp.Config, known *eval.Reference) (*Engine, error) {
	c.Workers = 1 // one worker, one thread; parallelism comes from the pool
	ev, err := enmp.NewEvaluatorKnown(f, c, known)
	if err != nil {
		return nil, err
	}
	e := &Engine{fam: f, cfg: c, ev: ev}
	ev2, et := ev.Experts()
	e.info = Info{Family: string(f.Config.Family), Layers: f.Config.Layers, Space: ev.Space(), Lambda: ev.Lambda(),
		Baseline: ev.Baseline(), ExpertVal: ev2, ExpertTest: et}
	if hasTest(f) {
		e.test, e.info.HasTest = ev, true
	}
	for _, t := range f.Tasks {
		e.info.Tasks = append(e.info.Tasks, t.Name)
		e.info.Classes = append(e.info.Classes, t.Classes)
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

// Evaluator is the engine's validation evaluator (exports read merged
// deltas from it).
func (e *Engine) Evaluator() *eval.Evaluator { return e.ev }

// Family is the loaded family (without the test split until AddTest).
func (e *Engine) Family() *bundle.Family { return e.fam }

// AddTest loads the test split from files (name -> bytes, verified against
// the manifest) and returns the experts' test accuracies, measured unless
// expertTest gives them.
func (e *Engine) AddTest(files map[string][]byte, expertTest []float64) ([]float64, error) {
	if e.test != nil {
		return e.info.ExpertTest, nil
	}
	f, err := bundle.WithTest(e.fam, func(name string) ([]byte, error) {
		b, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("not sent to the worker")
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	k := e.info.Known()
	if len(expertTest) == len(f.Tasks) {
		k.ExpertTest = expertTest
	}
	ev, err := enmp.NewEvaluatorKnown(f, e.cfg, k)
	if err != nil {
		return nil, err
	}
	_, et := ev.Experts()
	e.test, e.fam = ev, f
	e.info.ExpertTest, e.info.HasTest = et, true
	return et, nil
}

// Handle answers one request; errors travel in Response.Error, never as a panic.
func (e *Engine) Handle(r Request) Response {
	out := Response{ID: r.ID}
	if r.Op == "loadtest" {
		et, err := e.AddTest(r.Files, r.ExpertTest)
		if err != nil {
			out.Error = "test split: " + err.Error()
		}
		out.Eval.Acc = et
		return out
	}
	if r.Op == "samples" {
		ss, err := e.samples(r.Refs)
		if err != nil {
			out.Error = err.Error()
		}
		out.Samples = ss
		return out
	}
	m, err := search.ParseMaskKey(r.Mask)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	switch r.Op {
	case "eval":
		out.Eval, err = e.ev.Evaluate(m, r.Lambda)
	case "test":
		if e.test == nil {
			err = fmt.Errorf("the test split is not loaded yet")
		} else {
			out.Eval, err = e.test.Test(m, r.Lambda)
		}
	case "predict":
		if e.test == nil {
			err = fmt.Errorf("the test split is not loaded yet")
		} else if out.Pred, err = e.test.PredictTest(m, r.Lambda); err == nil {
			for _, t := range e.fam.Tasks {
				out.Labels = append(out.Labels, t.Test.Y)
			}
		}
	default:
		err = fmt.Errorf("unknown op %q", r.Op)
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// samples returns the test samples refs names.
func (e *Engine) samples(refs []SampleRef) ([]Sample, error) {
	if e.test == nil {
		return nil, fmt.Errorf("the test split is not loaded yet")
	}
	size := data.SampleSize(e.fam.Config.Family)
	out := make([]Sample, 0, len(refs))
	for _, r := range refs {
		if r.Task < 0 || r.Task >= len(e.fam.Tasks) {
			return nil, fmt.Errorf("sample of task %d: the family has %d tasks", r.Task, len(e.fam.Tasks))
		}
		sp := e.fam.Tasks[r.Task].Test
		if r.Index < 0 || r.Index >= sp.Len() {
			return nil, fmt.Errorf("test sample %d of task %s: it has %d", r.Index, e.fam.Tasks[r.Task].Name, sp.Len())
		}
		out = append(out, Sample{SampleRef: r, Label: sp.Y[r.Index], X: append([]byte(nil), sp.Sample(r.Index, size)...)})
	}
	return out, nil
}
