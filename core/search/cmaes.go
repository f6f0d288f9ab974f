package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"enmplab/core/num"
)

// CMAConfig configures a CMAES. Zero values select the defaults noted.
type CMAConfig struct {
	N       int       // dimension, >= 1
	X0      []float64 // initial mean: nil = -1 everywhere (ENMP), one entry = broadcast, or N entries
	Sigma0  float64   // initial step size; 0 = 0.5
	Popsize int       // lambda; 0 = 8 (the ENMP reference), see PycmaPopsize; >= 2
	Seed    uint64    // seeds the PCG that draws every normal
}

// DefaultPopsize is the ENMP reference's population size.
const DefaultPopsize = 8

// PycmaPopsize is pycma's default population size 4 + floor(3 ln N),
// which this package does not use unless asked (ENMP fixes 8).
func PycmaPopsize(n int) int {
	if n < 1 {
		return 4
	}
	return 4 + int(math.Floor(3*num.Log(float64(n))))
}

// pcgStream is the second PCG word; Seed is the first. Fixed so that one
// uint64 seed names a run.
const pcgStream = 0x9e3779b97f4a7c15

// CMAES is an ask/tell CMA-ES that minimises: Tell takes values to be
// minimised, so a maximising caller passes -fitness (CMASearcher does).
//
// It follows pycma 3.3.0 with default options: log-linear recombination
// weights over the best mu = lambda/2 (weights of the worse half are active
// CMA's negative weights, finalised as pycma's RecombinationWeights does:
// sum set to 1 + c1/cmu, then limited for positive definiteness and by
// mueff-), the same learning rates c1, cmu, cc, cs and damping, cumulative
// step-size adaptation with pycma's chiN and its clip of the log step
// change to [-1, 1], the stall of the rank-one update (hsig) with its
// variance correction, negative-weight vectors rescaled to Mahalanobis
// length sqrt(N), pycma's tiny initial anisotropy diag(exp(1e-4 i/N)), and
// lazy eigendecomposition every 1/(c1+cmu)/N/10 tells, as pycma's
// GaussFullSampler and Hansen's purecma do.
//
// Differences from pycma's defaults:
//   - Normals come from num.Normal (Marsaglia's polar method) on a math/rand/v2
//     PCG seeded with Seed, not numpy's Mersenne Twister, so no run matches
//     pycma's numbers; all arithmetic uses num.Exp/num.Log, math.Sqrt and a
//     pure-Go eigensolver, so native (amd64) and js/wasm runs are bit-identical.
//     (Architectures where Go fuses multiply-adds, such as arm64, may differ.)
//   - Popsize defaults to 8, not 4 + floor(3 ln N).
//   - No mirrored sampling: pycma mirrors when popsize < 6.
//   - Ties in fitness are ranked by index (stable sort); numpy's argsort is not stable.
//   - No termination criteria are enforced: Stop reports pycma's tolfun and
//     tolflatfitness conditions and the caller decides; iteration limits are
//     the caller's. No tolx, tolstagnation, conditioning or noeffect checks.
//   - No bounds, no elitism, no injection, no diagonal-only phase (as pycma's defaults).
//   - Non-finite fitness values are rejected instead of replaced by the median.
type CMAES struct {
	cfg CMAConfig

	// Strategy parameters, derived from cfg only.
	n, lam, mu                          int
	weights                             []float64
	mueff, cc, cs, c1, cmu, damps, chiN float64
	gap                                 float64 // tells between eigendecompositions

	// State.
	mean, ps, pc []float64
	sigma        float64
	c, b, d      []float64 // covariance, its eigenvectors (columns) and sqrt eigenvalues, row-major n*n
	countIter    int       // completed tells (generations)
	countTell    int       // covariance updates since start
	lastUpdate   int       // countTell at the last eigendecomposition
	pcg          *rand.PCG
	rng          *rand.Rand
	pop          [][]float64 // the asked, not yet told generation
	flatIters    int
	hist         []float64 // best value of recent generations, newest first
	stop         string
}

