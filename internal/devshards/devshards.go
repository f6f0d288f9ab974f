// Package devshards writes a small, deterministic, randomly initialised
// family to a directory, in the shipped shard layout, for browser tests and
// development when the trained shards are not at hand. Accuracies are near
// chance; the search, the masks and every code path are the real ones.
package devshards

import (
	"fmt"
	"math/rand/v2"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/shard"
)

// Options size the family.
type Options struct {
	Family    data.Family // data.Vision or data.Text
	Tasks     int
	Val, Test int // samples per task
	Classes   int
	Seed      uint64
	Layers    int // 0: the shipped architecture's
}

// Build returns the family.
func Build(o Options) (*bundle.Family, error) {
	if o.Family != data.Vision && o.Family != data.Text {
		return nil, fmt.Errorf("devshards: unknown family %q", o.Family)
	}
	if o.Tasks < 1 || o.Val < 1 || o.Test < 1 || o.Classes < 2 {
		return nil, fmt.Errorf("devshards: bad sizes %+v", o)
	}
	c := nn.DefaultConfig(o.Family)
	if o.Layers > 0 {
		c.Layers = o.Layers
	}
	m, err := nn.InitBackbone(c, o.Seed)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(o.Seed, 7))
	size := data.SampleSize(o.Family)
	split := func(n int) data.Split {
		s := data.Split{X: make([]uint8, n*size), Y: make([]int32, n)}
		for i := range s.X {
			s.X[i] = uint8(r.IntN(256))
		}
		for i := range s.Y {
			s.Y[i] = int32(r.IntN(o.Classes))
		}
		return s
	}
	classes := make([]string, o.Classes)
	for i := range classes {
		classes[i] = fmt.Sprintf("c%d", i)
	}
	f := &bundle.Family{Config: c, Backbone: m, Manifest: &shard.Manifest{
		Provenance: []shard.Provenance{{Name: "random (devshards)", Licence: "CC0"}}}}
	for i := 0; i < o.Tasks; i++ {
		name := fmt.Sprintf("task%d", i)
		task := data.Task{Name: name, Classes: classes, Source: "devshards", Val: split(o.Val), Test: split(o.Test)}
		f.Tasks = append(f.Tasks, task)
		lo := nn.NewLoRA(c, o.Seed+uint64(i)+1)
		// NewLoRA starts B at zero (a no-op update); give every expert a
		// real, distinct delta so that pruning changes predictions.
		for l := range lo.B {
			for p := range lo.B[l] {
				for j := range lo.B[l][p] {
					lo.B[l][p][j] = float32(r.NormFloat64() * 0.3)
				}
			}
		}
		f.Experts = append(f.Experts, lo)
		h := nn.NewHead(o.Classes, c.Width)
		for j := range h.W {
			h.W[j] = float32(r.NormFloat64())
		}
		f.Heads = append(f.Heads, h)
		f.Manifest.Tasks = append(f.Manifest.Tasks, shard.Task{Name: name, Classes: classes, Source: "devshards", NVal: o.Val, NTest: o.Test})
	}
	return f, nil
}

// Write builds the family and writes it (shards and manifest.json) to dir.
func Write(dir string, o Options) error {
	f, err := Build(o)
	if err != nil {
		return err
	}
	return bundle.WriteDir(dir, f)
}
