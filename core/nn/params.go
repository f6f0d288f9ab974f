package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"enmplab/core/num"
)

// Block holds one transformer block's weights. Matrices are row-major
// [out x in] as in PyTorch's nn.Linear.
type Block struct {
	LN1G, LN1B     []float32
	Wq, Wk, Wv, Wo []float32 // [Width x Width]
	Bq, Bk, Bv, Bo []float32
	LN2G, LN2B     []float32
	W1, B1         []float32 // [MLP x Width]
	W2, B2         []float32 // [Width x MLP]
}

// Proj returns the weight matrix of projection p ("q", "k", "v" or "o").
func (b *Block) Proj(p int) []float32 {
	return [...][]float32{b.Wq, b.Wk, b.Wv, b.Wo}[p]
}

// SetProj replaces the weight matrix of projection p.
func (b *Block) SetProj(p int, w []float32) {
	*[...]*[]float32{&b.Wq, &b.Wk, &b.Wv, &b.Wo}[p] = w
}

// Backbone is the shared trunk. The same type holds gradients.
type Backbone struct {
	Cfg        Config
	ByteEmb    []float32 // text only: [256 x ByteEmbed]
	PatchW     []float32 // [Width x PatchDim]
	PatchB     []float32
	CLS        []float32 // [Width]
	Pos        []float32 // [Seq x Width]
	Blocks     []Block
	LNfG, LNfB []float32
}

// Tensor is a named view of one parameter, used for optimisers and files.
type Tensor struct {
	Name  string
	Shape []int
	W     []float32
}

// Tensors lists every parameter with a PyTorch-style name, in a fixed order.
func (m *Backbone) Tensors() []Tensor {
	c := m.Cfg
	d := c.Width
	var ts []Tensor
	add := func(name string, w []float32, shape ...int) { ts = append(ts, Tensor{name, shape, w}) }
	if c.ByteEmbed > 0 {
		add("stem.byte_embedding.weight", m.ByteEmb, 256, c.ByteEmbed)
	}
	add("stem.proj.weight", m.PatchW, d, c.PatchDim)
	add("stem.proj.bias", m.PatchB, d)
	add("cls_token", m.CLS, d)
	add("pos_embedding", m.Pos, c.Seq(), d)
	for l := range m.Blocks {
		b := &m.Blocks[l]
		p := fmt.Sprintf("blocks.%d.", l)
		add(p+"ln1.weight", b.LN1G, d)
		add(p+"ln1.bias", b.LN1B, d)
		for i, w := range []struct{ w, b []float32 }{{b.Wq, b.Bq}, {b.Wk, b.Bk}, {b.Wv, b.Bv}, {b.Wo, b.Bo}} {
			add(p+ModulePath(Projections[i])+".weight", w.w, d, d)
			add(p+ModulePath(Projections[i])+".bias", w.b, d)
		}
		add(p+"ln2.weight", b.LN2G, d)
		add(p+"ln2.bias", b.LN2B, d)
		add(p+"mlp.fc1.weight", b.W1, c.MLP, d)
		add(p+"mlp.fc1.bias", b.B1, c.MLP)
		add(p+"mlp.fc2.weight", b.W2, d, c.MLP)
		add(p+"mlp.fc2.bias", b.B2, d)
	}
	add("ln_final.weight", m.LNfG, d)
	add("ln_final.bias", m.LNfB, d)
	return ts
}

// ModulePath is the module name of an attention projection within a block.
func ModulePath(proj string) string { return "attn." + proj + "_proj" }

// NumParams counts the backbone's parameters.
func (m *Backbone) NumParams() int64 {
	var n int64
	for _, t := range m.Tensors() {
		n += int64(len(t.W))
	}
	return n
}

// NewBackbone allocates a zeroed backbone (also used for gradients).
func NewBackbone(c Config) *Backbone {
	d := c.Width
	z := func(n int) []float32 { return make([]float32, n) }
	m := &Backbone{Cfg: c, PatchW: z(d * c.PatchDim), PatchB: z(d), CLS: z(d), Pos: z(c.Seq() * d), LNfG: z(d), LNfB: z(d)}
	if c.ByteEmbed > 0 {
		m.ByteEmb = z(256 * c.ByteEmbed)
	}
	m.Blocks = make([]Block, c.Layers)
	for l := range m.Blocks {
		m.Blocks[l] = Block{
			LN1G: z(d), LN1B: z(d), Wq: z(d * d), Wk: z(d * d), Wv: z(d * d), Wo: z(d * d),
			Bq: z(d), Bk: z(d), Bv: z(d), Bo: z(d), LN2G: z(d), LN2B: z(d),
			W1: z(c.MLP * d), B1: z(c.MLP), W2: z(d * c.MLP), B2: z(d),
		}
	}
	return m
}

