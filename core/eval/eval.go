// Package eval computes ENMP's fitness: merge the surviving experts with a
// mask, run every task's validation samples through the merged backbone with
// that task's own head, and score mean normalised accuracy minus the
// unpruned baseline's. It makes the search cheap without changing a single
// result: identical masks are evaluated once, merged matrices are cached per
// (layer, projection, survivors), the activations before the first layer
// whose merge differs from a cached one are reused, and candidates run in
// parallel. Every path gives bit-identical numbers.
package eval

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/merge"
	"enmplab/core/nn"
	"enmplab/core/search"
)

// Options configure an Evaluator.
type Options struct {
	Method string       // merge method name (merge.Names)
	Params merge.Params // its hyperparameters; zero value = merge.Defaults(Method)
	Lambda float64      // scaling of the merged delta; 0 = Params.Lambda
	// ValPerTask limits the validation samples per task (0 = all shipped).
	ValPerTask int
	// Projs is 0 for (layer, task) modules or len(nn.Projections) for
	// (layer, task, projection) modules.
	Projs int
	// Seed drives DARE; the drop mask of one matrix depends on (Seed, layer,
	// projection, task) only, so a mask always gets the same fitness.
	Seed uint64
	// Workers evaluates that many candidates at once (0 = GOMAXPROCS).
	Workers int
	// NoDedup, NoPrefix and NoMergeCache switch the speed-ups off (for benchmarks).
	NoDedup, NoPrefix, NoMergeCache bool
	// Known, when set, supplies what New would otherwise measure, as an
	// evaluator of the same family and options measured it (the browser
	// measures it in one worker and hands it to the others). Numbers are
	// unchanged; only the work is skipped.
	Known *Reference
}

// Reference is what New measures before any mask: each expert alone on its
// own task (validation and test) and the unpruned merge on validation.
// A nil or short slice, or a nil Baseline, is measured as usual.
type Reference struct {
	ExpertVal  []float64 `json:"expert_val"`
	ExpertTest []float64 `json:"expert_test,omitempty"`
	Baseline   *Eval     `json:"baseline,omitempty"`
}

// Eval is the outcome of one mask on one split.
type Eval struct {
	Acc        []float64 `json:"acc"`        // per task accuracy
	Normalised []float64 `json:"normalised"` // acc / expert acc * 100
	Mean       float64   `json:"mean"`       // mean normalised accuracy
	Fitness    float64   `json:"fitness"`    // Mean minus the unpruned baseline's Mean (validation only)
}

// Stats count the work done and saved.
type Stats struct {
	Requested     int `json:"requested"`      // fitness evaluations asked for
	Evaluated     int `json:"evaluated"`      // actually computed
	DedupHits     int `json:"dedup_hits"`     // answered from the mask cache
	LayersRun     int `json:"layers_run"`     // transformer layers run over the validation set
	LayersSkipped int `json:"layers_skipped"` // reused from cached activations
	MergesRun     int `json:"merges_run"`
	MergesReused  int `json:"merges_reused"`
}

// Evaluator scores masks for one family, method and lambda.
type Evaluator struct {
	fam    *bundle.Family
	o      Options
	method merge.Method
	lambda float64
	space  search.Space

	val, test   split
	expertVal   []float64
	expertTest  []float64
	baseline    Eval // unpruned, validation
	mu          sync.Mutex
	results     map[string]Eval
	merges      map[string][]float32
	prefixes    map[string][]float32 // key: mask rows before layer l -> input of layer l (validation)
	prefixOrder []string
	stats       Stats
}

// split is one data split of every task, concatenated, with offsets.
type split struct {
	x      []uint8
	y      []int32
	n      int
	offset []int // offset[t] .. offset[t+1] are task t's samples
}

func concat(tasks []data.Task, f data.Family, pick func(data.Task) data.Split, limit int) split {
	size := data.SampleSize(f)
	s := split{offset: []int{0}}
	for _, t := range tasks {
		sp := pick(t).Head(limit, size)
		s.x = append(s.x, sp.X...)
		s.y = append(s.y, sp.Y...)
		s.n += sp.Len()
		s.offset = append(s.offset, s.n)
	}
	return s
}

