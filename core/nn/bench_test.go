package nn

import (
	"math/rand/v2"
	"testing"

	"enmplab/core/data"
)

// BenchmarkForward measures one forward pass of 128 samples at the default
// size: the unit of a fitness evaluation (8 tasks x 128 is 8 of these).
func BenchmarkForward(b *testing.B) {
	for _, f := range []data.Family{data.Vision, data.Text} {
		b.Run(string(f), func(b *testing.B) {
			c := DefaultConfig(f)
			m, _ := InitBackbone(c, 1)
			x, _ := randomInput(f, 128, rand.New(rand.NewPCG(1, 2)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Forward(x, 128, false)
			}
			b.ReportMetric(float64(c.FLOPsPerSample())*128*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkTrainStep measures forward plus backward of a 32-sample batch.
func BenchmarkTrainStep(b *testing.B) {
	c := DefaultConfig(data.Vision)
	m, _ := InitBackbone(c, 1)
	x, y := randomInput(data.Vision, 32, rand.New(rand.NewPCG(1, 2)))
	head := NewHead(3, c.Width)
	g, gh := NewBackbone(c), NewHead(3, c.Width)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		feat, tr := m.Forward(x, 32, true)
		_, dl := CrossEntropy(head.Logits(feat, 32, c.Width), y, 32, 3)
		m.Backward(tr, head.Backward(gh, feat, dl, 32, c.Width), g)
	}
}