// InitBackbone returns a randomly initialised backbone: truncated-free
// normal weights scaled by 1/sqrt(fan_in), unit LayerNorm gains.
func InitBackbone(c Config, seed uint64) (*Backbone, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := NewBackbone(c)
	r := rand.New(rand.NewPCG(seed, 0x6e6e))
	fill := func(w []float32, std float64) {
		for i := range w {
			w[i] = float32(std * num.Normal(r))
		}
	}
	ones := func(w []float32) {
		for i := range w {
			w[i] = 1
		}
	}
	d := float64(c.Width)
	fill(m.ByteEmb, 1)
	fill(m.PatchW, 1/math.Sqrt(float64(c.PatchDim)))
	fill(m.CLS, 0.02)
	fill(m.Pos, 0.02)
	for l := range m.Blocks {
		b := &m.Blocks[l]
		ones(b.LN1G)
		ones(b.LN2G)
		for _, w := range [][]float32{b.Wq, b.Wk, b.Wv, b.Wo, b.W1} {
			fill(w, 1/math.Sqrt(d))
		}
		fill(b.W2, 1/math.Sqrt(float64(c.MLP)))
	}
	ones(m.LNfG)
	return m, nil
}

// Clone deep-copies the backbone.
func (m *Backbone) Clone() *Backbone {
	n := NewBackbone(m.Cfg)
	src, dst := m.Tensors(), n.Tensors()
	for i := range src {
		copy(dst[i].W, src[i].W)
	}
	return n
}

// ShallowCopy copies the structure but shares every weight slice; callers
// then replace the attention matrices they merge, leaving the rest shared.
func (m *Backbone) ShallowCopy() *Backbone {
	n := *m
	n.Blocks = append([]Block(nil), m.Blocks...)
	return &n
}

// Head is one task's linear classifier on the final CLS features.
type Head struct {
	Classes int
	W       []float32 // [Classes x Width]
	B       []float32
}

// NewHead returns a zero-initialised head (zero init is standard for probes
// and keeps training deterministic and symmetric-free: the features differ).
func NewHead(classes, width int) *Head {
	return &Head{Classes: classes, W: make([]float32, classes*width), B: make([]float32, classes)}
}

// LoRA is one task's low-rank update of every block's q, k, v, o.
// A[l][p] is [r x Width], B[l][p] is [Width x r]; Delta W = B A * alpha/r.
type LoRA struct {
	Rank  int
	Alpha float64
	A, B  [][][]float32 // [layer][projection]
}

// NewLoRA returns the standard LoRA initialisation: A random, B zero, so
// training starts exactly at the backbone.
func NewLoRA(c Config, seed uint64) *LoRA {
	r := rand.New(rand.NewPCG(seed, 0x10a))
	lo := &LoRA{Rank: c.LoRARank, Alpha: c.LoRAAlpha}
	lo.A = make([][][]float32, c.Layers)
	lo.B = make([][][]float32, c.Layers)
	for l := 0; l < c.Layers; l++ {
		lo.A[l] = make([][]float32, len(Projections))
		lo.B[l] = make([][]float32, len(Projections))
		for p := range Projections {
			a := make([]float32, c.LoRARank*c.Width)
			for i := range a {
				a[i] = float32(num.Normal(r) / math.Sqrt(float64(c.Width)))
			}
			lo.A[l][p] = a
			lo.B[l][p] = make([]float32, c.Width*c.LoRARank)
		}
	}
	return lo
}

// Scale is alpha / r.
func (lo *LoRA) Scale() float32 { return float32(lo.Alpha / float64(lo.Rank)) }

// Delta returns Delta W = scale * B A for layer l, projection p ([out x in]).
func (lo *LoRA) Delta(l, p, width int) []float32 {
	out := make([]float32, width*width)
	AddDelta(out, lo.A[l][p], lo.B[l][p], lo.Rank, width, width, lo.Scale())
	return out
}

// AddDelta adds scale * B A to w ([out x in]); A is [r x in], B is [out x r].
func AddDelta(w, a, b []float32, r, out, in int, scale float32) {
	for o := 0; o < out; o++ {
		row := w[o*in : (o+1)*in]
		for k := 0; k < r; k++ {
			s := scale * b[o*r+k]
			if s == 0 {
				continue
			}
			ak := a[k*in : (k+1)*in]
			for i := range row {
				row[i] += s * ak[i]
			}
		}
	}
}

// Apply returns a backbone whose attention matrices are W0 + lambda*Delta W
// of this LoRA; everything else is shared with base.
func (lo *LoRA) Apply(base *Backbone, lambda float32) *Backbone {
	m := base.ShallowCopy()
	d := base.Cfg.Width
	for l := range m.Blocks {
		for p := range Projections {
			w := append([]float32(nil), base.Blocks[l].Proj(p)...)
			AddDelta(w, lo.A[l][p], lo.B[l][p], lo.Rank, d, d, lambda*lo.Scale())
			m.Blocks[l].SetProj(p, w)
		}
	}
	return m
}
