// Package nn is the patch-transformer both model families share: an image
// patch stem or a byte patch stem feeding identical pre-LN blocks (multi-head
// attention, MLP, CLS token), LoRA on the attention projections q, k, v, o,
// and one linear head per task. Forward and backward are written by hand in
// float32 so that the same code runs natively and in js/wasm with
// bit-identical results.
package nn

import (
	"fmt"

	"enmplab/core/data"
)

// Config fixes the architecture of one family.
type Config struct {
	Family    data.Family
	InputSize int     // bytes per sample
	PatchSize int     // vision: side of a square patch in pixels; text: bytes per patch
	Tokens    int     // patches per sample (the CLS token comes on top)
	PatchDim  int     // length of one patch vector fed to the stem projection
	ByteEmbed int     // text only: embedding size of one byte
	Width     int     // model width D
	Layers    int     // transformer blocks
	Heads     int     // attention heads (Width must divide evenly)
	MLP       int     // hidden size of the MLP
	LoRARank  int     // r
	LoRAAlpha float64 // Delta W = B A * alpha / r
}

// Projections are the LoRA-adapted matrices of every block, in module order.
var Projections = []string{"q", "k", "v", "o"}

// DefaultConfig is the architecture the shipped shards use.
func DefaultConfig(f data.Family) Config {
	c := Config{Family: f, InputSize: data.SampleSize(f), Width: 32, Layers: 4, Heads: 4, MLP: 64, LoRARank: 4, LoRAAlpha: 8}
	switch f {
	case data.Vision:
		c.PatchSize = 8
		c.Tokens = (data.ImageSide / 8) * (data.ImageSide / 8)
		c.PatchDim = data.ImageChannels * 8 * 8
	case data.Text:
		c.PatchSize = 4
		c.Tokens = data.TextLen / 4
		c.ByteEmbed = 16
		c.PatchDim = 4 * 16
	}
	return c
}

// Validate reports an inconsistent configuration.
func (c Config) Validate() error {
	switch {
	case c.Family != data.Vision && c.Family != data.Text:
		return fmt.Errorf("nn: unknown family %q", c.Family)
	case c.InputSize != data.SampleSize(c.Family):
		return fmt.Errorf("nn: input size %d, family %s needs %d", c.InputSize, c.Family, data.SampleSize(c.Family))
	case c.Width <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.MLP <= 0 || c.Tokens <= 0 || c.PatchSize <= 0:
		return fmt.Errorf("nn: non-positive size in %+v", c)
	case c.Width%c.Heads != 0:
		return fmt.Errorf("nn: width %d not divisible by %d heads", c.Width, c.Heads)
	case c.LoRARank <= 0 || c.LoRAAlpha <= 0:
		return fmt.Errorf("nn: LoRA rank %d alpha %v must be positive", c.LoRARank, c.LoRAAlpha)
	}
	switch c.Family {
	case data.Vision:
		if data.ImageSide%c.PatchSize != 0 || c.Tokens != (data.ImageSide/c.PatchSize)*(data.ImageSide/c.PatchSize) ||
			c.PatchDim != data.ImageChannels*c.PatchSize*c.PatchSize {
			return fmt.Errorf("nn: vision patch %d inconsistent with tokens %d / patch dim %d", c.PatchSize, c.Tokens, c.PatchDim)
		}
	case data.Text:
		if c.Tokens*c.PatchSize != data.TextLen || c.PatchDim != c.PatchSize*c.ByteEmbed || c.ByteEmbed <= 0 {
			return fmt.Errorf("nn: text patch %d inconsistent with tokens %d / patch dim %d", c.PatchSize, c.Tokens, c.PatchDim)
		}
	}
	return nil
}

// Seq is the sequence length: the patches plus the CLS token.
func (c Config) Seq() int { return c.Tokens + 1 }

// LoRAScale is alpha / r.
func (c Config) LoRAScale() float32 { return float32(c.LoRAAlpha / float64(c.LoRARank)) }

// FLOPsPerSample counts multiply-adds as two FLOPs for one forward pass up
// to the CLS features (heads excluded: they are C x Width, negligible).
func (c Config) FLOPsPerSample() int64 {
	s, d := int64(c.Seq()), int64(c.Width)
	stem := 2 * int64(c.Tokens) * int64(c.PatchDim) * d
	proj := 4 * 2 * s * d * d
	attn := 2 * 2 * s * s * d
	mlp := 2 * 2 * s * d * int64(c.MLP)
	return stem + int64(c.Layers)*(proj+attn+mlp)
}
