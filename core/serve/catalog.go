package serve

import (
	"encoding/json"
	"fmt"

	"enmplab/core/shard"
)

// ManifestFile is the catalog's name in storage and its route.
const ManifestFile = "manifest.json"

// CatalogFormat is the "format" of manifest.json.
const CatalogFormat = shard.ManifestFormat

// ParseCatalog validates manifest.json, {"format": "enmp-lab-shards/1",
// "families": [<per-family manifest>...]} (the format core/bundle writes),
// and returns every file it lists. Each family's manifest is checked by
// shard.ParseManifest; a file name listed twice is an error.
func ParseCatalog(b []byte) ([]shard.FileInfo, error) {
	var raw struct {
		Format   string            `json:"format"`
		Families []json.RawMessage `json:"families"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("manifest.json: %v", err)
	}
	if raw.Format != CatalogFormat {
		return nil, fmt.Errorf("manifest.json: format %q, want %q", raw.Format, CatalogFormat)
	}
	if len(raw.Families) == 0 {
		return nil, fmt.Errorf("manifest.json: no families")
	}
	var files []shard.FileInfo
	seen := map[string]bool{}
	for i, f := range raw.Families {
		m, err := shard.ParseManifest(f)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: family %d: %w", i, err)
		}
		for _, fi := range m.Files {
			if seen[fi.Name] {
				return nil, fmt.Errorf("manifest.json: file %q listed twice", fi.Name)
			}
			seen[fi.Name] = true
			files = append(files, fi)
		}
	}
	return files, nil
}
