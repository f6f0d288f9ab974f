package enmp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"enmplab/core/bundle"
	"enmplab/core/eval"
	"enmplab/core/merge"
)

// TunedFormat identifies tuned.json.
const TunedFormat = "enmp-lab-tuned/1"

// Tuned holds the hyperparameters chosen on validation, per family and method.
type Tuned struct {
	Format   string                             `json:"format"`
	Families map[string]map[string]merge.Params `json:"families"`
	Notes    string                             `json:"notes,omitempty"`
}

// ParseTuned reads tuned.json and checks every entry builds a method.
func ParseTuned(b []byte) (*Tuned, error) {
	var t Tuned
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("tuned.json: %v", err)
	}
	if t.Format != TunedFormat {
		return nil, fmt.Errorf("tuned.json: format %q, want %q", t.Format, TunedFormat)
	}
	for f, ms := range t.Families {
		for name, p := range ms {
			if _, err := merge.New(name, p); err != nil {
				return nil, fmt.Errorf("tuned.json: %s/%s: %w", f, name, err)
			}
			if p.Lambda <= 0 {
				return nil, fmt.Errorf("tuned.json: %s/%s: lambda %v must be positive", f, name, p.Lambda)
			}
		}
	}
	return &t, nil
}

// ReadTuned reads a tuned file; a missing file is an empty table, not an error.
func ReadTuned(path string) (*Tuned, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Tuned{Format: TunedFormat}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseTuned(b)
}

// Lookup returns the tuned parameters of a family's method.
func (t *Tuned) Lookup(family, method string) (merge.Params, bool) {
	p, ok := t.Families[family][method]
	return p, ok
}

// Apply fills what c leaves unset with the family's tuned values for
// c.Method: Params when zero, Lambda when 0 (the tuned lambda). t may be
// nil, and a family or method without a tuned entry leaves c as it is (the
// merge method's defaults then apply). The CLI and the browser both call it.
func (t *Tuned) Apply(family string, c *Config) {
	if t == nil {
		return
	}
	p, ok := t.Lookup(family, c.Method)
	if !ok {
		return
	}
	if c.Params == (merge.Params{}) {
		c.Params = p
	}
	if c.Lambda == 0 {
		c.Lambda = p.Lambda
	}
}

// Marshal writes tuned.json deterministically (encoding/json sorts map keys).
func (t *Tuned) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	return append(b, '\n'), err
}

// Grids of the tuning search, as the reference ran it.
var (
	LambdaGrid   = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 4.0}
	TopKGrid     = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}
	DropRateGrid = []float64{0.1, 0.2, 0.3, 0.5, 0.7, 0.9}
)

// TuneStep is one point the tuner scored.
type TuneStep struct {
	Params merge.Params
	Score  float64 // mean normalised validation accuracy of the unpruned merge
}

// Tune chooses a method's hyperparameters on validation only, as the
// reference did: a linear search over lambda with default parameters, then
// over TIES top-K at that lambda, then over the DARE drop rate.
func Tune(f *bundle.Family, method string, valPerTask int, seed uint64) (merge.Params, []TuneStep, error) {
	p, err := merge.Defaults(method)
	if err != nil {
		return p, nil, err
	}
	uses := map[string][2]bool{ // method -> (top-K, drop rate)
		"ties": {true, false}, "dare_ties": {true, true}, "dare_linear": {false, true}, "knots_ties": {true, false},
	}[method]
	var steps []TuneStep
	score := func(q merge.Params) (float64, error) {
		ev, err := eval.New(f, eval.Options{Method: method, Params: q, Lambda: q.Lambda, ValPerTask: valPerTask, Seed: seed})
		if err != nil {
			return 0, err
		}
		s := ev.Baseline().Mean
		steps = append(steps, TuneStep{q, s})
		return s, nil
	}
	bestOver := func(grid []float64, set func(*merge.Params, float64)) error {
		best, bestV := -1.0, 0.0
		for _, v := range grid {
			q := p
			set(&q, v)
			s, err := score(q)
			if err != nil {
				return err
			}
			if s > best {
				best, bestV = s, v
			}
		}
		set(&p, bestV)
		return nil
	}
	if err := bestOver(LambdaGrid, func(q *merge.Params, v float64) { q.Lambda = v }); err != nil {
		return p, steps, err
	}
	if uses[0] {
		if err := bestOver(TopKGrid, func(q *merge.Params, v float64) { q.TopK = v }); err != nil {
			return p, steps, err
		}
	}
	if uses[1] {
		if err := bestOver(DropRateGrid, func(q *merge.Params, v float64) { q.DropRate = v }); err != nil {
			return p, steps, err
		}
	}
	return p, steps, nil
}

// Methods returns merge method names in a stable order.
func Methods() []string {
	n := merge.Names()
	sort.Strings(n)
	return n
}
