package merge

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// randLoRA draws a rank-r expert with entries in [-1, 1) and scale alpha/r = 2.
func randLoRA(rng *rand.Rand, out, in, r int) LoRA {
	l := LoRA{A: make([]float32, r*in), B: make([]float32, out*r), Rank: r, In: in, Out: out, Scale: 2}
	for i := range l.A {
		l.A[i] = float32(rng.Float64()*2 - 1)
	}
	for i := range l.B {
		l.B[i] = float32(rng.Float64()*2 - 1)
	}
	return l
}

func experts(seed uint64, n, out, in, r int) []LoRA {
	rng := rand.New(rand.NewPCG(seed, 7))
	ls := make([]LoRA, n)
	for i := range ls {
		ls[i] = randLoRA(rng, out, in, r)
	}
	return ls
}

func mustNew(t testing.TB, name string, edit func(*Params)) Method {
	t.Helper()
	p, err := Defaults(name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&p)
	}
	m, err := New(name, p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustDelta(t testing.TB, l LoRA) []float32 {
	t.Helper()
	d, err := Delta(l)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// maxDiff returns max |a-b| / max(1, max |b|).
func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d, s := 0.0, 1.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = max(s, math.Abs(float64(b[i])))
	}
	return d / s
}

func sumDeltas(t testing.TB, ls []LoRA) []float32 {
	out := make([]float32, ls[0].Out*ls[0].In)
	acc := make([]float64, len(out))
	for _, l := range ls {
		for i, v := range mustDelta(t, l) {
			acc[i] += float64(v)
		}
	}
	for i, v := range acc {
		out[i] = float32(v)
	}
	return out
}

func TestRegistry(t *testing.T) {
	want := []string{"ta", "avg", "ties", "dare_ties", "dare_linear", "tsv", "iso", "knots_ties", "core"}
	for _, n := range want {
		if !slices.Contains(Names(), n) {
			t.Errorf("Names() lacks %q", n)
		}
	}
	for _, n := range Names() {
		m, err := Lookup(n)
		if err != nil || m.Name() != n {
			t.Errorf("Lookup(%q) = %v, %v", n, m, err)
		}
	}
	if _, err := Lookup("slerp"); err == nil {
		t.Error("unknown name accepted")
	}
	for _, p := range []Params{{TopK: 0, RelTol: 1e-6}, {TopK: 1.5}, {TopK: 1, DropRate: 1}, {TopK: 1, DropRate: -0.1}, {TopK: math.NaN()}, {TopK: 1, RelTol: -1}} {
		if _, err := New("ties", p); err == nil {
			t.Errorf("New accepted %+v", p)
		}
	}
}

// One expert at lambda 1 must come back unchanged: the test PEFT users ask for.
func TestSingleExpertIdentity(t *testing.T) {
	for _, shape := range [][3]int{{32, 32, 4}, {7, 5, 3}, {4, 9, 2}} {
		e := experts(1, 1, shape[0], shape[1], shape[2])
		want := mustDelta(t, e[0])
		ctx := Context{Out: shape[0], In: shape[1], Seed: 3}
		for _, name := range Names() {
			if name == "iso" || name == "core_iso" {
				continue // changes the spectrum; see TestISO
			}
			m := mustNew(t, name, func(p *Params) { p.TopK, p.DropRate = 1, 0 })
			got, err := m.Merge(ctx, e)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			tol := 1e-5
			switch name {
			case "ta", "avg", "ties", "dare_ties", "dare_linear":
				tol = 0 // no arithmetic beyond /1: bit-exact
			}
			if d := maxDiff(got, want); d > tol {
				t.Errorf("%s %v: single expert differs by %g", name, shape, d)
			}
		}
	}
}

