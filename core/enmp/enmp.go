// Package enmp runs one ENMP experiment end to end: build the evaluator for
// a family and merge method, build the searcher, run it generation by
// generation, and report the best mask on validation and test. The CLI and
// the browser both call it, so a run means the same thing everywhere.
package enmp

import (
	"context"
	"fmt"
	"time"

	"enmplab/core/bundle"
	"enmplab/core/eval"
	"enmplab/core/merge"
	"enmplab/core/search"
)

// Searchers lists the searcher names Config.Searcher accepts.
var Searchers = []string{"cmaes", "random", "greedy", "loo", "ga"}

// Config is one experiment.
type Config struct {
	Method      string       `json:"method"`
	Params      merge.Params `json:"params"` // zero: merge defaults
	Lambda      float64      `json:"lambda"` // 0: Params.Lambda
	Searcher    string       `json:"searcher"`
	Popsize     int          `json:"popsize"`
	Iterations  int          `json:"iterations"`
	Sigma0      float64      `json:"sigma0"`
	TopK        float64      `json:"topk"`
	ValPerTask  int          `json:"val_per_task"`
	Projections bool         `json:"projections"` // (layer, task, projection) modules
	LambdaGene  bool         `json:"lambda_gene"`
	Count       int          `json:"count"` // random searcher: modules pruned per mask
	Seed        uint64       `json:"seed"`
	Workers     int          `json:"workers"`
	// NoDedup, NoPrefix and NoMergeCache switch the evaluator's speed-ups off.
	NoDedup, NoPrefix, NoMergeCache bool `json:"-"`
}

// DefaultValPerTask is the validation samples per task a search scores by
// default: the first 64 of the 128 shipped (the paper's secondary summaries
// report that 64 keep most of the gain), which halves the cost of a fitness
// evaluation so the default search fits a minute natively and two in a browser.
const DefaultValPerTask = 64

// Default is the paper's setting: CMA-ES, population 8, 30 iterations,
// sigma0 0.5, top-k 0.2, task arithmetic, seed 42.
func Default() Config {
	return Config{Method: "ta", Searcher: "cmaes", Popsize: 8, Iterations: 30, Sigma0: 0.5, TopK: 0.2, Seed: 42,
		ValPerTask: DefaultValPerTask}
}

// NewEvaluator builds the evaluator of c for family f.
func NewEvaluator(f *bundle.Family, c Config) (*eval.Evaluator, error) {
	return NewEvaluatorKnown(f, c, nil)
}

// NewEvaluatorKnown is NewEvaluator reusing what another evaluator of the
// same family and settings measured (known may be nil).
func NewEvaluatorKnown(f *bundle.Family, c Config, known *eval.Reference) (*eval.Evaluator, error) {
	projs := 0
	if c.Projections {
		projs = 4
	}
	return eval.New(f, eval.Options{Method: c.Method, Params: c.Params, Lambda: c.Lambda, ValPerTask: c.ValPerTask,
		Projs: projs, Seed: c.Seed, Workers: c.Workers, NoDedup: c.NoDedup, NoPrefix: c.NoPrefix, NoMergeCache: c.NoMergeCache, Known: known})
}

// NewSearcher builds the searcher of c over space sp.
func NewSearcher(sp search.Space, c Config) (search.Searcher, error) {
	switch c.Searcher {
	case "", "cmaes":
		o := search.DefaultCMAOptions(sp.Layers, sp.Tasks)
		o.Space = sp
		o.Popsize, o.Iterations, o.Sigma0, o.TopK, o.Seed, o.LambdaGene = c.Popsize, c.Iterations, c.Sigma0, c.TopK, c.Seed, c.LambdaGene
		return search.NewCMASearcher(o)
	case "random":
		return search.NewRandomSearcher(search.RandomOptions{Space: sp, Count: c.Count, Popsize: c.Popsize, Generations: c.Iterations, Seed: c.Seed})
	case "greedy":
		return search.NewGreedySearcher(search.GreedyOptions{Space: sp, MaxPruned: int(c.TopK * float64(sp.Units()))})
	case "loo":
		return search.NewLOOSearcher(search.LOOOptions{Space: sp})
	case "ga":
		return search.NewGASearcher(search.GAOptions{Space: sp, Popsize: c.Popsize, Generations: c.Iterations, Seed: c.Seed})
	}
	return nil, fmt.Errorf("unknown searcher %q (want one of %v)", c.Searcher, Searchers)
}

