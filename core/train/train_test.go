package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/num"
)

func tinyConfig() nn.Config {
	c := nn.DefaultConfig(data.Vision)
	c.Width, c.Heads, c.MLP, c.Layers = 8, 2, 12, 2
	return c
}

// synthetic makes a vision task whose label is the brightest channel.
func synthetic(n int, seed uint64) data.Split {
	r := rand.New(rand.NewPCG(seed, 1))
	size := data.SampleSize(data.Vision)
	s := data.Split{X: make([]uint8, n*size), Y: make([]int32, n)}
	for i := 0; i < n; i++ {
		y := r.IntN(3)
		s.Y[i] = int32(y)
		for c := 0; c < 3; c++ {
			base := 60
			if c == y {
				base = 120
			}
			for p := 0; p < 1024; p++ {
				s.X[i*size+c*1024+p] = uint8(base + r.IntN(100))
			}
		}
	}
	return s
}

// TestLoRAGradientProjection checks dA and dB against finite differences of
// the loss of the model with W = W0 + s B A.
func TestLoRAGradientProjection(t *testing.T) {
	c := tinyConfig()
	m, _ := nn.InitBackbone(c, 1)
	lo := nn.NewLoRA(c, 2)
	r := rand.New(rand.NewPCG(5, 5))
	for l := range lo.B {
		for p := range lo.B[l] {
			for i := range lo.B[l][p] {
				lo.B[l][p][i] = float32(0.3 * num.Normal(r))
			}
		}
	}
	head := nn.NewHead(3, c.Width)
	for i := range head.W {
		head.W[i] = float32(num.Normal(r))
	}
	s := synthetic(4, 9)
	loss := func() float64 {
		f, _ := lo.Apply(m, 1).Forward(s.X, 4, false)
		l, _ := nn.CrossEntropy(head.Logits(f, 4, c.Width), s.Y, 4, 3)
		return l
	}
	mm := lo.Apply(m, 1)
	f, tr := mm.Forward(s.X, 4, true)
	_, dl := nn.CrossEntropy(head.Logits(f, 4, c.Width), s.Y, 4, 3)
	g := nn.NewBackbone(c)
	mm.Backward(tr, head.Backward(nn.NewHead(3, c.Width), f, dl, 4, c.Width), g)
	d, rk := c.Width, c.LoRARank
	for l := 0; l < c.Layers; l++ {
		for p := range nn.Projections {
			gA, gB := make([]float32, rk*d), make([]float32, d*rk)
			projectLoRAGrad(g.Blocks[l].Proj(p), lo.A[l][p], lo.B[l][p], gA, gB, rk, d, lo.Scale())
			for _, w := range []struct {
				name string
				v, g []float32
			}{{"A", lo.A[l][p], gA}, {"B", lo.B[l][p], gB}} {
				for _, i := range []int{0, len(w.v) / 3, len(w.v) - 1} {
					old := w.v[i]
					w.v[i] = old + 3e-3
					lp := loss()
					w.v[i] = old - 3e-3
					lm := loss()
					w.v[i] = old
					numg := (lp - lm) / 6e-3
					if math.Abs(numg-float64(w.g[i])) > 2e-3+0.03*math.Abs(numg) {
						t.Errorf("layer %d %s %s[%d]: analytic %v numeric %v", l, nn.Projections[p], w.name, i, w.g[i], numg)
					}
				}
			}
		}
	}
}

// TestLoRALearnsAndIsDeterministic trains a LoRA expert on a synthetic task
// twice: it must beat chance clearly and give bit-identical factors.
func TestLoRALearnsAndIsDeterministic(t *testing.T) {
	c := tinyConfig()
	run := func() (*nn.LoRA, *nn.Head, float64) {
		m, _ := nn.InitBackbone(c, 1)
		lo := nn.NewLoRA(c, 3)
		head := nn.NewHead(3, c.Width)
		if _, err := LoRA(m, lo, head, synthetic(192, 1), Options{Epochs: 4, Batch: 16, LR: 1e-2, Seed: 4}); err != nil {
			t.Fatal(err)
		}
		return lo, head, Accuracy(lo.Apply(m, 1), head, synthetic(96, 2))
	}
	lo1, h1, acc := run()
	if acc < 0.8 {
		t.Fatalf("accuracy %v on a 3-class task that is easy: training does not work", acc)
	}
	lo2, h2, _ := run()
	for l := range lo1.A {
		for p := range lo1.A[l] {
			for i := range lo1.A[l][p] {
				if lo1.A[l][p][i] != lo2.A[l][p][i] {
					t.Fatal("two runs with the same seed differ")
				}
			}
		}
	}
	for i := range h1.W {
		if h1.W[i] != h2.W[i] {
			t.Fatal("heads differ between identical runs")
		}
	}
}
