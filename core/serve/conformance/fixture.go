// Package conformance is the HTTP conformance suite for shard servers: the
// same checks run against net/http/httptest, the local server (cmd/serve) and
// the Worker in workerd (wasm/worker), given only a base URL and the shard
// directory that server serves.
package conformance

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"enmplab/core/shard"
)

// Fixture file names that do not depend on content.
const (
	// FixtureUnaddressed is listed but carries no hash: served no-cache.
	FixtureUnaddressed = "fixture-latest.bin"
	// FixtureDecoy carries 12 hex digits that are not its hash: no-cache.
	FixtureDecoy = "fixture-decoy.0123456789ab.bin"
	// FixtureUnlisted is stored but not listed in manifest.json: 404.
	FixtureUnlisted = "fixture-unlisted.bin"
)

func addressed(stem, ext string, b []byte) string {
	return stem + "." + shard.Checksum(b)[:12] + ext
}

// FixtureFiles returns the content of a small shard directory: a file just
// over 1 MiB, a JSON file, an empty file (all three content-addressed), an
// unaddressed file, a decoy whose name looks addressed, and a stored file
// the manifest does not list. Content is deterministic.
func FixtureFiles() (files map[string][]byte, listed []shard.FileInfo) {
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 1<<20+37)
	for i := range big {
		big[i] = byte(rng.UintN(256))
	}
	cfg := []byte(`{"r": 4, "lora_alpha": 8, "peft_type": "LORA"}` + "\n")
	small := []byte("not content-addressed\n")
	decoy := []byte("a name that looks content-addressed but is not\n")
	files = map[string][]byte{
		addressed("fixture-backbone", ".safetensors", big):       big,
		addressed("fixture-expert", ".adapter_config.json", cfg): cfg,
		addressed("fixture-empty", ".bin", nil):                  {},
		FixtureUnaddressed:                                       small,
		FixtureDecoy:                                             decoy,
		FixtureUnlisted:                                          []byte("not in the manifest\n"),
	}
	for name, b := range files {
		if name == FixtureUnlisted {
			continue
		}
		listed = append(listed, shard.FileInfo{Name: name, Kind: shard.KindOther, Size: int64(len(b)), SHA256: shard.Checksum(b)})
	}
	sortInfos(listed)
	return files, listed
}

func sortInfos(fs []shard.FileInfo) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Name < fs[j-1].Name; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// CatalogJSON returns manifest.json (format enmp-lab-shards/1) with one
// vision family listing files.
func CatalogJSON(files []shard.FileInfo) ([]byte, error) {
	m := &shard.Manifest{
		Format: shard.ManifestFormat, Family: shard.FamilyVision,
		Architecture: shard.Architecture{Family: shard.FamilyVision, InputSize: 784, PatchSize: 7, Tokens: 16,
			Width: 8, Layers: 1, Heads: 1, MLP: 16, LoRARank: 2, LoRAAlpha: 4},
		Files: files,
	}
	fam, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(struct {
		Format   string            `json:"format"`
		Families []json.RawMessage `json:"families"`
	}{shard.ManifestFormat, []json.RawMessage{fam}}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// WriteFixture writes the fixture shard directory (FixtureFiles plus its
// manifest.json) into dir, creating it.
func WriteFixture(dir string) error {
	files, listed := FixtureFiles()
	cat, err := CatalogJSON(listed)
	if err != nil {
		return fmt.Errorf("fixture manifest: %w", err)
	}
	files["manifest.json"] = cat
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
