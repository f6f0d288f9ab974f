// Package merge implements every merge method ENMP wraps: each turns the
// surviving experts' LoRA updates for one adapted weight matrix into a merged
// delta Phi, and the caller sets W = W0 + lambda*Phi.
//
// Pruning happens before this package is called ("prune, then align"): a
// pruned expert is simply absent from the input, so SVD bases, averages and
// DARE masks are computed from the survivors only. An empty input gives a zero
// Phi of the shape the Context names.
//
// The methods are compositions, not copies: TA, avg, TIES, DARE-TIES and
// DARE-linear are configurations of one generalised task arithmetic
// (sparsify x consensus, as in mergekit); KnOTS runs a task-arithmetic
// configuration on aligned singular-vector blocks; core space runs TSV (or
// any DenseMethod) on small aligned core matrices.
//
// Numerics: all work is float64, output float32. Products that could be fused
// into an FMA on some targets are written with explicit float64 conversions,
// which the Go spec says prevents fusion, so this package's own arithmetic is
// bit-identical on amd64 and js/wasm. gonum's SVD uses amd64 assembly for some
// kernels; build with -tags noasm where bit-identical SVD results across
// targets matter.
package merge

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// LoRA holds one expert's low-rank factors for one weight matrix.
// Its update is Delta W = Scale * B A (Out x In). Scale is alpha/r (or
// alpha/sqrt(r) for rsLoRA); a zero Scale is taken literally and gives a zero
// update.
type LoRA struct {
	A     []float32 // Rank x In, row-major
	B     []float32 // Out x Rank, row-major
	Rank  int
	In    int
	Out   int
	Scale float32
}

// Context describes one merge call: the matrix shape (needed because the
// survivor list may be empty) and the randomness of DARE.
type Context struct {
	Out, In int
	// Seed drives DARE's drop masks; the caller passes one per
	// (candidate, matrix) so a fitness evaluation replays exactly.
	Seed uint64
	// Tasks optionally names each expert's original task index, parallel to
	// the experts slice. DARE derives expert t's mask from (Seed, Tasks[t]),
	// so pruning one task leaves the others' masks unchanged. Nil means the
	// position in the slice.
	Tasks []int
}

// Params are the hyperparameters of all methods; each method reads only the
// fields it needs. Start from Defaults(name) and change fields, since zero is
// a meaningful value for some of them (DropRate 0 = no drop).
type Params struct {
	// TopK is the fraction of entries, by magnitude, that TIES trimming keeps
	// per expert, in (0, 1]; 1 keeps all.
	TopK float64
	// DropRate is DARE's drop probability p in [0, 1); kept entries are
	// rescaled by 1/(1-p) so the expectation is unchanged.
	DropRate float64
	// RelTol treats singular values <= RelTol * (largest singular value) as
	// zero. Relative, never absolute: the reference's absolute 1e-5 and
	// 5e-5 depend on the scale of the weights, which tiny models do not share.
	RelTol float64
	// Lambda is a suggested starting point for the caller's lambda search,
	// taken from the reference configurations. Merge never applies it.
	Lambda float64
}

// Method merges the surviving experts of one weight matrix into Phi
// (ctx.Out x ctx.In, row-major).
type Method interface {
	Name() string
	Params() Params
	Merge(ctx Context, experts []LoRA) ([]float32, error)
}

// Matrix is a dense row-major float64 matrix, the currency of DenseMethod.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

// DenseMethod is a merge that works on full matrices rather than LoRA
// factors. KnOTS and core space hand their aligned blocks to one; TA, TIES,
// DARE, TSV and ISO are DenseMethods. ctx.Out x ctx.In is the shape of every
// input and of the result.
type DenseMethod interface {
	Method
	MergeDense(ctx Context, ms []Matrix) (Matrix, error)
}

// ErrShape reports inputs whose dimensions do not fit together.
var ErrShape = errors.New("merge: shape mismatch")

// ErrValue reports a NaN or infinite input, which would make the SVD and the
// sign election meaningless.
var ErrValue = errors.New("merge: non-finite value")

