package bundle

import (
	"encoding/json"
	"fmt"
	"strings"

	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/shard"
)

// Opener returns the bytes of a file named in the manifest.
type Opener func(name string) ([]byte, error)

// Load reads and verifies every file of family manifest m: sizes and
// SHA-256 against the manifest, then tensor names, dtypes and shapes against
// the architecture. Any problem is an error naming the file.
func Load(m *shard.Manifest, open Opener) (*Family, error) { return load(m, open, true) }

// LoadWithoutTest is Load without the test split: every task's Test is
// empty and the test file is never opened (the browser fetches it only when
// a search ends; WithTest adds it then).
func LoadWithoutTest(m *shard.Manifest, open Opener) (*Family, error) { return load(m, open, false) }

// IsTestFile says whether fi is the test split's data file of its family
// (named <family>-test.<hash>.safetensors by the writer).
func IsTestFile(m *shard.Manifest, fi shard.FileInfo) bool {
	return fi.Kind == shard.KindData && strings.HasPrefix(fi.Name, m.Family+"-test.")
}

// WithTest returns a copy of f (sharing its weights) whose tasks carry the
// test split read from the family's test file, verified like Load does.
func WithTest(f *Family, open Opener) (*Family, error) {
	m := f.Manifest
	for _, fi := range m.Files {
		if !IsTestFile(m, fi) {
			continue
		}
		b, err := open(fi.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fi.Name, err)
		}
		if err := shard.VerifyBytes(fi, b); err != nil {
			return nil, err
		}
		df, err := shard.Decode(fi.Name, b)
		if err != nil {
			return nil, err
		}
		if df.Metadata["split"] != "test" {
			return nil, fmt.Errorf("%s: data file with split %q, want test", fi.Name, df.Metadata["split"])
		}
		g := *f
		g.Tasks = append([]data.Task(nil), f.Tasks...)
		size := data.SampleSize(f.Config.Family)
		for i, mt := range m.Tasks {
			t := &g.Tasks[i]
			if t.Test.X, err = df.U8(mt.Name+".x", mt.NTest, size); err != nil {
				return nil, fmt.Errorf("%s: %w", fi.Name, err)
			}
			if t.Test.Y, err = df.I32(mt.Name+".y", mt.NTest); err != nil {
				return nil, fmt.Errorf("%s: %w", fi.Name, err)
			}
			if err := t.Validate(f.Config.Family); err != nil {
				return nil, fmt.Errorf("%s: %w", fi.Name, err)
			}
		}
		return &g, nil
	}
	return nil, fmt.Errorf("manifest of %s lists no test data file", m.Family)
}

