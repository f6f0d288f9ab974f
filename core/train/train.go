package train

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"enmplab/core/data"
	"enmplab/core/nn"
)

// Shards is the fixed number of pieces a batch is cut into; each is run on
// its own goroutine and their gradients are summed in order, so the result
// is the same on one core or many.
const Shards = 2

// Options control one training run.
type Options struct {
	Epochs   int
	Batch    int
	LR       float64
	Seed     uint64
	MaxSteps int                                 // 0 = no limit beyond Epochs
	Log      func(step, total int, loss float64) // optional progress report
	LogEvery int
}

// Labelled is a training set whose samples carry one label per head (-1: no
// label for that head).
type Labelled struct {
	X      []uint8
	Labels [][]int32 // Labels[h][i]
	N      int
}

// Augment optionally transforms a batch in place (given a seeded RNG) and
// returns its labels; used by pretraining objectives. Nil means none.
type Augment func(r *rand.Rand, x []uint8, labels [][]int32, n int)

// batchGrads runs forward and backward over one batch in Shards pieces and
// returns the summed gradients of the backbone and the heads, and the loss.
func batchGrads(m *nn.Backbone, heads []*nn.Head, x []uint8, labels [][]int32, n int,
	gb []*nn.Backbone, gh [][]*nn.Head) float64 {
	size := m.Cfg.InputSize
	d := m.Cfg.Width
	losses := make([]float64, Shards)
	var wg sync.WaitGroup
	for s := 0; s < Shards; s++ {
		lo, hi := s*n/Shards, (s+1)*n/Shards
		zeroBackbone(gb[s])
		for _, h := range gh[s] {
			zero(h.W)
			zero(h.B)
		}
		if hi <= lo {
			continue
		}
		wg.Add(1)
		go func(s, lo, hi int) {
			defer wg.Done()
			k := hi - lo
			feat, tr := m.Forward(x[lo*size:hi*size], k, true)
			dfeat := make([]float32, k*d)
			for h, head := range heads {
				// Keep only samples labelled for this head.
				var idx []int
				for i := lo; i < hi; i++ {
					if labels[h][i] >= 0 {
						idx = append(idx, i-lo)
					}
				}
				if len(idx) == 0 {
					continue
				}
				f := make([]float32, len(idx)*d)
				y := make([]int32, len(idx))
				for j, i := range idx {
					copy(f[j*d:(j+1)*d], feat[i*d:(i+1)*d])
					y[j] = labels[h][lo+i]
				}
				loss, dl := nn.CrossEntropy(head.Logits(f, len(idx), d), y, len(idx), head.Classes)
				// CrossEntropy averages over len(idx); rescale to a mean over the batch.
				w := float32(len(idx)) / float32(n)
				for i := range dl {
					dl[i] *= w
				}
				losses[s] += loss * float64(w)
				df := head.Backward(gh[s][h], f, dl, len(idx), d)
				for j, i := range idx {
					for c := 0; c < d; c++ {
						dfeat[i*d+c] += df[j*d+c]
					}
				}
			}
			m.Backward(tr, dfeat, gb[s])
		}(s, lo, hi)
	}
	wg.Wait()
	for s := 1; s < Shards; s++ {
		addBackbone(gb[0], gb[s])
		for h := range gh[0] {
			add(gh[0][h].W, gh[s][h].W)
			add(gh[0][h].B, gh[s][h].B)
		}
	}
	total := 0.0
	for _, l := range losses {
		total += l
	}
	return total
}

func zero(v []float32) {
	for i := range v {
		v[i] = 0
	}
}

func add(dst, src []float32) {
	for i := range dst {
		dst[i] += src[i]
	}
}

func zeroBackbone(g *nn.Backbone) {
	for _, t := range g.Tensors() {
		zero(t.W)
	}
}

func addBackbone(dst, src *nn.Backbone) {
	st := src.Tensors()
	for i, t := range dst.Tensors() {
		add(t.W, st[i].W)
	}
}