// NewCMAES validates cfg and returns a CMA-ES at generation 0.
func NewCMAES(cfg CMAConfig) (*CMAES, error) {
	if cfg.N < 1 {
		return nil, fmt.Errorf("search: CMA-ES dimension N = %d, need >= 1", cfg.N)
	}
	if cfg.N > 1<<14 {
		return nil, fmt.Errorf("search: CMA-ES dimension N = %d too large for a full covariance", cfg.N)
	}
	if cfg.Sigma0 == 0 {
		cfg.Sigma0 = 0.5
	}
	if !(cfg.Sigma0 > 0) || math.IsInf(cfg.Sigma0, 0) {
		return nil, fmt.Errorf("search: CMA-ES sigma0 %v must be positive and finite", cfg.Sigma0)
	}
	if cfg.Popsize == 0 {
		cfg.Popsize = DefaultPopsize
	}
	if cfg.Popsize < 2 {
		return nil, fmt.Errorf("search: CMA-ES popsize %d, need >= 2", cfg.Popsize)
	}
	mean := make([]float64, cfg.N)
	switch len(cfg.X0) {
	case 0:
		for i := range mean {
			mean[i] = -1
		}
	case 1:
		for i := range mean {
			mean[i] = cfg.X0[0]
		}
	case cfg.N:
		copy(mean, cfg.X0)
	default:
		return nil, fmt.Errorf("search: CMA-ES x0 has %d entries, want 0, 1 or %d", len(cfg.X0), cfg.N)
	}
	for _, v := range mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("search: CMA-ES x0 must be finite")
		}
	}
	cfg.X0 = append([]float64(nil), cfg.X0...)

	e := &CMAES{cfg: cfg, n: cfg.N, lam: cfg.Popsize, mean: mean, sigma: cfg.Sigma0}
	e.setParameters()
	n := e.n
	e.ps = make([]float64, n)
	e.pc = make([]float64, n)
	e.c = make([]float64, n*n)
	e.b = make([]float64, n*n)
	e.d = make([]float64, n)
	for i := 0; i < n; i++ {
		// pycma's GaussFullSampler starts from this barely anisotropic C so
		// that eigenvectors are well defined from the start.
		v := num.Exp(1e-4 / float64(n) * float64(i))
		e.c[i*n+i] = v
		e.b[i*n+i] = 1
		e.d[i] = math.Sqrt(v)
	}
	e.pcg = rand.NewPCG(cfg.Seed, pcgStream)
	e.rng = rand.New(e.pcg)
	return e, nil
}

// setParameters derives weights and learning rates as pycma 3.3.0 does.
func (e *CMAES) setParameters() {
	n, lam := float64(e.n), e.lam
	w := make([]float64, lam)
	lh := num.Log(float64(lam+1) / 2)
	mu := 0
	for i := range w {
		w[i] = lh - num.Log(float64(i+1))
		if w[i] > 0 {
			mu++
		}
	}
	spos, sw2 := 0.0, 0.0
	for i := 0; i < mu; i++ {
		spos += w[i]
	}
	for i := range w {
		w[i] /= spos
	}
	for i := 0; i < mu; i++ {
		sw2 += w[i] * w[i]
	}
	e.mu, e.mueff = mu, 1/sw2
	negSum := func() float64 {
		s := 0.0
		for _, x := range w[mu:] {
			s += x
		}
		return s
	}
	if s := negSum(); s != 0 {
		for i := mu; i < lam; i++ {
			w[i] /= -s
		}
	}
	mueff := e.mueff
	e.cc = (4 + mueff/n) / (n + 4 + 2*mueff/n)
	e.c1 = math.Min(1, float64(lam)/6) * 2 / ((n+1.3)*(n+1.3) + mueff)
	e.cmu = math.Min(1-e.c1, 2*(0.25+mueff-2+1/mueff)/((n+2)*(n+2)+mueff))
	// finalize_negative_weights(N, c1, cmu)
	if w[lam-1] < 0 && e.cmu > 0 {
		scaleTo := func(value float64, limitOnly bool) {
			s := negSum()
			if limitOnly && s >= -value {
				return
			}
			f := math.Abs(value / s)
			if limitOnly && f >= 1 {
				return
			}
			for i := mu; i < lam; i++ {
				w[i] *= f
			}
		}
		scaleTo(1+e.c1/e.cmu, false)
		scaleTo((1-e.c1-e.cmu)/e.cmu/n, true)
		sneg, sneg2 := 0.0, 0.0
		for _, x := range w[mu:] {
			sneg += x
			sneg2 += x * x
		}
		mueffMinus := 0.0
		if sneg != 0 {
			mueffMinus = sneg * sneg / sneg2
		}
		scaleTo(1+2*mueffMinus/(mueff+2), true)
	}
	e.weights = w
	e.cs = (mueff + 2) / (n + mueff + 3)
	e.damps = 1 + 2*math.Max(0, math.Sqrt((mueff-1)/(n+1))-1) + e.cs
	e.chiN = chiN(e.n)
	e.gap = 1 / (e.c1 + e.cmu + 1e-23) / n / 10
}