func TestISO(t *testing.T) {
	// A rank-1 expert has one singular value, which is its own mean.
	e := experts(2, 1, 6, 5, 1)
	for _, name := range []string{"iso", "core_iso"} {
		got, err := mustNew(t, name, nil).Merge(Context{Out: 6, In: 5}, e)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(got, mustDelta(t, e[0])); d > 1e-5 {
			t.Errorf("%s rank-1 not identity: %g", name, d)
		}
	}
	// Rank 3: the result keeps the directions but flattens the spectrum to the mean.
	e = experts(3, 2, 8, 6, 3)
	got, err := mustNew(t, "iso", nil).Merge(Context{Out: 8, In: 6}, e)
	if err != nil {
		t.Fatal(err)
	}
	sIn := singular(t, sumDeltas(t, e), 8, 6)
	sOut := singular(t, got, 8, 6)
	mean := 0.0
	for _, s := range sIn {
		mean += s
	}
	mean /= float64(len(sIn)) // sum of two rank-3 is rank 6 = full
	for i, s := range sOut {
		if math.Abs(s-mean) > 1e-5*mean {
			t.Errorf("iso singular value %d = %g, want %g", i, s, mean)
		}
	}
}

func singular(t *testing.T, x []float32, r, c int) []float64 {
	d := mat.NewDense(r, c, nil)
	for i := range x {
		d.Set(i/c, i%c, float64(x[i]))
	}
	var f mat.SVD
	if !f.Factorize(d, mat.SVDNone) {
		t.Fatal("svd")
	}
	return f.Values(nil)
}

func dense(r, c int, v ...float64) Matrix { return Matrix{Rows: r, Cols: c, Data: v} }

func TestTrim(t *testing.T) {
	cases := []struct {
		k       float64
		in, out []float64
	}{
		// d=4, K=0.5: threshold = (4-2)nd smallest |x| = 1; everything >= it stays
		// (the reference's topk_values_mask keeps floor(d*K)+1 without ties).
		{0.5, []float64{1, -4, 3, 0.5}, []float64{1, -4, 3, 0}},
		{0.25, []float64{1, -4, 3, 0.5}, []float64{0, -4, 3, 0}},
		{0.1, []float64{1, -4, 3, 0.5}, []float64{0, -4, 0, 0}}, // the largest always survives
		// 3x3, K=0.3: floor(2.7)=2, threshold = 7th smallest |x| = 3.
		{0.3, []float64{1, 2, 2, -3, 0, 5, -2, 1, 4}, []float64{0, 0, 0, -3, 0, 5, 0, 0, 4}},
		// K=0.5: threshold = 5th smallest = 2; all three 2s tie and stay.
		{0.5, []float64{1, 2, 2, -3, 0, 5, -2, 1, 4}, []float64{0, 2, 2, -3, 0, 5, -2, 0, 4}},
		{1, []float64{1, 2, 2, -3, 0, 5, -2, 1, 4}, []float64{1, 2, 2, -3, 0, 5, -2, 1, 4}},
	}
	for _, c := range cases {
		x := slices.Clone(c.in)
		trim(x, c.k)
		if !slices.Equal(x, c.out) {
			t.Errorf("trim(%v, %v) = %v, want %v", c.in, c.k, x, c.out)
		}
	}
}

