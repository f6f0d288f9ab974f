package shard

import (
	"strings"
	"testing"
)

func TestCatalogRoundTripAndRefusals(t *testing.T) {
	m := validManifest()
	c := &Catalog{Format: ManifestFormat, Families: []*Manifest{m}}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCatalog(b)
	if err != nil || len(got.Files()) != len(m.Files) {
		t.Fatalf("round trip: %v, %d files", err, len(got.Files()))
	}
	if _, err := got.Family(m.Family); err != nil {
		t.Fatal(err)
	}
	if _, err := got.Family("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown family: %v", err)
	}
	twice := &Catalog{Format: ManifestFormat, Families: []*Manifest{m, m}}
	b, _ = twice.Marshal()
	if _, err := ParseCatalog(b); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("a family listed twice: %v", err)
	}
	for _, bad := range []string{``, `{}`, `{"format":"enmp-lab-shards/1","families":[]}`, `{"format":"x","families":[{}]}`, `[1,2]`} {
		if _, err := ParseCatalog([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