// TaskRow is one task's line of a report.
type TaskRow struct {
	Task         string  `json:"task"`
	ExpertVal    float64 `json:"expert_val"`
	ExpertTest   float64 `json:"expert_test"`
	UnprunedVal  float64 `json:"unpruned_val"`
	UnprunedTest float64 `json:"unpruned_test"`
	ENMPVal      float64 `json:"enmp_val"`
	ENMPTest     float64 `json:"enmp_test"`
}

// Report is the outcome of a run.
type Report struct {
	Family       string      `json:"family"`
	Config       Config      `json:"config"`
	Layers       int         `json:"layers"`
	Tasks        []string    `json:"tasks"`
	Lambda       float64     `json:"lambda"`
	Rows         []TaskRow   `json:"rows"`
	Mask         search.Mask `json:"mask"`
	Indices      []int       `json:"indices"` // the reference's flattened list, index = layer*T + task
	Pruned       int         `json:"pruned"`
	BestFitness  float64     `json:"best_fitness"`
	Unpruned     Summary     `json:"unpruned"`
	ENMP         Summary     `json:"enmp"`
	Generations  int         `json:"generations"`
	Stats        eval.Stats  `json:"stats"`
	Seconds      float64     `json:"seconds"`
	BestLambda   float64     `json:"best_lambda"`
	BaselineMean float64     `json:"baseline_mean_val"`
}

// Summary is mean normalised accuracy on validation and test.
type Summary struct {
	Val  float64 `json:"val"`
	Test float64 `json:"test"`
}

// Run searches family f with c, calling obs after every generation.
func Run(ctx context.Context, f *bundle.Family, c Config, obs search.Observer) (*Report, error) {
	start := time.Now()
	ev, err := NewEvaluator(f, c)
	if err != nil {
		return nil, err
	}
	s, err := NewSearcher(ev.Space(), c)
	if err != nil {
		return nil, err
	}
	gens := 0
	counting := search.ObserverFunc(func(gen int, res []search.Result, best search.Result) {
		gens++
		if obs != nil {
			obs.OnGeneration(gen, res, best)
		}
	})
	best, err := search.Run(ctx, s, ev.EvalFunc(), counting)
	if err != nil {
		return nil, err
	}
	return report(f, c, ev, best, gens, start)
}

func report(f *bundle.Family, c Config, ev *eval.Evaluator, best search.Result, gens int, start time.Time) (*Report, error) {
	none := search.NewMask(ev.Space().Layers, ev.Space().Tasks)
	if ev.Space().Projs > 0 {
		none = search.NewProjMask(ev.Space().Layers, ev.Space().Tasks, ev.Space().Projs)
	}
	lambda := best.Lambda
	if lambda == 0 {
		lambda = ev.Lambda()
	}
	uVal := ev.Baseline()
	uTest, err := ev.Test(none, 0)
	if err != nil {
		return nil, err
	}
	bVal, err := ev.Evaluate(best.Mask, best.Lambda)
	if err != nil {
		return nil, err
	}
	bTest, err := ev.Test(best.Mask, best.Lambda)
	if err != nil {
		return nil, err
	}
	ev2, et := ev.Experts()
	r := &Report{Family: string(f.Config.Family), Config: c, Layers: f.Config.Layers, Lambda: ev.Lambda(), BestLambda: lambda,
		Mask: best.Mask, Indices: best.Mask.Indices(), Pruned: best.Mask.Count(), BestFitness: best.Fitness,
		Unpruned: Summary{uVal.Mean, uTest.Mean}, ENMP: Summary{bVal.Mean, bTest.Mean}, Generations: gens,
		Stats: ev.Stats(), Seconds: time.Since(start).Seconds(), BaselineMean: uVal.Mean}
	for i, t := range f.Tasks {
		r.Tasks = append(r.Tasks, t.Name)
		r.Rows = append(r.Rows, TaskRow{Task: t.Name, ExpertVal: ev2[i], ExpertTest: et[i], UnprunedVal: uVal.Acc[i],
			UnprunedTest: uTest.Acc[i], ENMPVal: bVal.Acc[i], ENMPTest: bTest.Acc[i]})
	}
	return r, nil
}