func TestTIESHand(t *testing.T) {
	ties := func(k float64, r, c int, ms ...Matrix) []float64 {
		m := TaskArithmetic{Label: "ties", Sparsify: Magnitude, Consensus: TIES, P: Params{TopK: k}}
		out, err := m.MergeDense(Context{Out: r, In: c}, ms)
		if err != nil {
			t.Fatal(err)
		}
		return out.Data
	}
	cases := []struct {
		name string
		got  []float64
		want []float64
	}{
		// Sums [-1 1 2 0]: signs [- + + 0]; the 0 takes sign(sum of signs)=+, and no
		// entry there is positive, so it stays 0. Disjoint means: -3, 4, (3+1)/2.
		{"election", ties(1, 2, 2, dense(2, 2, 1, -2, 3, 0), dense(2, 2, -3, -1, 1, 0), dense(2, 2, 1, 4, -2, 0)),
			[]float64{-3, 4, 2, 0}},
		// Zero-sum ties at entries 0 and 2 take the majority sign + (signs [0 + 0 +]).
		{"zero-sum tie", ties(1, 2, 2, dense(2, 2, 1, 2, -1, 5), dense(2, 2, -1, 3, 1, -2)),
			[]float64{1, 2.5, 1, 5}},
		// Elected signs [+ - 0] sum to 0, so the tie stays 0 and, as the reference's
		// torch.where(sign > 0, x > 0, x < 0) does, the negative entries are averaged.
		{"unresolved tie", ties(1, 1, 3, dense(1, 3, 2, -3, 1), dense(1, 3, -1, 1, -1)),
			[]float64{2, -3, -1}},
		// Trim K=0.5 first: [1 -4 3 0] and [-2 1 0 -3]; signs [- - + -].
		{"trim then elect", ties(0.5, 2, 2, dense(2, 2, 1, -4, 3, 0.5), dense(2, 2, -2, 1, 0.1, -3)),
			[]float64{-2, -4, 3, -3}},
		// 3x3, three experts, no trim: per-entry sums 6,-1,0 | 1,0,-3 | 3,-5,2.
		// Two zero sums; signs sum to +1, so they resolve to +.
		{"3x3", ties(1, 3, 3,
			dense(3, 3, 2, -1, 4, 1, 3, -3, 1, -2, 1),
			dense(3, 3, 2, 1, -4, -2, -3, 1, 1, -2, 0),
			dense(3, 3, 2, -1, 0, 2, 0, -1, 1, -1, 1)),
			[]float64{2, -1, 4, 1.5, 3, -2, 1, -5.0 / 3, 1}},
	}
	for _, c := range cases {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDARE(t *testing.T) {
	e := experts(4, 1, 8, 8, 2)
	want := mustDelta(t, e[0])
	m := mustNew(t, "dare_linear", func(p *Params) { p.DropRate = 0.3 })
	run := func(seed uint64) []float32 {
		got, err := m.Merge(Context{Out: 8, In: 8, Seed: seed}, e)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b, c := run(11), run(11), run(12)
	if !slices.Equal(a, b) {
		t.Error("same seed, different result")
	}
	if slices.Equal(a, c) {
		t.Error("different seed, same mask")
	}
	// Kept entries are rescaled by exactly 1/(1-p); about p of them are dropped.
	dropped := 0
	for i := range a {
		if a[i] == 0 {
			dropped++
		} else if math.Abs(float64(a[i])-float64(want[i])/0.7) > 1e-6*math.Abs(float64(want[i])) {
			t.Fatalf("entry %d = %v, want %v/0.7", i, a[i], want[i])
		}
	}
	if dropped < 8 || dropped > 32 {
		t.Errorf("dropped %d of 64 at p=0.3", dropped)
	}
	// Expectation preserved: the mean over many seeds approaches Delta W.
	const n = 4000
	mean := make([]float64, len(want))
	for s := range uint64(n) {
		for i, v := range run(1000 + s) {
			mean[i] += float64(v) / n
		}
	}
	meanF := toF32(mean)
	if d := maxDiff(meanF, want); d > 0.05 {
		t.Errorf("mean over %d seeds is %g away from Delta W", n, d)
	}
}

// With task ids, pruning one expert leaves the other experts' DARE masks alone,
// so dare_linear over {0,2} is dare_linear over {0,1,2} minus expert 1's part.
func TestDARETaskIDs(t *testing.T) {
	e := experts(5, 3, 6, 6, 2)
	m := mustNew(t, "dare_linear", func(p *Params) { p.DropRate = 0.5 })
	merge := func(ls []LoRA, ids []int) []float32 {
		got, err := m.Merge(Context{Out: 6, In: 6, Seed: 9, Tasks: ids}, ls)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := merge(e, []int{0, 1, 2})
	one := merge(e[1:2], []int{1})
	rest := merge([]LoRA{e[0], e[2]}, []int{0, 2})
	diff := make([]float32, len(all))
	for i := range all {
		diff[i] = all[i] - one[i]
	}
	if d := maxDiff(rest, diff); d > 1e-6 {
		t.Errorf("masks depend on the other survivors: %g", d)
	}
}

// "Prune, then align": removal equals zeroing for sum and TIES, not for the mean.
func TestRemovalVersusZeroing(t *testing.T) {
	e := experts(6, 3, 32, 32, 4)
	zeroed := slices.Clone(e)
	zeroed[1].B = make([]float32, len(e[1].B))
	removed := []LoRA{e[0], e[2]}
	ctx := Context{Out: 32, In: 32}
	for _, name := range []string{"ta", "ties", "avg"} {
		for _, k := range []float64{1, 0.4} {
			m := mustNew(t, name, func(p *Params) { p.TopK = k })
			a, err := m.Merge(ctx, zeroed)
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.Merge(ctx, removed)
			if err != nil {
				t.Fatal(err)
			}
			d := maxDiff(a, b)
			if name == "avg" && d < 1e-3 {
				t.Errorf("avg: removal equals zeroing (%g)", d)
			}
			if name != "avg" && d != 0 {
				t.Errorf("%s K=%v: removal differs from zeroing by %g", name, k, d)
			}
		}
	}
}

// Aligned spaces are lossless: with plain summation inside, KnOTS and core space
// give back task arithmetic.
func TestAlignedSumIsTA(t *testing.T) {
	e := experts(7, 3, 12, 10, 3)
	ctx := Context{Out: 12, In: 10}
	want := sumDeltas(t, e)
	p := Params{TopK: 1, RelTol: 1e-9}
	sum := TaskArithmetic{Label: "sum", Consensus: Sum, P: p}
	for _, m := range []Method{KnOTS{Label: "knots_ta", Inner: sum, P: p}, Core{Label: "core_ta", Inner: sum, P: p}} {
		got, err := m.Merge(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(got, want); d > 1e-5 {
			t.Errorf("%s differs from TA by %g", m.Name(), d)
		}
	}
}

// TSV of experts living in orthogonal subspaces is their sum: the concatenated
// singular vectors are already orthonormal, so the polar factors change nothing.
func TestTSVOrthogonal(t *testing.T) {
	mk := func(rows, cols []int, v float32) LoRA {
		l := LoRA{A: make([]float32, 2*6), B: make([]float32, 6*2), Rank: 2, In: 6, Out: 6, Scale: 1}
		for k := range 2 {
			l.B[rows[k]*2+k] = v * float32(k+1)
			l.A[k*6+cols[k]] = 1
		}
		return l
	}
	e := []LoRA{mk([]int{0, 1}, []int{2, 3}, 3), mk([]int{2, 3}, []int{0, 1}, -1), mk([]int{4, 5}, []int{4, 5}, 0.5)}
	got, err := mustNew(t, "tsv", nil).Merge(Context{Out: 6, In: 6}, e)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got, sumDeltas(t, e)); d > 1e-6 {
		t.Errorf("tsv of orthogonal experts differs from sum by %g", d)
	}
	// Over-crowded: 7 survivors on a 6x6 matrix keep floor(6/7)=0 components each.
	crowd := slices.Repeat(e[:1], 7)
	got, err = mustNew(t, "tsv", nil).Merge(Context{Out: 6, In: 6}, crowd)
	if err != nil || slices.ContainsFunc(got, func(v float32) bool { return v != 0 }) {
		t.Errorf("crowded tsv = %v, %v; want zeros", got, err)
	}
}

func TestEmptyAndDegenerate(t *testing.T) {
	zeroB := experts(8, 2, 5, 4, 2)
	for i := range zeroB {
		zeroB[i].B = make([]float32, len(zeroB[i].B)) // LoRA at initialisation
	}
	rank0 := []LoRA{{Rank: 0, In: 4, Out: 5, Scale: 1}}
	for _, name := range Names() {
		m := mustNew(t, name, nil)
		for _, in := range [][]LoRA{nil, {}, zeroB, rank0} {
			got, err := m.Merge(Context{Out: 5, In: 4, Seed: 1}, in)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != 20 || slices.ContainsFunc(got, func(v float32) bool { return v != 0 }) {
				t.Errorf("%s(%d experts) = %v, want 20 zeros", name, len(in), got)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	good := experts(9, 2, 5, 4, 2)
	bad := func(f func(*LoRA)) []LoRA {
		ls := slices.Clone(good)
		f(&ls[1])
		return ls
	}
	nan := bad(func(l *LoRA) { l.A = slices.Clone(l.A); l.A[0] = float32(math.NaN()) })
	cases := []struct {
		name string
		ctx  Context
		in   []LoRA
		want error
	}{
		{"wrong in", Context{Out: 5, In: 4}, bad(func(l *LoRA) { l.In = 3 }), ErrShape},
		{"wrong out", Context{Out: 5, In: 4}, bad(func(l *LoRA) { l.Out = 6 }), ErrShape},
		{"short A", Context{Out: 5, In: 4}, bad(func(l *LoRA) { l.A = l.A[:5] }), ErrShape},
		{"long B", Context{Out: 5, In: 4}, bad(func(l *LoRA) { l.B = append(slices.Clone(l.B), 1) }), ErrShape},
		{"rank mismatch", Context{Out: 5, In: 4}, bad(func(l *LoRA) { l.Rank = 3 }), ErrShape},
		{"negative rank", Context{Out: 5, In: 4}, bad(func(l *LoRA) { l.Rank = -1 }), ErrShape},
		{"zero context", Context{}, good, ErrShape},
		{"context mismatch", Context{Out: 4, In: 5}, good, ErrShape},
		{"task ids", Context{Out: 5, In: 4, Tasks: []int{0}}, good, ErrShape},
		{"nan", Context{Out: 5, In: 4}, nan, ErrValue},
	}
	for _, name := range Names() {
		m := mustNew(t, name, nil)
		for _, c := range cases {
			if _, err := m.Merge(c.ctx, c.in); !errors.Is(err, c.want) {
				t.Errorf("%s %s: err = %v, want %v", name, c.name, err, c.want)
			}
		}
		if dm, ok := m.(DenseMethod); ok {
			if _, err := dm.MergeDense(Context{Out: 2, In: 2}, []Matrix{dense(2, 2, 1, 2, 3, 4), dense(1, 2, 1, 2)}); !errors.Is(err, ErrShape) {
				t.Errorf("%s MergeDense shape: %v", name, err)
			}
			if _, err := dm.MergeDense(Context{Out: 2, In: 2}, []Matrix{dense(2, 2, 1, 2, 3)}); !errors.Is(err, ErrShape) {
				t.Errorf("%s MergeDense data length: %v", name, err)
			}
		}
	}
	if _, err := Delta(LoRA{Rank: 1, In: 2, Out: 2, A: []float32{1}, B: []float32{1, 1}}); !errors.Is(err, ErrShape) {
		t.Errorf("Delta: %v", err)
	}
}

// Merging must not write into the caller's factors or matrices.
func TestInputsUntouched(t *testing.T) {
	e := experts(10, 3, 6, 5, 2)
	keep := make([]LoRA, len(e))
	for i, l := range e {
		keep[i] = l
		keep[i].A, keep[i].B = slices.Clone(l.A), slices.Clone(l.B)
	}
	for _, name := range Names() {
		if _, err := mustNew(t, name, nil).Merge(Context{Out: 6, In: 5, Seed: 2}, e); err != nil {
			t.Fatal(err)
		}
	}
	for i := range e {
		if !slices.Equal(e[i].A, keep[i].A) || !slices.Equal(e[i].B, keep[i].B) {
			t.Fatalf("%d: input modified", i)
		}
	}
	ms := []Matrix{dense(1, 3, 1, -2, 3), dense(1, 3, -1, 1, 0.5)}
	m := TaskArithmetic{Sparsify: DARE, Consensus: TIES, P: Params{TopK: 0.3, DropRate: 0.5}}
	if _, err := m.MergeDense(Context{Out: 1, In: 3}, ms); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ms[0].Data, []float64{1, -2, 3}) || !slices.Equal(ms[1].Data, []float64{-1, 1, 0.5}) {
		t.Fatal("MergeDense modified its input")
	}
}

// BenchmarkMerge times every method at the size used here: a 32x32 matrix,
// 8 rank-4 experts.
func BenchmarkMerge(b *testing.B) {
	e := experts(11, 8, 32, 32, 4)
	for _, name := range Names() {
		m := mustNew(b, name, nil)
		b.Run(name, func(b *testing.B) {
			ctx := Context{Out: 32, In: 32}
			for i := 0; b.Loop(); i++ {
				ctx.Seed = uint64(i)
				if _, err := m.Merge(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSelectKth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 1; n < 60; n++ {
		for rep := 0; rep < 20; rep++ {
			a := make([]float64, n)
			for i := range a {
				a[i] = float64(rng.IntN(n/2 + 1)) // many ties
				if rep%2 == 0 {
					a[i] = rng.Float64()
				}
			}
			s := slices.Clone(a)
			slices.Sort(s)
			k := rng.IntN(n)
			if got := selectKth(slices.Clone(a), k); got != s[k] {
				t.Fatalf("selectKth(%v, %d) = %v, want %v", a, k, got, s[k])
			}
		}
	}
}
