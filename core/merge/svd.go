package merge

import (
	"errors"

	"gonum.org/v1/gonum/mat"
)

// svdT is a thin SVD: A (r x c) = U diag(S) V^T with U r x p, V c x p,
// p = min(r, c), S descending. U and V are row-major.
type svdT struct {
	U, V Matrix
	S    []float64
}

var errSVD = errors.New("merge: SVD did not converge")

func thinSVD(a Matrix) (svdT, error) {
	var f mat.SVD
	if !f.Factorize(mat.NewDense(a.Rows, a.Cols, a.Data), mat.SVDThin) {
		return svdT{}, errSVD
	}
	var u, v mat.Dense
	f.UTo(&u)
	f.VTo(&v)
	return svdT{U: fromDense(&u), V: fromDense(&v), S: f.Values(nil)}, nil
}

func fromDense(d *mat.Dense) Matrix {
	r, c := d.Dims()
	m := zeros(r, c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m.Data[i*c+j] = d.At(i, j)
		}
	}
	return m
}

// rank counts the singular values above tol times the largest; an all-zero
// matrix has rank 0.
func rank(s []float64, tol float64) int {
	if len(s) == 0 || !(s[0] > 0) {
		return 0
	}
	n := 0
	for n < len(s) && s[n] > tol*s[0] {
		n++
	}
	return n
}

// cols returns the first k columns of m.
func cols(m Matrix, k int) Matrix {
	out := zeros(m.Rows, k)
	for i := 0; i < m.Rows; i++ {
		copy(out.Data[i*k:(i+1)*k], m.Data[i*m.Cols:i*m.Cols+k])
	}
	return out
}

// transpose returns m^T.
func transpose(m Matrix) Matrix {
	out := zeros(m.Cols, m.Rows)
	for i := 0; i < m.Rows; i++ {
		for j := 0; j < m.Cols; j++ {
			out.Data[j*m.Rows+i] = m.Data[i*m.Cols+j]
		}
	}
	return out
}

// mulDiagT returns X diag(s) Y^T for X r x k, Y c x k.
func mulDiagT(x Matrix, s []float64, y Matrix) Matrix {
	out := zeros(x.Rows, y.Rows)
	for i := 0; i < x.Rows; i++ {
		xi := x.Data[i*x.Cols : (i+1)*x.Cols]
		row := out.Data[i*y.Rows : (i+1)*y.Rows]
		for j := range row {
			yj := y.Data[j*y.Cols : (j+1)*y.Cols]
			acc := 0.0
			for k := range xi {
				acc += float64(float64(xi[k]*s[k]) * yj[k])
			}
			row[j] = acc
		}
	}
	return out
}

// mul returns X Y.
func mul(x, y Matrix) Matrix {
	out := zeros(x.Rows, y.Cols)
	for i := 0; i < x.Rows; i++ {
		row := out.Data[i*y.Cols : (i+1)*y.Cols]
		for k := 0; k < x.Cols; k++ {
			a := x.Data[i*x.Cols+k]
			if a == 0 {
				continue
			}
			yk := y.Data[k*y.Cols : (k+1)*y.Cols]
			for j := range row {
				row[j] += float64(a * yk[j])
			}
		}
	}
	return out
}

// polar returns the orthogonal polar factor U V^T of x (r x k, k <= r): the
// orthonormal-column matrix closest to x in Frobenius norm.
func polar(x Matrix) (Matrix, error) {
	f, err := thinSVD(x)
	if err != nil {
		return Matrix{}, err
	}
	one := make([]float64, len(f.S))
	for i := range one {
		one[i] = 1
	}
	return mulDiagT(f.U, one, f.V), nil
}

// TSV is task-singular-vector merging: each expert keeps its top
// floor(min(m,n)/T') singular triplets, the concatenated left and right
// singular vectors are decorrelated by replacing them with their polar
// factors, and Phi = polar(U_cat) diag(s_cat) polar(V_cat)^T.
//
// Components at or below RelTol times an expert's own largest singular value
// are dropped rather than concatenated: their singular vectors are an
// arbitrary basis of the null space, and would otherwise tilt the polar
// factors of the meaningful ones. For full-rank experts this changes nothing.
// With more survivors than min(m,n), no expert keeps anything and Phi is 0, as
// in the reference.
type TSV struct{ P Params }

func (TSV) Name() string     { return "tsv" }
func (m TSV) Params() Params { return m.P }

// Merge merges LoRA experts; see Method.
func (m TSV) Merge(ctx Context, experts []LoRA) ([]float32, error) {
	return mergeLoRA(m, ctx, experts)
}

