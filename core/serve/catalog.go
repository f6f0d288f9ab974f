package serve

import "enmplab/core/shard"

// ManifestFile is the catalog's name in storage and its route.
const ManifestFile = shard.CatalogFile

// CatalogFormat is the "format" of manifest.json.
const CatalogFormat = shard.ManifestFormat

// ParseCatalog validates manifest.json (see shard.ParseCatalog) and returns
// every file it lists.
func ParseCatalog(b []byte) ([]shard.FileInfo, error) {
	c, err := shard.ParseCatalog(b)
	if err != nil {
		return nil, err
	}
	return c.Files(), nil
}
