// Package train fits the patch-transformer: backbone pretraining, LoRA
// experts with their heads, and linear probes. Everything is seeded and
// batches are split into a fixed number of shards whose gradients are summed
// in a fixed order, so results do not depend on how many cores run them.
package train

import "math"

// Adam is the Adam optimiser (with optional decoupled weight decay) over a
// fixed list of parameter slices.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	t                                  int
	b1t, b2t                           float64 // Beta1^t, Beta2^t as running products (no math.Pow)
	m, v                               [][]float32
}

// NewAdam returns Adam with the usual betas for the given parameters.
func NewAdam(lr float64, params [][]float32) *Adam {
	a := &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, b1t: 1, b2t: 1}
	for _, p := range params {
		a.m = append(a.m, make([]float32, len(p)))
		a.v = append(a.v, make([]float32, len(p)))
	}
	return a
}

// Step applies one update with learning rate lr to params given grads (same order as NewAdam).
func (a *Adam) Step(params, grads [][]float32, lr float64) {
	a.t++
	a.b1t *= a.Beta1
	a.b2t *= a.Beta2
	c1, c2 := 1-a.b1t, 1-a.b2t
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	step := float32(lr / c1)
	ic2 := float32(1 / c2)
	eps := float32(a.Eps)
	wd := float32(lr * a.WeightDecay)
	for i, p := range params {
		g, m, v := grads[i], a.m[i], a.v[i]
		for j := range p {
			m[j] = b1*m[j] + (1-b1)*g[j]
			v[j] = b2*v[j] + (1-b2)*g[j]*g[j]
			p[j] -= step*m[j]/(float32(math.Sqrt(float64(v[j]*ic2)))+eps) + wd*p[j]
		}
	}
}

// cosineLR is the learning rate at step t of total with linear warm-up.
func cosineLR(base float64, t, total int) float64 {
	warm := total / 20
	if t < warm {
		return base * float64(t+1) / float64(warm)
	}
	return base * 0.5 * (1 + math.Cos(math.Pi*float64(t-warm)/float64(total-warm)))
}