// chiN approximates E||N(0,I)||, with pycma's exact table for small n.
func chiN(n int) float64 {
	table := [...]float64{0, 0.7978845608028654, 1.2533141373156, 1.59576912160573,
		1.87997120597325, 2.1276921621409746, 2.3499640074665633}
	if n < len(table) {
		return table[n]
	}
	f := float64(n)
	return math.Sqrt(f) * (1 - 1/(4*f) + 1/(26*f*f))
}

// Config returns the configuration with defaults filled in.
func (e *CMAES) Config() CMAConfig {
	c := e.cfg
	c.X0 = append([]float64(nil), c.X0...)
	return c
}

// Popsize returns lambda.
func (e *CMAES) Popsize() int { return e.lam }

// Generation returns the number of completed Tell calls.
func (e *CMAES) Generation() int { return e.countIter }

// Sigma returns the current step size.
func (e *CMAES) Sigma() float64 { return e.sigma }

// Mean returns a copy of the current distribution mean.
func (e *CMAES) Mean() []float64 { return append([]float64(nil), e.mean...) }

// Weights returns a copy of the finalised recombination weights (negative
// ones included), for inspection and tests.
func (e *CMAES) Weights() []float64 { return append([]float64(nil), e.weights...) }

// Stop returns "tolfun" or "tolflatfitness" when pycma's criterion of that
// name holds after the last Tell, "" otherwise. CMAES itself never stops.
func (e *CMAES) Stop() string { return e.stop }

// Ask returns the current generation's popsize candidates (copies). Until
// Tell is called it returns the same generation again, so a caller that
// lost it (a reloaded page) can ask again without changing the run.
func (e *CMAES) Ask() [][]float64 {
	if e.pop == nil {
		e.sample()
	}
	out := make([][]float64, len(e.pop))
	for i, x := range e.pop {
		out[i] = append([]float64(nil), x...)
	}
	return out
}

func (e *CMAES) sample() {
	e.updateEigen()
	n := e.n
	z := make([]float64, n)
	e.pop = make([][]float64, e.lam)
	for k := range e.pop {
		for j := range z {
			z[j] = num.Normal(e.rng) * e.d[j]
		}
		x := make([]float64, n)
		for i := 0; i < n; i++ {
			y := 0.0
			row := e.b[i*n : i*n+n]
			for j, bij := range row {
				y += bij * z[j]
			}
			x[i] = e.mean[i] + e.sigma*y
		}
		e.pop[k] = x
	}
}

// updateEigen re-decomposes C when pycma's lazy gap has passed.
func (e *CMAES) updateEigen() {
	if float64(e.countTell) < float64(e.lastUpdate)+e.gap || (e.gap == 0 && e.countTell == e.lastUpdate) {
		return
	}
	n := e.n
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			s := (e.c[i*n+j] + e.c[j*n+i]) / 2
			e.c[i*n+j], e.c[j*n+i] = s, s
		}
	}
	for attempt := 0; ; attempt++ {
		vals, vecs, err := symEigen(n, e.c)
		ok := err == nil
		if ok {
			for _, v := range vals {
				if !(v > 0) {
					ok = false
					break
				}
			}
		}
		if ok {
			for i, v := range vals {
				e.d[i] = math.Sqrt(v)
			}
			e.b = vecs
			break
		}
		if attempt == 10 {
			// Keep the previous B and D: sampling stays valid.
			break
		}
		// pycma's recovery: add the old smallest variance to the diagonal.
		minD2 := e.d[0] * e.d[0]
		for _, v := range e.d {
			minD2 = math.Min(minD2, v*v)
		}
		for i := 0; i < n; i++ {
			e.c[i*n+i] += minD2
		}
	}
	e.lastUpdate = e.countTell
}

// invSqrtC returns C^{-1/2} v with the B and D used for sampling.
func (e *CMAES) invSqrtC(v []float64) []float64 {
	n := e.n
	t := make([]float64, n)
	for i := 0; i < n; i++ {
		row := e.b[i*n : i*n+n]
		for j, bij := range row {
			t[j] += bij * v[i] // t = B^T v
		}
	}
	for j := range t {
		t[j] /= e.d[j]
	}
	out := make([]float64, n)
	for i := 0; i < n; i++ {
		row := e.b[i*n : i*n+n]
		s := 0.0
		for j, bij := range row {
			s += bij * t[j]
		}
		out[i] = s
	}
	return out
}

