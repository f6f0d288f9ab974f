package nn

import (
	"math"

	"enmplab/core/data"
)

// blockTrace keeps what one block's backward pass needs.
type blockTrace struct {
	in, xhat1, rstd1, a, q, k, v, p, ctx []float32
	mid, xhat2, rstd2, b, u, h           []float32
}

// Trace keeps every activation of a forward pass for the backward pass.
type Trace struct {
	n       int
	input   []uint8
	patches []float32 // [n*Tokens x PatchDim]
	blocks  []blockTrace
	last    []float32 // output of the last block [n*Seq x Width]
	cls     []float32 // CLS rows before the final LayerNorm [n x Width]
	xhatF   []float32
	rstdF   []float32
	Feat    []float32 // final CLS features [n x Width]
}

// patchify turns n samples into n*Tokens patch vectors.
func (m *Backbone) patchify(x []uint8, n int) []float32 {
	c := m.Cfg
	out := make([]float32, n*c.Tokens*c.PatchDim)
	switch c.Family {
	case data.Vision:
		side, ps := data.ImageSide, c.PatchSize
		per := side / ps
		for s := 0; s < n; s++ {
			img := x[s*c.InputSize : (s+1)*c.InputSize]
			for t := 0; t < c.Tokens; t++ {
				py, px := t/per, t%per
				o := out[(s*c.Tokens+t)*c.PatchDim:]
				i := 0
				for ch := 0; ch < data.ImageChannels; ch++ {
					plane := img[ch*side*side:]
					for dy := 0; dy < ps; dy++ {
						row := plane[(py*ps+dy)*side+px*ps:]
						for dx := 0; dx < ps; dx++ {
							o[i] = (float32(row[dx]) - 127.5) / 64
							i++
						}
					}
				}
			}
		}
	case data.Text:
		e := c.ByteEmbed
		for s := 0; s < n*c.Tokens; s++ {
			for j := 0; j < c.PatchSize; j++ {
				b := int(x[s*c.PatchSize+j])
				copy(out[s*c.PatchDim+j*e:s*c.PatchDim+(j+1)*e], m.ByteEmb[b*e:(b+1)*e])
			}
		}
	}
	return out
}

// Embed maps n samples to the first block's input [n*Seq x Width].
func (m *Backbone) Embed(x []uint8, n int) []float32 {
	h, _ := m.embed(x, n)
	return h
}

func (m *Backbone) embed(x []uint8, n int) (h, patches []float32) {
	c := m.Cfg
	d, S := c.Width, c.Seq()
	patches = m.patchify(x, n)
	proj := make([]float32, n*c.Tokens*d)
	linear(proj, patches, m.PatchW, m.PatchB, n*c.Tokens, c.PatchDim, d)
	h = make([]float32, n*S*d)
	for s := 0; s < n; s++ {
		seq := h[s*S*d : (s+1)*S*d]
		copy(seq[:d], m.CLS)
		copy(seq[d:], proj[s*c.Tokens*d:(s+1)*c.Tokens*d])
		for i := range seq {
			seq[i] += m.Pos[i]
		}
	}
	return h, patches
}

// BlockForward runs block l on h [n*Seq x Width] and returns its output.
func (m *Backbone) BlockForward(l int, h []float32, n int) []float32 {
	return m.blockForward(l, h, n, nil)
}