// MergeDense merges full matrices; see DenseMethod.
func (m TSV) MergeDense(ctx Context, ms []Matrix) (Matrix, error) {
	if err := checkDense(ctx, ms); err != nil {
		return Matrix{}, err
	}
	out := zeros(ctx.Out, ctx.In)
	if len(ms) == 0 {
		return out, nil
	}
	k := min(ctx.Out, ctx.In) / len(ms)
	var us, vs [][]float64 // kept singular vectors, as columns
	var ss []float64
	for _, x := range ms {
		f, err := thinSVD(x)
		if err != nil {
			return Matrix{}, err
		}
		for i := range min(k, rank(f.S, m.P.RelTol)) {
			us = append(us, column(f.U, i))
			vs = append(vs, column(f.V, i))
			ss = append(ss, f.S[i])
		}
	}
	if len(ss) == 0 {
		return out, nil
	}
	pu, err := polar(fromColumns(ctx.Out, us))
	if err != nil {
		return Matrix{}, err
	}
	pv, err := polar(fromColumns(ctx.In, vs))
	if err != nil {
		return Matrix{}, err
	}
	return mulDiagT(pu, ss, pv), nil
}

func column(m Matrix, j int) []float64 {
	c := make([]float64, m.Rows)
	for i := range c {
		c[i] = m.Data[i*m.Cols+j]
	}
	return c
}

func fromColumns(rows int, cs [][]float64) Matrix {
	m := zeros(rows, len(cs))
	for j, c := range cs {
		for i, v := range c {
			m.Data[i*len(cs)+j] = v
		}
	}
	return m
}

// ISO is isotropic merging: Phi = iso(sum_t Delta W_t), where iso keeps the
// singular directions above RelTol * smax and gives them all the mean of
// their singular values, flattening the spectrum so no task's dominant
// directions drown the others.
type ISO struct{ P Params }

func (ISO) Name() string     { return "iso" }
func (m ISO) Params() Params { return m.P }

// Merge merges LoRA experts; see Method.
func (m ISO) Merge(ctx Context, experts []LoRA) ([]float32, error) {
	return mergeLoRA(m, ctx, experts)
}

// MergeDense merges full matrices; see DenseMethod.
func (m ISO) MergeDense(ctx Context, ms []Matrix) (Matrix, error) {
	if err := checkDense(ctx, ms); err != nil {
		return Matrix{}, err
	}
	sum := zeros(ctx.Out, ctx.In)
	for _, x := range ms {
		for j, v := range x.Data {
			sum.Data[j] += v
		}
	}
	return isotropize(sum, m.P.RelTol)
}

func isotropize(x Matrix, tol float64) (Matrix, error) {
	f, err := thinSVD(x)
	if err != nil {
		return Matrix{}, err
	}
	r := rank(f.S, tol)
	if r == 0 {
		return zeros(x.Rows, x.Cols), nil
	}
	mean := 0.0
	for _, s := range f.S[:r] {
		mean += s
	}
	mean /= float64(r)
	flat := make([]float64, r)
	for i := range flat {
		flat[i] = mean
	}
	return mulDiagT(cols(f.U, r), flat, cols(f.V, r)), nil
}

// KnOTS aligns the survivors in a shared basis before merging: the SVD of
// the column concatenation [Delta W_1 ... Delta W_T'] = U S V^T (keeping S
// above RelTol * smax) gives each task a block V_t (k x n) of V^T with
// Delta W_t = U S V_t; the Inner task arithmetic merges the blocks and
// Phi = U diag(S) Inner(V_1..V_T').
type KnOTS struct {
	Label string
	Inner TaskArithmetic
	P     Params
}

func (m KnOTS) Name() string   { return m.Label }
func (m KnOTS) Params() Params { return m.P }

// Merge merges LoRA experts; see Method.
func (m KnOTS) Merge(ctx Context, experts []LoRA) ([]float32, error) {
	return mergeLoRA(m, ctx, experts)
}

