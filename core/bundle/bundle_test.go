package bundle

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/shard"
)

// tinyFamily builds a small random family with two tasks.
func tinyFamily(t *testing.T) *Family {
	t.Helper()
	c := nn.DefaultConfig(data.Text)
	c.Width, c.Heads, c.MLP, c.Layers, c.ByteEmbed, c.PatchDim = 8, 2, 8, 2, 4, 16
	m, err := nn.InitBackbone(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	split := func(n int) data.Split {
		s := data.Split{X: make([]uint8, n*data.TextLen), Y: make([]int32, n)}
		for i := range s.X {
			s.X[i] = uint8(r.IntN(256))
		}
		for i := range s.Y {
			s.Y[i] = int32(r.IntN(2))
		}
		return s
	}
	f := &Family{Config: c, Backbone: m, Manifest: &shard.Manifest{
		Provenance: []shard.Provenance{{Name: "random", Licence: "CC0"}}}}
	for i, name := range []string{"a", "b"} {
		task := data.Task{Name: name, Classes: []string{"no", "yes"}, Source: "test", Val: split(5), Test: split(7)}
		f.Tasks = append(f.Tasks, task)
		f.Experts = append(f.Experts, nn.NewLoRA(c, uint64(i)))
		f.Heads = append(f.Heads, nn.NewHead(2, c.Width))
		f.Manifest.Tasks = append(f.Manifest.Tasks, shard.Task{Name: name, Classes: task.Classes, Source: "test", NVal: 5, NTest: 7})
	}
	return f
}

func TestWriteLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := tinyFamily(t)
	if err := WriteDir(dir, f); err != nil {
		t.Fatal(err)
	}
	g, err := LoadDir(dir, "text")
	if err != nil {
		t.Fatal(err)
	}
	ft, gt := f.Backbone.Tensors(), g.Backbone.Tensors()
	for i := range ft {
		for j := range ft[i].W {
			if ft[i].W[j] != gt[i].W[j] {
				t.Fatalf("%s differs after round trip", ft[i].Name)
			}
		}
	}
	if !bytes.Equal(f.Tasks[1].Test.X, g.Tasks[1].Test.X) || g.Experts[1].A[1][3][5] != f.Experts[1].A[1][3][5] {
		t.Fatal("data or expert differs after round trip")
	}
	// Writing again gives the same files (content-addressed names, deterministic bytes).
	before, _ := os.ReadDir(dir)
	if err := WriteDir(dir, f); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadDir(dir)
	if len(before) != len(after) {
		t.Fatalf("rewrite changed the file set: %d -> %d", len(before), len(after))
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDir(dir, tinyFamily(t)); err != nil {
		t.Fatal(err)
	}
	cat, err := ReadCatalog(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := cat.Families[0]
	var expert string
	for _, fi := range m.Files {
		if fi.Kind == shard.KindExpert && fi.Task == "b" {
			expert = fi.Name
		}
	}
	path := filepath.Join(dir, expert)
	orig, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", orig[:len(orig)-3], "truncated"},
		{"flipped byte", append(append([]byte(nil), orig[:len(orig)-1]...), orig[len(orig)-1]^1), "checksum"},
	} {
		os.WriteFile(path, tc.b, 0o644)
		_, err := Load(m, DirOpener(dir))
		if err == nil || !strings.Contains(err.Error(), expert) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s and %q", tc.name, err, expert, tc.want)
		}
	}
	os.Remove(path)
	if _, err := Load(m, DirOpener(dir)); err == nil || !strings.Contains(err.Error(), expert) {
		t.Errorf("missing file: got %v", err)
	}
	if _, err := DirOpener(dir)("../etc/passwd"); err == nil {
		t.Error("DirOpener must refuse paths")
	}
}
