package shard

import (
	"encoding/json"
	"fmt"
	"strings"
)

// CatalogFile is the catalog's file name in a shard directory and its route.
const CatalogFile = "manifest.json"

// Catalog is manifest.json: one Manifest per family,
// {"format": "enmp-lab-shards/1", "families": [...]}.
type Catalog struct {
	Format   string      `json:"format"`
	Families []*Manifest `json:"families"`
}

// ParseCatalog reads manifest.json, validates every family's manifest with
// ParseManifest and refuses a family or a file name listed twice.
func ParseCatalog(b []byte) (*Catalog, error) {
	var raw struct {
		Format   string            `json:"format"`
		Families []json.RawMessage `json:"families"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("manifest.json: %v", err)
	}
	if raw.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest.json: format %q, want %q", raw.Format, ManifestFormat)
	}
	if len(raw.Families) == 0 {
		return nil, fmt.Errorf("manifest.json: no families")
	}
	c := &Catalog{Format: raw.Format}
	families, files := map[string]bool{}, map[string]bool{}
	for i, f := range raw.Families {
		m, err := ParseManifest(f)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: family %d: %w", i, err)
		}
		if families[m.Family] {
			return nil, fmt.Errorf("manifest.json: family %q listed twice", m.Family)
		}
		families[m.Family] = true
		for _, fi := range m.Files {
			if files[fi.Name] {
				return nil, fmt.Errorf("manifest.json: file %q listed twice", fi.Name)
			}
			files[fi.Name] = true
		}
		c.Families = append(c.Families, m)
	}
	return c, nil
}

// Marshal writes manifest.json deterministically.
func (c *Catalog) Marshal() ([]byte, error) {
	var fams []json.RawMessage
	for _, m := range c.Families {
		b, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		fams = append(fams, b)
	}
	out, err := json.MarshalIndent(struct {
		Format   string            `json:"format"`
		Families []json.RawMessage `json:"families"`
	}{ManifestFormat, fams}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Family returns the manifest of the named family.
func (c *Catalog) Family(name string) (*Manifest, error) {
	var names []string
	for _, m := range c.Families {
		if m.Family == name {
			return m, nil
		}
		names = append(names, m.Family)
	}
	return nil, fmt.Errorf("no family %q (have %s)", name, strings.Join(names, ", "))
}

// Files lists every file of every family.
func (c *Catalog) Files() []FileInfo {
	var fs []FileInfo
	for _, m := range c.Families {
		fs = append(fs, m.Files...)
	}
	return fs
}
