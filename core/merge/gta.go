package merge

import (
	"math/rand/v2"
	"slices"
)

// Sparsify is the per-expert step of generalised task arithmetic.
type Sparsify int

const (
	NoSparsify Sparsify = iota // keep every entry
	Magnitude                  // TIES trim: keep the top TopK fraction by |x|
	DARE                       // drop with probability DropRate, rescale by 1/(1-DropRate)
)

// Consensus is the cross-expert step of generalised task arithmetic.
type Consensus int

const (
	Sum  Consensus = iota // sum over experts (task arithmetic)
	Mean                  // mean over experts
	TIES                  // sign election, then mean of the agreeing nonzero entries
)

// TaskArithmetic is generalised task arithmetic: each expert's Delta W is
// sparsified independently, then the experts are combined by a consensus
// rule. ta, avg, ties, dare_ties and dare_linear are configurations of it.
type TaskArithmetic struct {
	Label     string
	Sparsify  Sparsify
	Consensus Consensus
	P         Params
}

func (m TaskArithmetic) Name() string   { return m.Label }
func (m TaskArithmetic) Params() Params { return m.P }

// Merge merges LoRA experts; see Method.
func (m TaskArithmetic) Merge(ctx Context, experts []LoRA) ([]float32, error) {
	return mergeLoRA(m, ctx, experts)
}

// MergeDense merges full matrices; see DenseMethod.
func (m TaskArithmetic) MergeDense(ctx Context, ms []Matrix) (Matrix, error) {
	if err := checkDense(ctx, ms); err != nil {
		return Matrix{}, err
	}
	if err := m.P.validate(); err != nil {
		return Matrix{}, err
	}
	out := zeros(ctx.Out, ctx.In)
	if len(ms) == 0 {
		return out, nil
	}
	xs := make([][]float64, len(ms))
	for t, mt := range ms {
		x := slices.Clone(mt.Data) // never modify the caller's matrices
		switch m.Sparsify {
		case Magnitude:
			trim(x, m.P.TopK)
		case DARE:
			dare(x, m.P.DropRate, ctx.Seed, taskID(ctx, t))
		}
		xs[t] = x
	}
	switch m.Consensus {
	case Sum, Mean:
		for _, x := range xs {
			for j, v := range x {
				out.Data[j] += v
			}
		}
		if m.Consensus == Mean {
			n := float64(len(xs))
			for j := range out.Data {
				out.Data[j] /= n
			}
		}
	case TIES:
		ties(out.Data, xs)
	}
	return out, nil
}

func taskID(ctx Context, t int) int {
	if ctx.Tasks != nil {
		return ctx.Tasks[t]
	}
	return t
}

// trim zeroes all but the top k fraction of x by magnitude, exactly as the
// reference's topk_values_mask: with d entries, the threshold is the
// (d - floor(d*k))-th smallest |x| and every entry with |x| >= threshold is
// kept, so ties at the threshold are all kept and at least the largest entry
// always survives.
func trim(x []float64, k float64) {
	d := len(x)
	if k >= 1 || d <= 1 {
		return
	}
	kth := d - int(float64(d)*k)
	if kth < 1 {
		return
	}
	abs := make([]float64, d)
	for i, v := range x {
		abs[i] = abs64(v)
	}
	thr := selectKth(abs, kth-1)
	for i, v := range x {
		if abs64(v) < thr {
			x[i] = 0
		}
	}
}

// selectKth returns the k-th smallest (0-based) element of a, reordering a.
// Hoare quickselect with a median-of-three pivot: linear on average and
// deterministic, where a full sort per expert per matrix would dominate TIES.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// dare drops each entry with probability p and rescales the rest by 1/(1-p).
// The mask comes from a PCG stream of its own for (seed, task), drawn in
// row-major order, so it is reproducible and independent of which other
// experts survived. (The reference draws from torch's global RNG and so
// cannot replay a fitness evaluation.)
func dare(x []float64, p float64, seed uint64, task int) {
	if p == 0 {
		return
	}
	r := rand.New(dareSource(seed, task))
	keep := 1 / (1 - p)
	for i, v := range x {
		if r.Float64() < p {
			x[i] = 0
		} else {
			x[i] = v * keep
		}
	}
}

// dareSource hashes (seed, task) into a PCG state. Hashing both words keeps
// neighbouring seeds and task ids from starting on correlated states.
func dareSource(seed uint64, task int) *rand.PCG {
	hi := splitmix(seed)
	return rand.NewPCG(hi, splitmix(hi^splitmix(uint64(task)+0x632be59bd9b4e019)))
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ties writes the TIES consensus of xs into out. Per entry j the elected
// sign is sign(sum_t x_tj); where that sum is exactly 0 the entry takes the
// sign of the sum of all elected signs of the matrix (the reference's
// "majority" resolution). Then out_j is the mean of the nonzero x_tj that
// agree with it (disjoint mean, divided by max(1, count)). As in the
// reference's torch.where(sign > 0, x > 0, x < 0), an entry whose sign is
// still 0 after resolution (a matrix with as many + as - elected signs)
// averages its negative entries.
func ties(out []float64, xs [][]float64) {
	sign := make([]int, len(out))
	total := 0
	for j := range out {
		s := 0.0
		for _, x := range xs {
			s += x[j]
		}
		switch {
		case s > 0:
			sign[j] = 1
		case s < 0:
			sign[j] = -1
		}
		total += sign[j]
	}
	major := 0
	switch {
	case total > 0:
		major = 1
	case total < 0:
		major = -1
	}
	for j := range out {
		if sign[j] == 0 {
			sign[j] = major
		}
		sum, n := 0.0, 0
		for _, x := range xs {
			v := x[j]
			if (sign[j] > 0 && v > 0) || (sign[j] <= 0 && v < 0) {
				sum += v
				n++
			}
		}
		if n > 0 {
			out[j] = sum / float64(n)
		}
	}
}

func abs64(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