type expertKey struct {
	fam *bundle.Family
	val int
}

var expertCache sync.Map // expertKey -> [2][]float64{val, test}

// New prepares an evaluator: it measures each expert alone (the
// normalisation) and the unpruned merge (the baseline).
func New(fam *bundle.Family, o Options) (*Evaluator, error) {
	if fam == nil || len(fam.Tasks) == 0 {
		return nil, fmt.Errorf("eval: no family or no tasks")
	}
	if o.Method == "" {
		o.Method = "ta"
	}
	if o.Params == (merge.Params{}) {
		p, err := merge.Defaults(o.Method)
		if err != nil {
			return nil, err
		}
		o.Params = p
	}
	m, err := merge.New(o.Method, o.Params)
	if err != nil {
		return nil, err
	}
	if o.Projs != 0 && o.Projs != len(nn.Projections) {
		return nil, fmt.Errorf("eval: projections per module must be 0 or %d, got %d", len(nn.Projections), o.Projs)
	}
	if o.ValPerTask < 0 {
		return nil, fmt.Errorf("eval: negative validation samples per task %d", o.ValPerTask)
	}
	e := &Evaluator{fam: fam, o: o, method: m, lambda: o.Lambda,
		space:   search.Space{Layers: fam.Config.Layers, Tasks: len(fam.Tasks), Projs: o.Projs},
		results: map[string]Eval{}, merges: map[string][]float32{}, prefixes: map[string][]float32{}}
	if e.lambda == 0 {
		e.lambda = o.Params.Lambda
	}
	if e.lambda <= 0 {
		return nil, fmt.Errorf("eval: lambda must be positive, got %v", e.lambda)
	}
	f := fam.Config.Family
	e.val = concat(fam.Tasks, f, func(t data.Task) data.Split { return t.Val }, o.ValPerTask)
	e.test = concat(fam.Tasks, f, func(t data.Task) data.Split { return t.Test }, 0)
	for i := range fam.Tasks {
		if e.val.offset[i+1] == e.val.offset[i] {
			return nil, fmt.Errorf("eval: task %s has no validation samples", fam.Tasks[i].Name)
		}
	}
	// Each expert alone on its own task: the denominator of normalised
	// accuracy. It depends only on the family and the validation size, so
	// evaluators of the same family (tuning builds dozens) share it.
	key := expertKey{fam, o.ValPerTask}
	if k := o.Known; k != nil && len(k.ExpertVal) == len(fam.Tasks) {
		e.expertVal = append([]float64(nil), k.ExpertVal...)
		if len(k.ExpertTest) == len(fam.Tasks) {
			e.expertTest = append([]float64(nil), k.ExpertTest...)
		} else {
			for i := range fam.Tasks {
				em := fam.Experts[i].Apply(fam.Backbone, 1)
				e.expertTest = append(e.expertTest, e.taskAcc(em, e.test, i))
			}
		}
	} else if v, ok := expertCache.Load(key); ok {
		acc := v.([2][]float64)
		e.expertVal, e.expertTest = acc[0], acc[1]
	} else {
		for i := range fam.Tasks {
			em := fam.Experts[i].Apply(fam.Backbone, 1)
			e.expertVal = append(e.expertVal, e.taskAcc(em, e.val, i))
			e.expertTest = append(e.expertTest, e.taskAcc(em, e.test, i))
		}
		expertCache.Store(key, [2][]float64{e.expertVal, e.expertTest})
	}
	if o.Known != nil && o.Known.Baseline != nil && len(o.Known.Baseline.Acc) == len(fam.Tasks) {
		e.baseline = *o.Known.Baseline
		return e, nil
	}
	base, err := e.score(search.NewMask(e.space.Layers, e.space.Tasks), e.lambda, false)
	if err != nil {
		return nil, err
	}
	e.baseline = base
	e.baseline.Fitness = 0
	return e, nil
}