func load(m *shard.Manifest, open Opener, withTest bool) (*Family, error) {
	get := func(kind, task string) (string, *shard.File, []byte, error) {
		for _, fi := range m.Files {
			if fi.Kind == kind && fi.Task == task {
				b, err := open(fi.Name)
				if err != nil {
					return fi.Name, nil, nil, fmt.Errorf("%s: %w", fi.Name, err)
				}
				if err := shard.VerifyBytes(fi, b); err != nil {
					return fi.Name, nil, nil, err
				}
				if kind == shard.KindAdapterConfig {
					return fi.Name, nil, b, nil
				}
				f, err := shard.Decode(fi.Name, b)
				return fi.Name, f, b, err
			}
		}
		return "", nil, nil, fmt.Errorf("manifest of %s lists no %s file%s", m.Family, kind, forTask(task))
	}
	fam := &Family{Manifest: m}
	name, bf, _, err := get(shard.KindBackbone, "")
	if err != nil {
		return nil, err
	}
	var c nn.Config
	if err := json.Unmarshal([]byte(bf.Metadata["config"]), &c); err != nil {
		return nil, fmt.Errorf("%s: metadata config: %v", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if a := Architecture(c, 0); a.Width != m.Architecture.Width || a.Layers != m.Architecture.Layers ||
		a.Heads != m.Architecture.Heads || a.LoRARank != m.Architecture.LoRARank || a.Family != m.Family ||
		a.InputSize != m.Architecture.InputSize || a.Tokens != m.Architecture.Tokens || a.MLP != m.Architecture.MLP {
		return nil, fmt.Errorf("%s: architecture %+v disagrees with the manifest's %+v", name, a, m.Architecture)
	}
	fam.Config = c
	fam.Backbone = nn.NewBackbone(c)
	for _, t := range fam.Backbone.Tensors() {
		v, err := bf.F32(t.Name, t.Shape...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		copy(t.W, v)
	}
	hname, hf, _, err := get(shard.KindHead, "")
	if err != nil {
		return nil, err
	}
	var vf, tf *shard.File
	var vname, tname string
	for _, fi := range m.Files {
		if fi.Kind != shard.KindData || (!withTest && IsTestFile(m, fi)) {
			continue
		}
		b, err := open(fi.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fi.Name, err)
		}
		if err := shard.VerifyBytes(fi, b); err != nil {
			return nil, err
		}
		f, err := shard.Decode(fi.Name, b)
		if err != nil {
			return nil, err
		}
		switch f.Metadata["split"] {
		case "val":
			vf, vname = f, fi.Name
		case "test":
			tf, tname = f, fi.Name
		default:
			return nil, fmt.Errorf("%s: data file with split %q", fi.Name, f.Metadata["split"])
		}
	}
	if vf == nil || (tf == nil && withTest) {
		return nil, fmt.Errorf("manifest of %s lacks a val or test data file", m.Family)
	}
	size := data.SampleSize(c.Family)
	for _, mt := range m.Tasks {
		t := data.Task{Name: mt.Name, Classes: mt.Classes, Source: mt.Source}
		for _, sp := range []struct {
			f    *shard.File
			name string
			n    int
			dst  *data.Split
		}{{vf, vname, mt.NVal, &t.Val}, {tf, tname, mt.NTest, &t.Test}} {
			if sp.f == nil {
				continue
			}
			if sp.dst.X, err = sp.f.U8(mt.Name+".x", sp.n, size); err != nil {
				return nil, fmt.Errorf("%s: %w", sp.name, err)
			}
			if sp.dst.Y, err = sp.f.I32(mt.Name+".y", sp.n); err != nil {
				return nil, fmt.Errorf("%s: %w", sp.name, err)
			}
		}
		if err := t.Validate(c.Family); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", vname, tname, err)
		}
		h := nn.NewHead(len(mt.Classes), c.Width)
		if h.W, err = hf.F32(headName(mt.Name, "weight"), h.Classes, c.Width); err != nil {
			return nil, fmt.Errorf("%s: %w", hname, err)
		}
		if h.B, err = hf.F32(headName(mt.Name, "bias"), h.Classes); err != nil {
			return nil, fmt.Errorf("%s: %w", hname, err)
		}
		_, _, acb, err := get(shard.KindAdapterConfig, mt.Name)
		if err != nil {
			return nil, err
		}
		ac, err := shard.ParseAdapterConfig(acb)
		if err != nil {
			return nil, fmt.Errorf("adapter config of %s: %w", mt.Name, err)
		}
		if ac.R != c.LoRARank {
			return nil, fmt.Errorf("adapter config of %s: rank %d, architecture has %d", mt.Name, ac.R, c.LoRARank)
		}
		ename, ef, _, err := get(shard.KindExpert, mt.Name)
		if err != nil {
			return nil, err
		}
		lo := &nn.LoRA{Rank: ac.R, Alpha: ac.LoRAAlpha, A: make([][][]float32, c.Layers), B: make([][][]float32, c.Layers)}
		for l := 0; l < c.Layers; l++ {
			lo.A[l] = make([][]float32, len(nn.Projections))
			lo.B[l] = make([][]float32, len(nn.Projections))
			for p := range nn.Projections {
				if lo.A[l][p], err = ef.F32(loraName(l, p, "A"), ac.R, c.Width); err != nil {
					return nil, fmt.Errorf("%s: %w", ename, err)
				}
				if lo.B[l][p], err = ef.F32(loraName(l, p, "B"), c.Width, ac.R); err != nil {
					return nil, fmt.Errorf("%s: %w", ename, err)
				}
			}
		}
		fam.Tasks = append(fam.Tasks, t)
		fam.Heads = append(fam.Heads, h)
		fam.Experts = append(fam.Experts, lo)
	}
	return fam, nil
}

func forTask(task string) string {
	if task == "" {
		return ""
	}
	return " for task " + task
}