// names lists the registry in a stable order (the UI shows it as is).
var names = []string{"ta", "avg", "ties", "dare_ties", "dare_linear", "tsv", "iso", "knots_ties", "core", "core_iso"}

// Names returns the registered method names.
func Names() []string { return slices.Clone(names) }

// Defaults returns the default hyperparameters of a method. TopK, DropRate
// and Lambda follow the reference's ViT-B/32 configurations (TIES K 40%,
// DARE-TIES K 20% p 0.1, KnOTS K 90%); a toy model should tune its own on
// validation, lambda first, then TopK, then DropRate.
func Defaults(name string) (Params, error) {
	p := Params{TopK: 1, DropRate: 0, RelTol: 1e-6, Lambda: 1}
	switch name {
	case "ta":
		p.Lambda = 0.1
	case "avg":
		p.Lambda = 1
	case "ties":
		p.TopK, p.Lambda = 0.4, 0.3
	case "dare_ties":
		p.TopK, p.DropRate, p.Lambda = 0.2, 0.1, 0.3
	case "dare_linear":
		p.DropRate, p.Lambda = 0.1, 0.1 // same expectation as TA
	case "tsv":
		p.Lambda = 0.3
	case "iso":
		p.Lambda = 4.0
	case "knots_ties":
		p.TopK, p.Lambda = 0.9, 0.6
	case "core":
		p.Lambda = 0.5 // reference Llama-3 core_tsv
	case "core_iso":
		p.Lambda = 0.9 // reference ViT-B/32 core_tsv_iso
	default:
		return Params{}, fmt.Errorf("merge: unknown method %q (have %v)", name, names)
	}
	return p, nil
}

// Lookup returns the named method with its default parameters.
func Lookup(name string) (Method, error) {
	p, err := Defaults(name)
	if err != nil {
		return nil, err
	}
	return New(name, p)
}

// New returns the named method with the given parameters, after checking
// that they are in range.
func New(name string, p Params) (Method, error) {
	if _, err := Defaults(name); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	switch name {
	case "ta":
		return TaskArithmetic{Label: name, Consensus: Sum, P: p}, nil
	case "avg":
		return TaskArithmetic{Label: name, Consensus: Mean, P: p}, nil
	case "ties":
		return TaskArithmetic{Label: name, Sparsify: Magnitude, Consensus: TIES, P: p}, nil
	case "dare_ties":
		return TaskArithmetic{Label: name, Sparsify: DARE, Consensus: TIES, P: p}, nil
	case "dare_linear":
		// The reference's "dare" sums the rescaled deltas (no normalisation),
		// which keeps lambda comparable with TA's.
		return TaskArithmetic{Label: name, Sparsify: DARE, Consensus: Sum, P: p}, nil
	case "tsv":
		return TSV{P: p}, nil
	case "iso":
		return ISO{P: p}, nil
	case "knots_ties":
		return KnOTS{Label: name, Inner: TaskArithmetic{Label: "ties", Sparsify: Magnitude, Consensus: TIES, P: p}, P: p}, nil
	case "core":
		return Core{Label: name, Inner: TSV{P: p}, P: p}, nil
	case "core_iso":
		return Core{Label: name, Inner: TSV{P: p}, Isotropize: true, P: p}, nil
	}
	return nil, fmt.Errorf("merge: unknown method %q", name)
}

func (p Params) validate() error {
	// Written as negated ranges so NaN fails too.
	if !(p.TopK > 0 && p.TopK <= 1) {
		return fmt.Errorf("merge: TopK %v not in (0, 1]", p.TopK)
	}
	if !(p.DropRate >= 0 && p.DropRate < 1) {
		return fmt.Errorf("merge: DropRate %v not in [0, 1)", p.DropRate)
	}
	if !(p.RelTol >= 0 && p.RelTol < 1) {
		return fmt.Errorf("merge: RelTol %v not in [0, 1)", p.RelTol)
	}
	return nil
}

