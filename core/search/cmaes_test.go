package search

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func sphere(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return s
}

func rosenbrock(x []float64) float64 {
	s := 0.0
	for i := 0; i+1 < len(x); i++ {
		a, b := x[i+1]-x[i]*x[i], 1-x[i]
		s += 100*a*a + b*b
	}
	return s
}

// minimise runs e until f's best value drops below target or maxGen passes.
func minimise(t *testing.T, e *CMAES, f func([]float64) float64, target float64, maxGen int) (float64, int) {
	t.Helper()
	best := math.Inf(1)
	for g := 0; g < maxGen; g++ {
		pop := e.Ask()
		vals := make([]float64, len(pop))
		for i, x := range pop {
			vals[i] = f(x)
			best = math.Min(best, vals[i])
		}
		if err := e.Tell(vals); err != nil {
			t.Fatal(err)
		}
		if best < target {
			return best, g + 1
		}
	}
	return best, maxGen
}

func TestCMAESSphere(t *testing.T) {
	e, err := NewCMAES(CMAConfig{N: 10, X0: []float64{1}, Sigma0: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	best, gens := minimise(t, e, sphere, 1e-10, 2000)
	if best >= 1e-10 {
		t.Fatalf("sphere: best %g after %d generations", best, gens)
	}
	t.Logf("sphere 10-D: %g after %d generations of %d", best, gens, e.Popsize())
}

func TestCMAESRosenbrock(t *testing.T) {
	e, err := NewCMAES(CMAConfig{N: 10, X0: []float64{0}, Sigma0: 0.5, Popsize: PycmaPopsize(10), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	best, gens := minimise(t, e, rosenbrock, 1e-8, 5000)
	if best >= 1e-8 {
		t.Fatalf("rosenbrock: best %g after %d generations", best, gens)
	}
	m := e.Mean()
	for i, v := range m {
		if math.Abs(v-1) > 1e-3 {
			t.Fatalf("rosenbrock mean[%d] = %v, want 1", i, v)
		}
	}
	t.Logf("rosenbrock 10-D: %g after %d generations of %d", best, gens, e.Popsize())
}

// TestCMAESParameters checks the derived strategy parameters against the
// values pycma 3.3.0 prints in its own doctest (N=20, popsize 12).
func TestCMAESParameters(t *testing.T) {
	e, err := NewCMAES(CMAConfig{N: 20, Popsize: 12})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.4024029428, 0.2533890840, 0.1662215645, 0.1043752252, 0.05640347757,
		0.01720770576, -0.05018713636, -0.1406167894, -0.2203813963, -0.2917332686,
		-0.3562788884, -0.4152044225}
	for i, w := range e.Weights() {
		if math.Abs(w-want[i]) > 1e-9 {
			t.Fatalf("weight %d = %.10g, pycma %.10g", i, w, want[i])
		}
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"c1", e.c1, 0.00437235}, {"cmu", e.cmu, 0.00921656}, {"cc", e.cc, 0.171767}} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s = %.8g, pycma %.8g", c.name, c.got, c.want)
		}
	}
	if PycmaPopsize(96) != 17 || PycmaPopsize(10) != 10 {
		t.Errorf("PycmaPopsize: %d %d", PycmaPopsize(96), PycmaPopsize(10))
	}
}

