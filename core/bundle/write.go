package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"enmplab/core/data"
	"enmplab/core/shard"
)

// Encode turns f into files (name -> bytes) and fills f.Manifest.Files with
// their sizes and checksums. The rest of f.Manifest (tasks, accuracies,
// provenance) is the caller's; Architecture is set here.
func Encode(f *Family) (map[string][]byte, error) {
	c := f.Config
	m := f.Manifest
	m.Format = shard.ManifestFormat
	m.Family = string(c.Family)
	m.Architecture = Architecture(c, f.Backbone.NumParams())
	m.Files = nil
	files := map[string][]byte{}
	add := func(part, ext, kind, task string, b []byte) {
		sum := shard.Checksum(b)
		name := fmt.Sprintf("%s-%s.%s.%s", c.Family, part, sum[:12], ext)
		files[name] = b
		m.Files = append(m.Files, shard.FileInfo{Name: name, Kind: kind, Task: task, Size: int64(len(b)), SHA256: sum})
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	// Backbone.
	bf := &shard.File{Metadata: map[string]string{"format": "enmp-lab-backbone", "config": string(cfg)}}
	for _, t := range f.Backbone.Tensors() {
		bf.Tensors = append(bf.Tensors, shard.FromF32(t.Name, t.Shape, t.W))
	}
	b, err := shard.Encode(bf)
	if err != nil {
		return nil, err
	}
	add("backbone", "safetensors", shard.KindBackbone, "", b)
	// Heads, one file.
	hf := &shard.File{Metadata: map[string]string{"format": "enmp-lab-heads"}}
	for i, t := range f.Tasks {
		h := f.Heads[i]
		hf.Tensors = append(hf.Tensors,
			shard.FromF32(headName(t.Name, "weight"), []int{h.Classes, c.Width}, h.W),
			shard.FromF32(headName(t.Name, "bias"), []int{h.Classes}, h.B))
	}
	if b, err = shard.Encode(hf); err != nil {
		return nil, err
	}
	add("heads", "safetensors", shard.KindHead, "", b)
	// Experts: PEFT adapter weights and config.
	for i, t := range f.Tasks {
		lo := f.Experts[i]
		ef := &shard.File{Metadata: map[string]string{"format": "pt", "task": t.Name}}
		for l := 0; l < c.Layers; l++ {
			for p := range lo.A[l] {
				ef.Tensors = append(ef.Tensors,
					shard.FromF32(loraName(l, p, "A"), []int{lo.Rank, c.Width}, lo.A[l][p]),
					shard.FromF32(loraName(l, p, "B"), []int{c.Width, lo.Rank}, lo.B[l][p]))
			}
		}
		if b, err = shard.Encode(ef); err != nil {
			return nil, err
		}
		add("expert-"+t.Name, "safetensors", shard.KindExpert, t.Name, b)
		ac := AdapterConfig(c.Family, lo.Rank, lo.Alpha)
		if b, err = ac.Marshal(); err != nil {
			return nil, err
		}
		add("expert-"+t.Name+".adapter_config", "json", shard.KindAdapterConfig, t.Name, b)
	}
	// Validation and test data, one file per split.
	for _, split := range []string{"val", "test"} {
		df := &shard.File{Metadata: map[string]string{"format": "enmp-lab-data", "split": split}}
		for _, t := range f.Tasks {
			s := t.Val
			if split == "test" {
				s = t.Test
			}
			df.Tensors = append(df.Tensors,
				shard.FromU8(t.Name+".x", []int{s.Len(), data.SampleSize(c.Family)}, s.X),
				shard.FromI32(t.Name+".y", []int{s.Len()}, s.Y))
		}
		if b, err = shard.Encode(df); err != nil {
			return nil, err
		}
		add(split, "safetensors", shard.KindData, "", b)
	}
	return files, nil
}

// AdapterConfig is the PEFT config of one expert.
func AdapterConfig(f data.Family, rank int, alpha float64) *shard.AdapterConfig {
	var targets []string
	for _, p := range []string{"q", "k", "v", "o"} {
		targets = append(targets, p+"_proj")
	}
	return &shard.AdapterConfig{
		PEFTType: "LORA", BaseModelNameOrPath: "enmp-lab/" + string(f) + "-backbone", TaskType: "FEATURE_EXTRACTION",
		InferenceMode: true, R: rank, LoRAAlpha: alpha, TargetModules: targets, Bias: "none",
		ModulesToSave: nil, RankPattern: map[string]int{}, AlphaPattern: map[string]float64{},
	}
}

// WriteDir encodes f into dir and puts its manifest into dir/manifest.json,
// replacing the family's previous manifest and deleting its old files.
func WriteDir(dir string, f *Family) error {
	files, err := Encode(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cat := &Catalog{Format: shard.ManifestFormat}
	if old, err := ReadCatalog(dir); err == nil {
		cat = old
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("existing %s: %w", ManifestFile, err)
	}
	keep := map[string]bool{}
	for name := range files {
		keep[name] = true
	}
	var fams []*shard.Manifest
	for _, m := range cat.Families {
		if m.Family != f.Manifest.Family {
			fams = append(fams, m)
			continue
		}
		for _, fi := range m.Files {
			if !keep[fi.Name] {
				os.Remove(filepath.Join(dir, fi.Name))
			}
		}
	}
	fams = append(fams, f.Manifest)
	sort.Slice(fams, func(i, j int) bool { return fams[i].Family > fams[j].Family }) // vision before text
	cat.Families = fams
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	b, err := cat.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644)
}