// mahalanobis returns ||D^{-1} B^T v||.
func (e *CMAES) mahalanobis(v []float64) float64 {
	n := e.n
	t := make([]float64, n)
	for i := 0; i < n; i++ {
		row := e.b[i*n : i*n+n]
		for j, bij := range row {
			t[j] += bij * v[i]
		}
	}
	s := 0.0
	for j := range t {
		q := t[j] / e.d[j]
		s += q * q
	}
	return math.Sqrt(s)
}

// Tell takes the values to minimise for the generation returned by Ask,
// in the same order, and updates the distribution.
func (e *CMAES) Tell(values []float64) error {
	if e.pop == nil {
		return errors.New("search: CMA-ES Tell without Ask")
	}
	if len(values) != e.lam {
		return fmt.Errorf("search: CMA-ES Tell got %d values, want %d", len(values), e.lam)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("search: CMA-ES value %d is %v; values must be finite", i, v)
		}
	}
	n, lam := e.n, e.lam
	e.countIter++
	idx := make([]int, lam)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return values[idx[a]] < values[idx[b]] })
	fit := make([]float64, lam)
	for i, k := range idx {
		fit[i] = values[k]
	}

	mold := e.mean
	mean := make([]float64, n)
	for i := 0; i < e.mu; i++ {
		x, w := e.pop[idx[i]], e.weights[i]
		for j := range mean {
			mean[j] += w * x[j]
		}
	}
	dm := make([]float64, n)
	for j := range dm {
		dm[j] = mean[j] - mold[j]
	}

	// ps with the old B, D; then hsig.
	z := e.invSqrtC(dm)
	sq := math.Sqrt(e.mueff) / e.sigma
	csn := math.Sqrt(e.cs * (2 - e.cs))
	for j := range e.ps {
		e.ps[j] = (1-e.cs)*e.ps[j] + csn*(z[j]*sq)
	}
	psSq := 0.0
	for _, v := range e.ps {
		psSq += v * v
	}
	hsig := 0.0
	if psSq/(1-powInt(1-e.cs, 2*e.countIter))/float64(n)-1 < 1+4/float64(n+1) {
		hsig = 1
	}
	c1a := e.c1 * (1 - (1-hsig)*e.cc*(2-e.cc))
	ccn := hsig * math.Sqrt(e.cc*(2-e.cc)*e.mueff) / e.sigma
	for j := range e.pc {
		e.pc[j] = (1-e.cc)*e.pc[j] + ccn*dm[j]
	}

	// Covariance: rank-one with pc, rank-mu with all lambda steps, the worse
	// half with negative weights rescaled to Mahalanobis length sqrt(N).
	vecs := make([][]float64, 0, lam+1)
	ws := make([]float64, 0, lam+1)
	v0 := make([]float64, n)
	f0 := math.Sqrt(e.c1 / (c1a + 1e-23))
	for j := range v0 {
		v0[j] = f0 * e.pc[j]
	}
	vecs = append(vecs, v0)
	ws = append(ws, c1a)
	for i, k := range idx {
		y := make([]float64, n)
		for j := range y {
			y[j] = (e.pop[k][j] - mold[j]) / e.sigma
		}
		vecs = append(vecs, y)
		ws = append(ws, e.cmu*e.weights[i])
	}
	decay := 1.0
	for _, w := range ws {
		decay -= w
	}
	for k := range ws {
		if ws[k] < 0 {
			nm := e.mahalanobis(vecs[k]) + 1e-9
			ws[k] *= float64(n) / (nm * nm)
		}
	}
	for i := range e.c {
		e.c[i] *= decay
	}
	for k, y := range vecs {
		w := ws[k]
		if w == 0 {
			continue
		}
		for i := 0; i < n; i++ {
			wy := w * y[i]
			row := e.c[i*n : i*n+n]
			for j := range row {
				row[j] += wy * y[j]
			}
		}
	}
	e.countTell++
	e.mean = mean

	// CSA.
	s := (math.Sqrt(psSq)/e.chiN - 1) * e.cs / e.damps
	s = math.Max(-1, math.Min(1, s))
	e.sigma *= num.Exp(s)

	// pycma's tolfun and tolflatfitness bookkeeping.
	e.hist = append([]float64{fit[0]}, e.hist...)
	if float64(len(e.hist)) > 10+30*float64(n)/float64(lam) {
		e.hist = e.hist[:len(e.hist)-1]
	}
	if fit[0] < fit[int(0.75*float64(lam))] {
		e.flatIters = 0
	} else {
		e.flatIters++
	}
	hmin, hmax := e.hist[0], e.hist[0]
	for _, v := range e.hist {
		hmin, hmax = math.Min(hmin, v), math.Max(hmax, v)
	}
	switch {
	case fit[lam-1]-fit[0] < 1e-11 && hmax-hmin < 1e-11:
		e.stop = "tolfun"
	case e.flatIters > 1:
		e.stop = "tolflatfitness"
	default:
		e.stop = ""
	}
	e.pop = nil
	return nil
}

