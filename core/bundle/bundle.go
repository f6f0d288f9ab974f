// Package bundle maps a trained family (backbone, LoRA experts, heads,
// validation and test data) to shard files and back. Writer and reader live
// together so file and tensor names are defined in exactly one place.
//
// Files are flat and content-addressed, <family>-<part>.<sha256[:12]>.<ext>,
// so a server can mark them immutable and a browser cache can never serve a
// stale one. Expert files use PEFT's tensor names
// (base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight [out, r])
// and each has a PEFT adapter_config.json.
package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/shard"
)

// Family is everything the app needs of one model family.
type Family struct {
	Manifest *shard.Manifest
	Config   nn.Config
	Backbone *nn.Backbone
	Tasks    []data.Task // Classes, Val and Test (Train is empty)
	Experts  []*nn.LoRA  // one per task, same order
	Heads    []*nn.Head  // one per task
}

// Catalog is manifest.json (defined in core/shard, which the Worker can
// import without the model code).
type Catalog = shard.Catalog

// ParseCatalog reads manifest.json; see shard.ParseCatalog.
func ParseCatalog(b []byte) (*Catalog, error) { return shard.ParseCatalog(b) }

// Tensor names.
func loraName(l, p int, factor string) string {
	return fmt.Sprintf("base_model.model.blocks.%d.%s.lora_%s.weight", l, nn.ModulePath(nn.Projections[p]), factor)
}

func headName(task, part string) string { return "heads." + task + "." + part }

// Architecture describes c for the manifest.
func Architecture(c nn.Config, params int64) shard.Architecture {
	var targets []string
	for _, p := range nn.Projections {
		targets = append(targets, p+"_proj")
	}
	return shard.Architecture{
		Family: string(c.Family), InputSize: c.InputSize, PatchSize: c.PatchSize, Tokens: c.Tokens,
		Width: c.Width, Layers: c.Layers, Heads: c.Heads, MLP: c.MLP, LoRARank: c.LoRARank,
		LoRAAlpha: c.LoRAAlpha, TargetModules: targets, FLOPsPerSample: c.FLOPsPerSample(), Params: params,
	}
}

// DirOpener reads files from a directory.
func DirOpener(dir string) Opener {
	return func(name string) ([]byte, error) {
		if strings.ContainsAny(name, `/\`) || name == ".." || name == "." || name == "" {
			return nil, fmt.Errorf("refusing file name %q", name)
		}
		return os.ReadFile(filepath.Join(dir, name))
	}
}

// ManifestFile is the catalog's file name inside a shard directory.
const ManifestFile = shard.CatalogFile

// ReadCatalog reads dir/manifest.json.
func ReadCatalog(dir string) (*Catalog, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	return ParseCatalog(b)
}

// LoadDir loads one family from a shard directory.
func LoadDir(dir, family string) (*Family, error) {
	c, err := ReadCatalog(dir)
	if err != nil {
		return nil, err
	}
	m, err := c.Family(family)
	if err != nil {
		return nil, err
	}
	return Load(m, DirOpener(dir))
}