func bitsEqual(a, b [][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if math.Float64bits(a[i][j]) != math.Float64bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

func TestCMAESDeterminismAndCheckpoint(t *testing.T) {
	cfg := CMAConfig{N: 12, Popsize: 6, Seed: 77}
	run := func(e *CMAES, gens int, log *[][][]float64) {
		for g := 0; g < gens; g++ {
			pop := e.Ask()
			*log = append(*log, pop)
			vals := make([]float64, len(pop))
			for i, x := range pop {
				vals[i] = rosenbrock(x)
			}
			if err := e.Tell(vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, _ := NewCMAES(cfg)
	b, _ := NewCMAES(cfg)
	var la, lb [][][]float64
	run(a, 40, &la)
	run(b, 5, &lb)
	st, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	var c CMAES
	if err := c.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	// A checkpoint with a pending Ask resumes with that same generation.
	c.Ask()
	st2, _ := c.MarshalState()
	var d CMAES
	if err := d.UnmarshalState(st2); err != nil {
		t.Fatal(err)
	}
	run(&d, 35, &lb)
	for g := range la {
		if !bitsEqual(la[g], lb[g]) {
			t.Fatalf("generation %d differs after checkpoint", g)
		}
	}
	if math.Float64bits(a.Sigma()) != math.Float64bits(d.Sigma()) {
		t.Fatal("sigma differs")
	}
	e, _ := NewCMAES(CMAConfig{N: 12, Popsize: 6, Seed: 78})
	if bitsEqual(e.Ask(), la[0]) {
		t.Fatal("different seeds gave the same generation")
	}
}

func TestCMAESBadConfig(t *testing.T) {
	for _, cfg := range []CMAConfig{
		{N: 0}, {N: -3}, {N: 5, Popsize: 1}, {N: 5, Popsize: -2}, {N: 5, Sigma0: -1},
		{N: 5, Sigma0: math.NaN()}, {N: 5, X0: []float64{1, 2}}, {N: 2, X0: []float64{math.Inf(1)}},
	} {
		if _, err := NewCMAES(cfg); err == nil {
			t.Errorf("NewCMAES(%+v) accepted", cfg)
		}
	}
	e, _ := NewCMAES(CMAConfig{N: 3})
	if err := e.Tell(make([]float64, 8)); err == nil {
		t.Error("Tell before Ask accepted")
	}
	e.Ask()
	if err := e.Tell(make([]float64, 7)); err == nil {
		t.Error("short Tell accepted")
	}
	v := make([]float64, 8)
	v[3] = math.NaN()
	if err := e.Tell(v); err == nil {
		t.Error("NaN accepted")
	}
	var z CMAES
	if err := z.UnmarshalState([]byte(`{"config":{"N":3},"mean":[1]}`)); err == nil {
		t.Error("inconsistent state accepted")
	}
}

func TestCMAESFlatFitnessStop(t *testing.T) {
	e, _ := NewCMAES(CMAConfig{N: 5})
	e.Ask()
	if e.Tell(make([]float64, 8)); e.Stop() != "tolfun" {
		t.Fatalf("flat generation: Stop = %q", e.Stop())
	}
	e.Ask()
	e.Tell([]float64{0, 0, 0, 0, 0, 0, 0, 1})
	if e.Stop() != "tolflatfitness" {
		t.Fatalf("second flat generation: Stop = %q", e.Stop())
	}
	e.Ask()
	e.Tell([]float64{0, 1, 2, 3, 4, 5, 6, 7})
	if e.Stop() != "" {
		t.Fatalf("Stop = %q after an informative generation", e.Stop())
	}
}

// TestEigenAgainstGonum checks the pure-Go eigensolver against gonum.
func TestEigenAgainstGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 7, 40} {
		a := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				v := r.NormFloat64()
				a[i*n+j], a[j*n+i] = v, v
			}
		}
		vals, vecs, err := symEigen(n, a)
		if err != nil {
			t.Fatal(err)
		}
		var es mat.EigenSym
		if !es.Factorize(mat.NewSymDense(n, append([]float64(nil), a...)), true) {
			t.Fatal("gonum failed")
		}
		gv := es.Values(nil)
		for i := range vals {
			if math.Abs(vals[i]-gv[i]) > 1e-10 {
				t.Fatalf("n=%d eigenvalue %d: %v vs gonum %v", n, i, vals[i], gv[i])
			}
		}
		// A v_i = lambda_i v_i and V orthonormal.
		for i := 0; i < n; i++ {
			for k := 0; k < n; k++ {
				av := 0.0
				for j := 0; j < n; j++ {
					av += a[k*n+j] * vecs[j*n+i]
				}
				if math.Abs(av-vals[i]*vecs[k*n+i]) > 1e-10 {
					t.Fatalf("n=%d: A v != lambda v", n)
				}
			}
			for j := 0; j < n; j++ {
				dot := 0.0
				for k := 0; k < n; k++ {
					dot += vecs[k*n+i] * vecs[k*n+j]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-12 {
					t.Fatalf("n=%d: V not orthonormal", n)
				}
			}
		}
	}
}

// cmaTrace hashes every genome of a run long enough to exercise
// eigendecompositions (N=40 re-decomposes about every generation).
func cmaTrace(t *testing.T) string {
	e, err := NewCMAES(CMAConfig{N: 40, Popsize: 8, Seed: 42, X0: []float64{0.3}})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var buf [8]byte
	for g := 0; g < 60; g++ {
		pop := e.Ask()
		vals := make([]float64, len(pop))
		for i, x := range pop {
			for _, v := range x {
				binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
				h.Write(buf[:])
			}
			vals[i] = rosenbrock(x)
		}
		if err := e.Tell(vals); err != nil {
			t.Fatal(err)
		}
	}
	binary.LittleEndian.PutUint64(buf[:], math.Float64bits(e.Sigma()))
	h.Write(buf[:])
	return fmt.Sprintf("%x", h.Sum(nil))
}

// goldenTrace is cmaTrace's value; the test runs natively and under
// GOOS=js GOARCH=wasm (node), so equality on both proves the targets agree
// bit for bit. Any intended change to the algorithm changes it.
const goldenTrace = "1c37ee8c1c99eedfe079caa1f3a5b65e98fd3e279e3bd54e7d712a3527a3c96a"

func TestCrossTargetGolden(t *testing.T) {
	if got := cmaTrace(t); got != goldenTrace {
		t.Fatalf("CMA-ES trace hash %s, golden %s", got, goldenTrace)
	}
}