// powInt returns x**k for k >= 0 by repeated squaring (deterministic).
func powInt(x float64, k int) float64 {
	r := 1.0
	for k > 0 {
		if k&1 == 1 {
			r *= x
		}
		x *= x
		k >>= 1
	}
	return r
}

// cmaState is the serialised CMAES. Derived parameters are recomputed from
// Config on restore; everything that evolves is stored. encoding/json
// writes floats in the shortest form that round-trips, so restore is exact.
type cmaState struct {
	Config     CMAConfig   `json:"config"`
	Mean       []float64   `json:"mean"`
	Sigma      float64     `json:"sigma"`
	PS         []float64   `json:"ps"`
	PC         []float64   `json:"pc"`
	C          []float64   `json:"C"`
	B          []float64   `json:"B"`
	D          []float64   `json:"D"`
	CountIter  int         `json:"countiter"`
	CountTell  int         `json:"counttell"`
	LastUpdate int         `json:"lastupdate"`
	RNG        []byte      `json:"rng"`
	Pop        [][]float64 `json:"pop,omitempty"`
	FlatIters  int         `json:"flatiters"`
	Hist       []float64   `json:"hist"`
	Stop       string      `json:"stop,omitempty"`
}

// MarshalState serialises the complete state as JSON; UnmarshalState on a
// fresh CMAES continues the run bit-identically, pending Ask included.
func (e *CMAES) MarshalState() ([]byte, error) {
	st, err := e.state()
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

func (e *CMAES) state() (*cmaState, error) {
	if e == nil || e.pcg == nil {
		return nil, errors.New("search: CMA-ES not initialised")
	}
	rng, err := e.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &cmaState{
		Config: e.Config(), Mean: e.mean, Sigma: e.sigma, PS: e.ps, PC: e.pc,
		C: e.c, B: e.b, D: e.d, CountIter: e.countIter, CountTell: e.countTell,
		LastUpdate: e.lastUpdate, RNG: rng, Pop: e.pop, FlatIters: e.flatIters,
		Hist: e.hist, Stop: e.stop,
	}, nil
}

// UnmarshalState replaces e with the state in data (from MarshalState).
// The zero CMAES may be used as the receiver.
func (e *CMAES) UnmarshalState(data []byte) error {
	var st cmaState
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	return e.restore(&st)
}

func (e *CMAES) restore(st *cmaState) error {
	ne, err := NewCMAES(st.Config)
	if err != nil {
		return err
	}
	n := ne.n
	if len(st.Mean) != n || len(st.PS) != n || len(st.PC) != n || len(st.D) != n ||
		len(st.C) != n*n || len(st.B) != n*n {
		return errors.New("search: CMA-ES state has inconsistent sizes")
	}
	if st.Pop != nil {
		if len(st.Pop) != ne.lam {
			return errors.New("search: CMA-ES state has a wrong-sized pending population")
		}
		for _, x := range st.Pop {
			if len(x) != n {
				return errors.New("search: CMA-ES state has a wrong-sized candidate")
			}
		}
	}
	if !(st.Sigma > 0) || st.CountIter < 0 || st.CountTell < 0 || st.LastUpdate < 0 || st.LastUpdate > st.CountTell {
		return errors.New("search: CMA-ES state has invalid counters or sigma")
	}
	for _, v := range st.D {
		if !(v > 0) {
			return errors.New("search: CMA-ES state has non-positive axis lengths")
		}
	}
	if err := ne.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("search: CMA-ES state rng: %w", err)
	}
	ne.mean, ne.sigma, ne.ps, ne.pc = st.Mean, st.Sigma, st.PS, st.PC
	ne.c, ne.b, ne.d = st.C, st.B, st.D
	ne.countIter, ne.countTell, ne.lastUpdate = st.CountIter, st.CountTell, st.LastUpdate
	ne.pop, ne.flatIters, ne.hist, ne.stop = st.Pop, st.FlatIters, st.Hist, st.Stop
	*e = *ne
	return nil
}