// loop runs the epochs: it shuffles with the seed, gathers each batch,
// applies aug, calls step with the batch, and returns the last epoch's mean loss.
func loop(set Labelled, size int, o Options, aug Augment, step func(x []uint8, labels [][]int32, n, t, total int) float64) (float64, error) {
	if set.N == 0 || o.Batch <= 0 || o.Epochs <= 0 {
		return 0, fmt.Errorf("train: empty set (%d samples) or bad options %+v", set.N, o)
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x7a11))
	perEpoch := (set.N + o.Batch - 1) / o.Batch
	total := perEpoch * o.Epochs
	if o.MaxSteps > 0 && total > o.MaxSteps {
		total = o.MaxSteps
	}
	x := make([]uint8, o.Batch*size)
	labels := make([][]int32, len(set.Labels))
	for h := range labels {
		labels[h] = make([]int32, o.Batch)
	}
	t := 0
	var epochLoss float64
	for e := 0; e < o.Epochs && t < total; e++ {
		perm := r.Perm(set.N)
		epochLoss = 0
		steps := 0
		for b := 0; b < set.N && t < total; b += o.Batch {
			n := min(o.Batch, set.N-b)
			for j := 0; j < n; j++ {
				i := perm[b+j]
				copy(x[j*size:(j+1)*size], set.X[i*size:(i+1)*size])
				for h := range labels {
					labels[h][j] = set.Labels[h][i]
				}
			}
			lb := make([][]int32, len(labels))
			for h := range labels {
				lb[h] = labels[h][:n]
			}
			if aug != nil {
				aug(r, x[:n*size], lb, n)
			}
			loss := step(x[:n*size], lb, n, t, total)
			epochLoss += loss
			steps++
			if o.Log != nil && o.LogEvery > 0 && t%o.LogEvery == 0 {
				o.Log(t, total, loss)
			}
			t++
		}
		epochLoss /= float64(steps)
	}
	return epochLoss, nil
}

// Backbone trains every parameter of m and the heads (one per label column
// of set) jointly: the pretraining objective.
func Backbone(m *nn.Backbone, heads []*nn.Head, set Labelled, aug Augment, o Options) (float64, error) {
	gb, gh := grads(m.Cfg, heads)
	params, gparams := tensors(m, heads, gb[0], gh[0])
	opt := NewAdam(o.LR, params)
	opt.WeightDecay = 0.01
	return loop(set, m.Cfg.InputSize, o, aug, func(x []uint8, labels [][]int32, n, t, total int) float64 {
		loss := batchGrads(m, heads, x, labels, n, gb, gh)
		opt.Step(params, gparams, cosineLR(o.LR, t, total))
		return loss
	})
}

func grads(c nn.Config, heads []*nn.Head) ([]*nn.Backbone, [][]*nn.Head) {
	gb := make([]*nn.Backbone, Shards)
	gh := make([][]*nn.Head, Shards)
	for s := range gb {
		gb[s] = nn.NewBackbone(c)
		for _, h := range heads {
			gh[s] = append(gh[s], nn.NewHead(h.Classes, c.Width))
		}
	}
	return gb, gh
}

func tensors(m *nn.Backbone, heads []*nn.Head, g *nn.Backbone, gh []*nn.Head) (params, gparams [][]float32) {
	gt := g.Tensors()
	for i, t := range m.Tensors() {
		params = append(params, t.W)
		gparams = append(gparams, gt[i].W)
	}
	for i, h := range heads {
		params = append(params, h.W, h.B)
		gparams = append(gparams, gh[i].W, gh[i].B)
	}
	return params, gparams
}

// LoRA trains one task's LoRA (A and B of q, k, v, o in every block) and its
// head on a frozen backbone. The gradient with respect to each merged matrix
// W = W0 + s B A is projected onto the factors: dB = s dW A^T, dA = s B^T dW.
func LoRA(base *nn.Backbone, lo *nn.LoRA, head *nn.Head, set data.Split, o Options) (float64, error) {
	c := base.Cfg
	d, r := c.Width, lo.Rank
	heads := []*nn.Head{head}
	gb, gh := grads(c, heads)
	var params, gparams [][]float32
	gA := make([][][]float32, c.Layers)
	gB := make([][][]float32, c.Layers)
	for l := 0; l < c.Layers; l++ {
		gA[l] = make([][]float32, len(nn.Projections))
		gB[l] = make([][]float32, len(nn.Projections))
		for p := range nn.Projections {
			gA[l][p] = make([]float32, r*d)
			gB[l][p] = make([]float32, d*r)
			params = append(params, lo.A[l][p], lo.B[l][p])
			gparams = append(gparams, gA[l][p], gB[l][p])
		}
	}
	params = append(params, head.W, head.B)
	gparams = append(gparams, gh[0][0].W, gh[0][0].B)
	opt := NewAdam(o.LR, params)
	s := lo.Scale()
	set2 := Labelled{X: set.X, Labels: [][]int32{set.Y}, N: set.Len()}
	return loop(set2, c.InputSize, o, nil, func(x []uint8, labels [][]int32, n, t, total int) float64 {
		m := lo.Apply(base, 1)
		loss := batchGrads(m, heads, x, labels, n, gb, gh)
		for l := 0; l < c.Layers; l++ {
			for p := range nn.Projections {
				projectLoRAGrad(gb[0].Blocks[l].Proj(p), lo.A[l][p], lo.B[l][p], gA[l][p], gB[l][p], r, d, s)
			}
		}
		opt.Step(params, gparams, cosineLR(o.LR, t, total))
		return loss
	})
}