// Delta returns Scale * B A (Out x In, row-major) after checking the
// factors' shapes; the identity tests and diagnostics (cosine heatmaps,
// spectra) use it.
func Delta(l LoRA) ([]float32, error) {
	if err := checkLoRA(l, l.Out, l.In); err != nil {
		return nil, err
	}
	return toF32(delta(l).Data), nil
}

// delta computes Scale * B A in float64.
func delta(l LoRA) Matrix {
	m := zeros(l.Out, l.In)
	s := float64(l.Scale)
	for i := 0; i < l.Out; i++ {
		row := m.Data[i*l.In : (i+1)*l.In]
		for k := 0; k < l.Rank; k++ {
			b := s * float64(l.B[i*l.Rank+k])
			if b == 0 {
				continue
			}
			a := l.A[k*l.In : (k+1)*l.In]
			for j := range row {
				row[j] += float64(b * float64(a[j]))
			}
		}
	}
	return m
}

func checkContext(ctx Context, n int) error {
	if ctx.Out <= 0 || ctx.In <= 0 {
		return fmt.Errorf("%w: context shape %dx%d", ErrShape, ctx.Out, ctx.In)
	}
	if ctx.Tasks != nil && len(ctx.Tasks) != n {
		return fmt.Errorf("%w: %d task ids for %d experts", ErrShape, len(ctx.Tasks), n)
	}
	return nil
}

func checkLoRA(l LoRA, out, in int) error {
	if l.Out != out || l.In != in || l.Rank < 0 || l.Out <= 0 || l.In <= 0 {
		return fmt.Errorf("%w: LoRA %dx%d rank %d, want %dx%d", ErrShape, l.Out, l.In, l.Rank, out, in)
	}
	if len(l.A) != l.Rank*l.In || len(l.B) != l.Out*l.Rank {
		return fmt.Errorf("%w: LoRA rank %d %dx%d has len(A)=%d len(B)=%d", ErrShape, l.Rank, l.Out, l.In, len(l.A), len(l.B))
	}
	if !finite32(l.A) || !finite32(l.B) || !finite64(float64(l.Scale)) {
		return ErrValue
	}
	return nil
}

func checkLoRAs(ctx Context, experts []LoRA) error {
	if err := checkContext(ctx, len(experts)); err != nil {
		return err
	}
	for t, l := range experts {
		if err := checkLoRA(l, ctx.Out, ctx.In); err != nil {
			return fmt.Errorf("expert %d: %w", t, err)
		}
	}
	return nil
}

func checkDense(ctx Context, ms []Matrix) error {
	if err := checkContext(ctx, len(ms)); err != nil {
		return err
	}
	for t, m := range ms {
		if m.Rows != ctx.Out || m.Cols != ctx.In || len(m.Data) != m.Rows*m.Cols {
			return fmt.Errorf("%w: matrix %d is %dx%d (len %d), want %dx%d", ErrShape, t, m.Rows, m.Cols, len(m.Data), ctx.Out, ctx.In)
		}
		for _, v := range m.Data {
			if !finite64(v) {
				return fmt.Errorf("matrix %d: %w", t, ErrValue)
			}
		}
	}
	return nil
}

// mergeLoRA is the Merge of every DenseMethod: check, expand to Delta W,
// merge densely, narrow to float32.
func mergeLoRA(dm DenseMethod, ctx Context, experts []LoRA) ([]float32, error) {
	if err := checkLoRAs(ctx, experts); err != nil {
		return nil, err
	}
	ms := make([]Matrix, len(experts))
	for t, l := range experts {
		ms[t] = delta(l)
	}
	phi, err := dm.MergeDense(ctx, ms)
	if err != nil {
		return nil, err
	}
	return toF32(phi.Data), nil
}

func zeros(r, c int) Matrix { return Matrix{Rows: r, Cols: c, Data: make([]float64, r*c)} }

func toF32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func finite64(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func finite32(x []float32) bool {
	for _, v := range x {
		if !finite64(float64(v)) {
			return false
		}
	}
	return true
}