func (m *Backbone) blockForward(l int, x []float32, n int, tr *blockTrace) []float32 {
	c := m.Cfg
	b := &m.Blocks[l]
	d, S, H := c.Width, c.Seq(), c.Heads
	dh := d / H
	rows := n * S
	buf := func(k int) []float32 { return make([]float32, k) }
	a := buf(rows * d)
	var xhat1, rstd1 []float32
	if tr != nil {
		xhat1, rstd1 = buf(rows*d), buf(rows)
	}
	layerNorm(a, x, b.LN1G, b.LN1B, xhat1, rstd1, rows, d)
	q, k, v := buf(rows*d), buf(rows*d), buf(rows*d)
	linear(q, a, b.Wq, b.Bq, rows, d, d)
	linear(k, a, b.Wk, b.Bk, rows, d, d)
	linear(v, a, b.Wv, b.Bv, rows, d, d)
	ctx := buf(rows * d)
	var probs []float32
	if tr != nil {
		probs = buf(n * H * S * S)
	}
	scale := float32(1 / math.Sqrt(float64(dh)))
	p := make([]float32, S)
	for s := 0; s < n; s++ {
		for hd := 0; hd < H; hd++ {
			off := hd * dh
			for i := 0; i < S; i++ {
				qi := q[(s*S+i)*d+off : (s*S+i)*d+off+dh]
				for j := 0; j < S; j++ {
					p[j] = dot(qi, k[(s*S+j)*d+off:(s*S+j)*d+off+dh]) * scale
				}
				softmaxRow(p)
				ci := ctx[(s*S+i)*d+off : (s*S+i)*d+off+dh]
				for j := 0; j < S; j++ {
					axpy(ci, p[j], v[(s*S+j)*d+off:(s*S+j)*d+off+dh])
				}
				if probs != nil {
					copy(probs[((s*H+hd)*S+i)*S:], p)
				}
			}
		}
	}
	mid := buf(rows * d)
	linear(mid, ctx, b.Wo, b.Bo, rows, d, d)
	for i := range mid {
		mid[i] += x[i]
	}
	bb := buf(rows * d)
	var xhat2, rstd2 []float32
	if tr != nil {
		xhat2, rstd2 = buf(rows*d), buf(rows)
	}
	layerNorm(bb, mid, b.LN2G, b.LN2B, xhat2, rstd2, rows, d)
	u := buf(rows * c.MLP)
	linear(u, bb, b.W1, b.B1, rows, d, c.MLP)
	hh := buf(rows * c.MLP)
	for i, z := range u {
		hh[i] = gelu(z)
	}
	out := buf(rows * d)
	linear(out, hh, b.W2, b.B2, rows, c.MLP, d)
	for i := range out {
		out[i] += mid[i]
	}
	if tr != nil {
		*tr = blockTrace{in: x, xhat1: xhat1, rstd1: rstd1, a: a, q: q, k: k, v: v, p: probs, ctx: ctx,
			mid: mid, xhat2: xhat2, rstd2: rstd2, b: bb, u: u, h: hh}
	}
	return out
}

// Features applies the final LayerNorm to the CLS rows of h.
func (m *Backbone) Features(h []float32, n int) []float32 {
	f, _, _, _ := m.features(h, n, false)
	return f
}

func (m *Backbone) features(h []float32, n int, keep bool) (f, cls, xhat, rstd []float32) {
	d, S := m.Cfg.Width, m.Cfg.Seq()
	cls = make([]float32, n*d)
	for s := 0; s < n; s++ {
		copy(cls[s*d:(s+1)*d], h[s*S*d:s*S*d+d])
	}
	f = make([]float32, n*d)
	if keep {
		xhat, rstd = make([]float32, n*d), make([]float32, n)
	}
	layerNorm(f, cls, m.LNfG, m.LNfB, xhat, rstd, n, d)
	return f, cls, xhat, rstd
}

// Forward runs n samples through the backbone and returns their CLS
// features [n x Width]; with keep it also returns the trace for Backward.
func (m *Backbone) Forward(x []uint8, n int, keep bool) ([]float32, *Trace) {
	if !keep {
		h := m.Embed(x, n)
		for l := range m.Blocks {
			h = m.BlockForward(l, h, n)
		}
		return m.Features(h, n), nil
	}
	tr := &Trace{n: n, input: x, blocks: make([]blockTrace, len(m.Blocks))}
	h, patches := m.embed(x, n)
	tr.patches = patches
	for l := range m.Blocks {
		h = m.blockForward(l, h, n, &tr.blocks[l])
	}
	tr.last = h
	tr.Feat, tr.cls, tr.xhatF, tr.rstdF = m.features(h, n, true)
	return tr.Feat, tr
}

// Logits applies the head to features [n x Width] and returns [n x Classes].
func (hd *Head) Logits(f []float32, n, width int) []float32 {
	out := make([]float32, n*hd.Classes)
	linear(out, f, hd.W, hd.B, n, width, hd.Classes)
	return out
}

// Predict returns the argmax class of each row of logits (lowest index on ties).
func Predict(logits []float32, n, classes int) []int32 {
	out := make([]int32, n)
	for i := 0; i < n; i++ {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = int32(best)
	}
	return out
}