// Space is the module space masks live in.
func (e *Evaluator) Space() search.Space { return e.space }

// Lambda is the default lambda.
func (e *Evaluator) Lambda() float64 { return e.lambda }

// Method is the merge method.
func (e *Evaluator) Method() merge.Method { return e.method }

// Baseline is the unpruned merge on validation.
func (e *Evaluator) Baseline() Eval { return e.baseline }

// Experts returns each expert's accuracy on its task (validation, test).
func (e *Evaluator) Experts() (val, test []float64) { return e.expertVal, e.expertTest }

// Stats returns the work counters so far.
func (e *Evaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// taskAcc is task t's accuracy under backbone m on split s (no caching).
func (e *Evaluator) taskAcc(m *nn.Backbone, s split, t int) float64 {
	size := e.fam.Config.InputSize
	lo, hi := s.offset[t], s.offset[t+1]
	feat, _ := m.Forward(s.x[lo*size:hi*size], hi-lo, false)
	return accuracy(e.fam.Heads[t], feat, s.y[lo:hi], e.fam.Config.Width)
}

func accuracy(h *nn.Head, feat []float32, y []int32, width int) float64 {
	n := len(y)
	if n == 0 {
		return 0
	}
	pred := nn.Predict(h.Logits(feat, n, width), n, h.Classes)
	ok := 0
	for i, p := range pred {
		if p == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(n)
}

// Evaluate returns the validation fitness of pruning mask m with scaling
// lambda (0 = the default).
func (e *Evaluator) Evaluate(m search.Mask, lambda float64) (Eval, error) {
	if lambda == 0 {
		lambda = e.lambda
	}
	if err := e.checkMask(m); err != nil {
		return Eval{}, err
	}
	key := fmt.Sprintf("%s@%v", m.Key(), lambda)
	e.mu.Lock()
	e.stats.Requested++
	if r, ok := e.results[key]; ok && !e.o.NoDedup {
		e.stats.DedupHits++
		e.mu.Unlock()
		return r, nil
	}
	e.mu.Unlock()
	r, err := e.score(m, lambda, false)
	if err != nil {
		return Eval{}, err
	}
	r.Fitness = r.Mean - e.baseline.Mean
	e.mu.Lock()
	e.stats.Evaluated++
	if !e.o.NoDedup {
		e.results[key] = r
	}
	e.mu.Unlock()
	return r, nil
}

// Test scores mask m on the test split: for reporting only, never for search.
func (e *Evaluator) Test(m search.Mask, lambda float64) (Eval, error) {
	if lambda == 0 {
		lambda = e.lambda
	}
	if err := e.checkMask(m); err != nil {
		return Eval{}, err
	}
	return e.score(m, lambda, true)
}

func (e *Evaluator) checkMask(m search.Mask) error {
	if m.Layers != e.space.Layers || m.Tasks != e.space.Tasks || m.Projs != e.space.Projs {
		return fmt.Errorf("eval: mask is %dx%dx%d, the family needs %dx%dx%d", m.Layers, m.Tasks, m.Projs,
			e.space.Layers, e.space.Tasks, e.space.Projs)
	}
	return nil
}

// Prune describes a mask as a function of (layer, task, projection).
func pruned(m search.Mask, l, t, p int) bool {
	if m.Projs == 0 {
		return m.Get(l, t)
	}
	return m.Pruned(l, t, p)
}

// rowKey identifies the survivors of layer l (all projections).
func rowKey(m search.Mask, l int) string {
	var b strings.Builder
	for t := 0; t < m.Tasks; t++ {
		for p := range nn.Projections {
			if pruned(m, l, t, p) {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
	}
	return b.String()
}

// mergedLayer returns the four merged attention matrices of layer l.
func (e *Evaluator) mergedLayer(m search.Mask, l int, lambda float64) ([4][]float32, error) {
	return e.merged(m, l, lambda, false)
}

// Phi returns the merged (unscaled) delta of each attention projection of
// layer l under mask m, row-major [Width x Width], exactly as the
// evaluator adds it (W = W0 + lambda*Phi): for exports. The slices are
// shared with the evaluator's cache and must not be modified.
func (e *Evaluator) Phi(m search.Mask, l int) ([4][]float32, error) {
	if err := e.checkMask(m); err != nil {
		return [4][]float32{}, err
	}
	if l < 0 || l >= e.fam.Config.Layers {
		return [4][]float32{}, fmt.Errorf("eval: layer %d outside [0,%d)", l, e.fam.Config.Layers)
	}
	return e.merged(m, l, 0, true)
}

func (e *Evaluator) merged(m search.Mask, l int, lambda float64, phiOnly bool) ([4][]float32, error) {
	var out [4][]float32
	c := e.fam.Config
	d := c.Width
	for p := range nn.Projections {
		var survivors []merge.LoRA
		var ids []int
		for t := range e.fam.Tasks {
			if pruned(m, l, t, p) {
				continue
			}
			lo := e.fam.Experts[t]
			survivors = append(survivors, merge.LoRA{A: lo.A[l][p], B: lo.B[l][p], Rank: lo.Rank, In: d, Out: d, Scale: lo.Scale()})
			ids = append(ids, t)
		}
		key := fmt.Sprintf("%d/%d/%v", l, p, ids)
		e.mu.Lock()
		phi, ok := e.merges[key]
		if ok {
			e.stats.MergesReused++
		}
		e.mu.Unlock()
		if !ok || e.o.NoMergeCache {
			var err error
			phi, err = e.method.Merge(merge.Context{Out: d, In: d, Seed: matrixSeed(e.o.Seed, l, p), Tasks: ids}, survivors)
			if err != nil {
				return out, fmt.Errorf("eval: merge layer %d %s: %w", l, nn.Projections[p], err)
			}
			e.mu.Lock()
			e.stats.MergesRun++
			if !e.o.NoMergeCache {
				e.merges[key] = phi
			}
			e.mu.Unlock()
		}
		if phiOnly {
			out[p] = phi
			continue
		}
		w := append([]float32(nil), e.fam.Backbone.Blocks[l].Proj(p)...)
		lam := float32(lambda)
		for i := range w {
			w[i] += lam * phi[i]
		}
		out[p] = w
	}
	return out, nil
}

// matrixSeed mixes the run seed with the matrix position (splitmix64).
func matrixSeed(seed uint64, l, p int) uint64 {
	z := seed + uint64(l)*0x9e3779b97f4a7c15 + uint64(p+1)*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const maxPrefixes = 48 // bounded, so the browser's memory stays small

// score runs the merged model over a split.
func (e *Evaluator) score(m search.Mask, lambda float64, test bool) (Eval, error) {
	c := e.fam.Config
	s, feat, err := e.features(m, lambda, test)
	if err != nil {
		return Eval{}, err
	}
	r := Eval{}
	expert := e.expertVal
	if test {
		expert = e.expertTest
	}
	for t := range e.fam.Tasks {
		lo, hi := s.offset[t], s.offset[t+1]
		a := accuracy(e.fam.Heads[t], feat[lo*c.Width:hi*c.Width], s.y[lo:hi], c.Width)
		r.Acc = append(r.Acc, a)
		nrm := 0.0
		if expert[t] > 0 {
			nrm = a / expert[t] * 100
		}
		r.Normalised = append(r.Normalised, nrm)
		r.Mean += nrm / float64(len(e.fam.Tasks))
	}
	return r, nil
}

// PredictTest returns, per task, the class the merged model under mask m
// (lambda 0 = the default) predicts for each test sample, in the order of
// the task's test split: the predictions Test counts as right or wrong.
func (e *Evaluator) PredictTest(m search.Mask, lambda float64) ([][]int32, error) {
	if lambda == 0 {
		lambda = e.lambda
	}
	if err := e.checkMask(m); err != nil {
		return nil, err
	}
	c := e.fam.Config
	s, feat, err := e.features(m, lambda, true)
	if err != nil {
		return nil, err
	}
	out := make([][]int32, len(e.fam.Tasks))
	for t, h := range e.fam.Heads {
		lo, hi := s.offset[t], s.offset[t+1]
		out[t] = nn.Predict(h.Logits(feat[lo*c.Width:hi*c.Width], hi-lo, c.Width), hi-lo, h.Classes)
	}
	return out, nil
}

// features runs the merged model over a split and returns the split and
// the backbone's features of every sample.
func (e *Evaluator) features(m search.Mask, lambda float64, test bool) (split, []float32, error) {
	c := e.fam.Config
	s := e.val
	if test {
		s = e.test
	}
	merged := e.fam.Backbone.ShallowCopy()
	for l := 0; l < c.Layers; l++ {
		ws, err := e.mergedLayer(m, l, lambda)
		if err != nil {
			return s, nil, err
		}
		for p, w := range ws {
			merged.Blocks[l].SetProj(p, w)
		}
	}
	// Find the deepest cached prefix (validation only).
	usePrefix := !test && !e.o.NoPrefix
	prefix := fmt.Sprintf("%v|", lambda)
	keys := []string{prefix}
	for l := 0; l < c.Layers; l++ {
		prefix += rowKey(m, l) + "|"
		keys = append(keys, prefix)
	}
	start := 0
	var h []float32
	if usePrefix {
		e.mu.Lock()
		for l := c.Layers - 1; l >= 0; l-- {
			if a, ok := e.prefixes[keys[l]]; ok {
				start, h = l, a
				break
			}
		}
		e.mu.Unlock()
	}
	if h == nil {
		start = 0
		h = merged.Embed(s.x, s.n)
	}
	for l := start; l < c.Layers; l++ {
		if usePrefix {
			e.remember(keys[l], h)
		}
		h = merged.BlockForward(l, h, s.n)
	}
	e.mu.Lock()
	e.stats.LayersRun += c.Layers - start
	e.stats.LayersSkipped += start
	e.mu.Unlock()
	return s, merged.Features(h, s.n), nil
}

func (e *Evaluator) remember(key string, h []float32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.prefixes[key]; ok {
		return
	}
	if len(e.prefixOrder) >= maxPrefixes {
		delete(e.prefixes, e.prefixOrder[0])
		e.prefixOrder = e.prefixOrder[1:]
	}
	e.prefixes[key] = h
	e.prefixOrder = append(e.prefixOrder, key)
}

// EvalFunc adapts the evaluator to search.Run: candidates of one generation
// are scored in parallel, results in candidate order.
func (e *Evaluator) EvalFunc() search.EvalFunc {
	return func(ctx context.Context, cands []search.Candidate) ([]search.Result, error) {
		out := make([]search.Result, len(cands))
		errs := make([]error, len(cands))
		workers := e.o.Workers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		// Identical masks within a generation are computed once, by the first
		// candidate carrying them; the others wait for it and count as hits.
		first := map[string]int{}
		var dups []int
		sem := make(chan struct{}, workers)
		var wg sync.WaitGroup
		for i, c := range cands {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			key := fmt.Sprintf("%s@%v", c.Mask.Key(), c.Lambda)
			if _, ok := first[key]; ok && !e.o.NoDedup {
				dups = append(dups, i)
				continue
			}
			first[key] = i
			wg.Add(1)
			sem <- struct{}{}
			go func(i int, c search.Candidate) {
				defer func() { <-sem; wg.Done() }()
				r, err := e.Evaluate(c.Mask, c.Lambda)
				out[i] = search.Result{Candidate: c, Fitness: r.Fitness, PerTask: r.Normalised}
				errs[i] = err
			}(i, c)
		}
		wg.Wait()
		for _, i := range dups {
			c := cands[i]
			r, err := e.Evaluate(c.Mask, c.Lambda) // a cache hit now
			out[i] = search.Result{Candidate: c, Fitness: r.Fitness, PerTask: r.Normalised}
			errs[i] = err
		}
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}
