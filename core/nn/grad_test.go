package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"enmplab/core/data"
	"enmplab/core/num"
)

func smallConfig(f data.Family) Config {
	c := DefaultConfig(f)
	c.Width, c.Heads, c.MLP, c.Layers = 8, 2, 12, 2
	if f == data.Text {
		c.ByteEmbed = 4
		c.PatchDim = c.PatchSize * 4
	}
	return c
}

func randomInput(f data.Family, n int, r *rand.Rand) ([]uint8, []int32) {
	x := make([]uint8, n*data.SampleSize(f))
	for i := range x {
		x[i] = uint8(r.IntN(256))
	}
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(r.IntN(3))
	}
	return x, y
}

// TestBackwardMatchesFiniteDifferences checks every parameter tensor's
// analytic gradient against central differences of the loss.
func TestBackwardMatchesFiniteDifferences(t *testing.T) {
	for _, f := range []data.Family{data.Vision, data.Text} {
		t.Run(string(f), func(t *testing.T) {
			c := smallConfig(f)
			m, err := InitBackbone(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			// Non-trivial LayerNorm parameters and biases, so their gradients matter.
			for _, ts := range m.Tensors() {
				for i := range ts.W {
					ts.W[i] += float32(0.1 * num.Normal(r))
				}
			}
			head := NewHead(3, c.Width)
			for i := range head.W {
				head.W[i] = float32(num.Normal(r))
			}
			n := 3
			x, y := randomInput(f, n, r)
			lossOf := func() float64 {
				feat, _ := m.Forward(x, n, false)
				l, _ := CrossEntropy(head.Logits(feat, n, c.Width), y, n, 3)
				return l
			}
			feat, tr := m.Forward(x, n, true)
			_, dl := CrossEntropy(head.Logits(feat, n, c.Width), y, n, 3)
			gh := NewHead(3, c.Width)
			df := head.Backward(gh, feat, dl, n, c.Width)
			g := NewBackbone(c)
			m.Backward(tr, df, g)

			check := func(name string, w, gw []float32) {
				idx := []int{0, len(w) / 2, len(w) - 1, r.IntN(len(w)), r.IntN(len(w))}
				if name == "stem.byte_embedding.weight" {
					// Only the rows of bytes present in x get gradient; test those.
					b := int(x[0]) * c.ByteEmbed
					idx = []int{b, b + 1, b + c.ByteEmbed - 1}
				}
				for _, i := range idx {
					old := w[i]
					const eps = 3e-3 // small enough for the curvature, large enough for float32 noise
					w[i] = old + eps
					lp := lossOf()
					w[i] = old - eps
					lm := lossOf()
					w[i] = old
					numg := (lp - lm) / (2 * eps)
					if diff := math.Abs(numg - float64(gw[i])); diff > 2e-3+0.03*math.Abs(numg) {
						t.Errorf("%s[%d]: analytic %.6f, numeric %.6f", name, i, gw[i], numg)
					}
				}
			}
			gts := g.Tensors()
			for k, ts := range m.Tensors() {
				check(ts.Name, ts.W, gts[k].W)
			}
			check("head.weight", head.W, gh.W)
			check("head.bias", head.B, gh.B)
		})
	}
}

func TestLoRAZeroBIsIdentityAndDeltaIsBA(t *testing.T) {
	c := smallConfig(data.Vision)
	m, _ := InitBackbone(c, 7)
	lo := NewLoRA(c, 9)
	r := rand.New(rand.NewPCG(1, 1))
	x, _ := randomInput(data.Vision, 2, r)
	f0, _ := m.Forward(x, 2, false)
	f1, _ := lo.Apply(m, 1).Forward(x, 2, false)
	for i := range f0 {
		if f0[i] != f1[i] {
			t.Fatalf("B = 0 must leave the backbone unchanged: %v vs %v", f0[i], f1[i])
		}
	}
	for i := range lo.B[1][2] {
		lo.B[1][2][i] = float32(num.Normal(r))
	}
	d := lo.Delta(1, 2, c.Width)
	// Check one entry by the definition sum_k B[o,k] A[k,i] * alpha/r.
	o, i := 3, 5
	var want float32
	for k := 0; k < c.LoRARank; k++ {
		want += lo.B[1][2][o*c.LoRARank+k] * lo.A[1][2][k*c.Width+i]
	}
	want *= float32(c.LoRAAlpha / float64(c.LoRARank))
	if math.Abs(float64(d[o*c.Width+i]-want)) > 1e-5 {
		t.Fatalf("Delta W[%d,%d] = %v, want %v", o, i, d[o*c.Width+i], want)
	}
}