// projectLoRAGrad turns the gradient dW [d x d] of a merged matrix
// W = W0 + s B A into the factors' gradients: dB = s dW A^T, dA = s B^T dW.
func projectLoRAGrad(dW, A, B, gA, gB []float32, r, d int, s float32) {
	for o := 0; o < d; o++ {
		row := dW[o*d : (o+1)*d]
		for k := 0; k < r; k++ {
			var acc float32
			ak := A[k*d : (k+1)*d]
			for i, v := range row {
				acc += v * ak[i]
			}
			gB[o*r+k] = s * acc
		}
	}
	zero(gA)
	for o := 0; o < d; o++ {
		row := dW[o*d : (o+1)*d]
		for k := 0; k < r; k++ {
			bk := s * B[o*r+k]
			if bk == 0 {
				continue
			}
			gk := gA[k*d : (k+1)*d]
			for i, v := range row {
				gk[i] += bk * v
			}
		}
	}
}

// Head fits a linear head on fixed features [n x width] (a linear probe).
func Head(head *nn.Head, feat []float32, y []int32, width int, o Options) (float64, error) {
	n := len(y)
	g := nn.NewHead(head.Classes, width)
	params := [][]float32{head.W, head.B}
	gparams := [][]float32{g.W, g.B}
	opt := NewAdam(o.LR, params)
	r := rand.New(rand.NewPCG(o.Seed, 0x4ead))
	perEpoch := (n + o.Batch - 1) / o.Batch
	total := perEpoch * o.Epochs
	f := make([]float32, o.Batch*width)
	yb := make([]int32, o.Batch)
	t := 0
	var loss float64
	for e := 0; e < o.Epochs; e++ {
		perm := r.Perm(n)
		loss = 0
		for b := 0; b < n; b += o.Batch {
			k := min(o.Batch, n-b)
			for j := 0; j < k; j++ {
				copy(f[j*width:(j+1)*width], feat[perm[b+j]*width:(perm[b+j]+1)*width])
				yb[j] = y[perm[b+j]]
			}
			zero(g.W)
			zero(g.B)
			l, dl := nn.CrossEntropy(head.Logits(f[:k*width], k, width), yb[:k], k, head.Classes)
			head.Backward(g, f[:k*width], dl, k, width)
			opt.Step(params, gparams, cosineLR(o.LR, t, total))
			loss += l / float64(perEpoch)
			t++
		}
	}
	return loss, nil
}

// Accuracy is the fraction of samples of s whose argmax under head on
// backbone m equals the label.
func Accuracy(m *nn.Backbone, head *nn.Head, s data.Split) float64 {
	if s.Len() == 0 {
		return 0
	}
	feat := Features(m, s)
	pred := nn.Predict(head.Logits(feat, s.Len(), m.Cfg.Width), s.Len(), head.Classes)
	ok := 0
	for i, p := range pred {
		if p == s.Y[i] {
			ok++
		}
	}
	return float64(ok) / float64(s.Len())
}

// Features computes the CLS features of every sample of s, in chunks of 256.
func Features(m *nn.Backbone, s data.Split) []float32 {
	size := m.Cfg.InputSize
	var out []float32
	for lo := 0; lo < s.Len(); lo += 256 {
		hi := min(lo+256, s.Len())
		f, _ := m.Forward(s.X[lo*size:hi*size], hi-lo, false)
		out = append(out, f...)
	}
	return out
}
