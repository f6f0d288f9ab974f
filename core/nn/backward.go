package nn

import (
	"math"

	"enmplab/core/data"
	"enmplab/core/num"
)

// CrossEntropy returns the mean loss of logits [n x classes] against labels
// and its gradient with respect to the logits.
func CrossEntropy(logits []float32, y []int32, n, classes int) (float64, []float32) {
	grad := make([]float32, len(logits))
	copy(grad, logits)
	var loss float64
	for i := 0; i < n; i++ {
		row := grad[i*classes : (i+1)*classes]
		softmaxRow(row)
		loss -= num.Log(math.Max(float64(row[y[i]]), 1e-30))
		row[y[i]] -= 1
		for j := range row {
			row[j] /= float32(n)
		}
	}
	return loss / float64(n), grad
}

// HeadBackward accumulates the head's gradient into g and returns dFeat.
func (hd *Head) Backward(g *Head, f, dlogits []float32, n, width int) []float32 {
	df := make([]float32, n*width)
	linearBack(df, g.W, g.B, dlogits, f, hd.W, n, width, hd.Classes)
	return df
}

// Backward accumulates into g the gradient of every parameter given the
// gradient of the loss with respect to the features of a traced forward pass.
func (m *Backbone) Backward(tr *Trace, dFeat []float32, g *Backbone) {
	c := m.Cfg
	n, d, S := tr.n, c.Width, c.Seq()
	dcls := make([]float32, n*d)
	layerNormBack(dcls, g.LNfG, g.LNfB, dFeat, tr.xhatF, tr.rstdF, m.LNfG, n, d)
	dh := make([]float32, n*S*d)
	for s := 0; s < n; s++ {
		copy(dh[s*S*d:s*S*d+d], dcls[s*d:(s+1)*d])
	}
	for l := len(m.Blocks) - 1; l >= 0; l-- {
		dh = m.blockBackward(l, &tr.blocks[l], dh, n, &g.Blocks[l])
	}
	// Embedding: h = [CLS; proj] + Pos.
	dproj := make([]float32, n*c.Tokens*d)
	for s := 0; s < n; s++ {
		seq := dh[s*S*d : (s+1)*S*d]
		axpy(g.Pos, 1, seq)
		axpy(g.CLS, 1, seq[:d])
		copy(dproj[s*c.Tokens*d:(s+1)*c.Tokens*d], seq[d:])
	}
	var dpatch []float32
	if c.Family == data.Text {
		dpatch = make([]float32, len(tr.patches))
	}
	linearBack(dpatch, g.PatchW, g.PatchB, dproj, tr.patches, m.PatchW, n*c.Tokens, c.PatchDim, d)
	if c.Family == data.Text {
		e := c.ByteEmbed
		for s := 0; s < n*c.Tokens; s++ {
			for j := 0; j < c.PatchSize; j++ {
				b := int(tr.input[s*c.PatchSize+j])
				axpy(g.ByteEmb[b*e:(b+1)*e], 1, dpatch[s*c.PatchDim+j*e:s*c.PatchDim+(j+1)*e])
			}
		}
	}
}

func (m *Backbone) blockBackward(l int, t *blockTrace, dout []float32, n int, g *Block) []float32 {
	c := m.Cfg
	b := &m.Blocks[l]
	d, S, H := c.Width, c.Seq(), c.Heads
	dh := d / H
	rows := n * S
	// MLP branch: out = mid + W2 gelu(W1 LN2(mid)).
	dmid := append([]float32(nil), dout...)
	dhh := make([]float32, rows*c.MLP)
	linearBack(dhh, g.W2, g.B2, dout, t.h, b.W2, rows, c.MLP, d)
	for i, z := range t.u {
		dhh[i] *= geluGrad(z)
	}
	dbb := make([]float32, rows*d)
	linearBack(dbb, g.W1, g.B1, dhh, t.b, b.W1, rows, d, c.MLP)
	layerNormBack(dmid, g.LN2G, g.LN2B, dbb, t.xhat2, t.rstd2, b.LN2G, rows, d)
	// Attention branch: mid = x + Wo ctx.
	dx := append([]float32(nil), dmid...)
	dctx := make([]float32, rows*d)
	linearBack(dctx, g.Wo, g.Bo, dmid, t.ctx, b.Wo, rows, d, d)
	dq, dk, dv := make([]float32, rows*d), make([]float32, rows*d), make([]float32, rows*d)
	scale := float32(1 / math.Sqrt(float64(dh)))
	dp := make([]float32, S)
	for s := 0; s < n; s++ {
		for hd := 0; hd < H; hd++ {
			off := hd * dh
			for i := 0; i < S; i++ {
				p := t.p[((s*H+hd)*S+i)*S : ((s*H+hd)*S+i+1)*S]
				dci := dctx[(s*S+i)*d+off : (s*S+i)*d+off+dh]
				var sum float32
				for j := 0; j < S; j++ {
					vj := t.v[(s*S+j)*d+off : (s*S+j)*d+off+dh]
					dp[j] = dot(dci, vj)
					sum += dp[j] * p[j]
					axpy(dv[(s*S+j)*d+off:(s*S+j)*d+off+dh], p[j], dci)
				}
				qi := t.q[(s*S+i)*d+off : (s*S+i)*d+off+dh]
				dqi := dq[(s*S+i)*d+off : (s*S+i)*d+off+dh]
				for j := 0; j < S; j++ {
					ds := p[j] * (dp[j] - sum) * scale
					if ds == 0 {
						continue
					}
					axpy(dqi, ds, t.k[(s*S+j)*d+off:(s*S+j)*d+off+dh])
					axpy(dk[(s*S+j)*d+off:(s*S+j)*d+off+dh], ds, qi)
				}
			}
		}
	}
	da := make([]float32, rows*d)
	linearBack(da, g.Wq, g.Bq, dq, t.a, b.Wq, rows, d, d)
	linearBack(da, g.Wk, g.Bk, dk, t.a, b.Wk, rows, d, d)
	linearBack(da, g.Wv, g.Bv, dv, t.a, b.Wv, rows, d, d)
	layerNormBack(dx, g.LN1G, g.LN1B, da, t.xhat1, t.rstd1, b.LN1G, rows, d)
	return dx
}