// MergeDense merges full matrices; see DenseMethod.
func (m KnOTS) MergeDense(ctx Context, ms []Matrix) (Matrix, error) {
	if err := checkDense(ctx, ms); err != nil {
		return Matrix{}, err
	}
	T, rows, n := len(ms), ctx.Out, ctx.In
	if T == 0 {
		return zeros(rows, n), nil
	}
	cat := zeros(rows, T*n)
	for t, x := range ms {
		for i := 0; i < rows; i++ {
			copy(cat.Data[i*T*n+t*n:i*T*n+(t+1)*n], x.Data[i*n:(i+1)*n])
		}
	}
	f, err := thinSVD(cat)
	if err != nil {
		return Matrix{}, err
	}
	k := rank(f.S, m.P.RelTol)
	if k == 0 {
		return zeros(rows, n), nil
	}
	// V is T*n x p; block t of V^T is rows t*n..(t+1)*n of V, transposed.
	blocks := make([]Matrix, T)
	for t := range blocks {
		b := zeros(k, n)
		for j := 0; j < n; j++ {
			for i := 0; i < k; i++ {
				b.Data[i*n+j] = f.V.Data[(t*n+j)*f.V.Cols+i]
			}
		}
		blocks[t] = b
	}
	inner := ctx
	inner.Out = k
	merged, err := m.Inner.MergeDense(inner, blocks)
	if err != nil {
		return Matrix{}, err
	}
	// Phi = U_k diag(S_k) merged.
	us := cols(f.U, k)
	for i := 0; i < rows; i++ {
		for j := 0; j < k; j++ {
			us.Data[i*k+j] *= f.S[j]
		}
	}
	return mul(us, merged), nil
}

// Core is core-space merging. Reference bases come from the survivors'
// factors: U_ref from the SVD of [s_1 B_1 ... s_T' B_T'] and V_ref^T from the
// SVD of [A_1; ...; A_T'] (both truncated at RelTol * smax, which keeps their
// spans exact and drops arbitrary null-space vectors). Each expert becomes a
// small core matrix M_t = U_ref^T (s_t B_t A_t) V_ref (at most
// T'r x T'r), Inner merges the cores (TSV in the paper), optionally
// isotropized, and Phi = U_ref merge(M) V_ref^T. Because Delta W_t lies in
// span(U_ref) x span(V_ref), the projection is lossless.
type Core struct {
	Label      string
	Inner      DenseMethod
	Isotropize bool
	P          Params
}

func (m Core) Name() string   { return m.Label }
func (m Core) Params() Params { return m.P }

// Merge merges LoRA experts; see Method. Core space needs the factors, so
// Core is not a DenseMethod.
func (m Core) Merge(ctx Context, experts []LoRA) ([]float32, error) {
	if err := checkLoRAs(ctx, experts); err != nil {
		return nil, err
	}
	if m.Inner == nil {
		return nil, errors.New("merge: core space without an inner method")
	}
	rows, n := ctx.Out, ctx.In
	R := 0
	for _, l := range experts {
		R += l.Rank
	}
	if R == 0 {
		return make([]float32, rows*n), nil
	}
	bs, as := zeros(rows, R), zeros(R, n)
	off := 0
	for _, l := range experts {
		s := float64(l.Scale)
		for i := 0; i < rows; i++ {
			for k := 0; k < l.Rank; k++ {
				bs.Data[i*R+off+k] = s * float64(l.B[i*l.Rank+k])
			}
		}
		for k := 0; k < l.Rank; k++ {
			for j := 0; j < n; j++ {
				as.Data[(off+k)*n+j] = float64(l.A[k*n+j])
			}
		}
		off += l.Rank
	}
	fb, err := thinSVD(bs)
	if err != nil {
		return nil, err
	}
	fa, err := thinSVD(as)
	if err != nil {
		return nil, err
	}
	pu, pv := rank(fb.S, m.P.RelTol), rank(fa.S, m.P.RelTol)
	if pu == 0 || pv == 0 {
		return make([]float32, rows*n), nil
	}
	uref, vref := cols(fb.U, pu), cols(fa.V, pv) // rows x pu, n x pv
	urefT := transpose(uref)
	cores := make([]Matrix, len(experts))
	off = 0
	for t, l := range experts {
		// M_t = (U_ref^T B_t) (A_t V_ref), each factor only pu x r or r x pv.
		bt, at := zeros(rows, l.Rank), zeros(l.Rank, n)
		for i := 0; i < rows; i++ {
			copy(bt.Data[i*l.Rank:(i+1)*l.Rank], bs.Data[i*R+off:i*R+off+l.Rank])
		}
		copy(at.Data, as.Data[off*n:(off+l.Rank)*n])
		off += l.Rank
		cores[t] = mul(mul(urefT, bt), mul(at, vref))
	}
	inner := ctx
	inner.Out, inner.In = pu, pv
	merged, err := m.Inner.MergeDense(inner, cores)
	if err != nil {
		return nil, err
	}
	if m.Isotropize {
		if merged, err = isotropize(merged, m.P.RelTol); err != nil {
			return nil, err
		}
	}
	return toF32(mul(mul(uref, merged), transpose(vref)).Data), nil
}
