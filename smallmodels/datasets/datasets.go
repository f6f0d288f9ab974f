// Package datasets builds the ENMP Lab task pools from real datasets shipped
// inside packages of the Go module proxy, Debian and npm (fetched into
// smallmodels/raw by smallmodels/fetch.sh). Every build is deterministic:
// file lists are sorted, shuffles use seeded PCG generators and no map
// iteration order reaches the output.
package datasets

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"enmplab/core/data"
)

// Source describes where a task's data comes from.
type Source struct {
	Name        string // short source id, also the licence file name
	Package     string // registry:name@version
	Licence     string
	Attribution string
	URL         string
}

// ErrMissing is wrapped by errors about raw files that are not there.
var ErrMissing = errors.New("raw dataset file missing (run ./build.sh data, or smallmodels/fetch.sh, first)")

// need checks that path exists under rawDir and returns the joined path.
func need(rawDir string, rel ...string) (string, error) {
	p := filepath.Join(append([]string{rawDir}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s", ErrMissing, p)
	}
	return p, nil
}

// builder builds one task.
type builder struct {
	name  string
	build func(rawDir string) (Built, error)
}

func builders(f data.Family) ([]builder, error) {
	switch f {
	case data.Vision:
		return visionBuilders(), nil
	case data.Text:
		return textBuilders(), nil
	}
	return nil, fmt.Errorf("datasets: unknown family %q", f)
}

// TaskNames lists the family's task names in build order.
func TaskNames(f data.Family) []string {
	bs, _ := builders(f)
	var names []string
	for _, b := range bs {
		names = append(names, b.name)
	}
	return names
}

// BuildDetailed builds the family's 8 tasks with the group key of every sample.
func BuildDetailed(f data.Family, rawDir string) ([]Built, error) {
	bs, err := builders(f)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(rawDir); err != nil {
		return nil, fmt.Errorf("%w: directory %s", ErrMissing, rawDir)
	}
	out := make([]Built, 0, len(bs))
	for _, b := range bs {
		t, err := b.build(rawDir)
		if err != nil {
			return nil, fmt.Errorf("datasets: task %s: %w", b.name, err)
		}
		if t.Task.Name != b.name {
			return nil, fmt.Errorf("datasets: task %s built as %s", b.name, t.Task.Name)
		}
		if err := t.Task.Validate(f); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Build builds the family's 8 tasks, in a fixed order, from the raw packages
// under rawDir.
func Build(f data.Family, rawDir string) ([]data.Task, error) {
	bs, err := BuildDetailed(f, rawDir)
	if err != nil {
		return nil, err
	}
	tasks := make([]data.Task, len(bs))
	for i := range bs {
		tasks[i] = bs[i].Task
	}
	return tasks, nil
}

// SaveCache writes tasks to path (gob).
func SaveCache(path string, tasks []data.Task) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := gob.NewEncoder(w).Encode(tasks); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// LoadCache reads tasks written by SaveCache.
func LoadCache(path string) ([]data.Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var tasks []data.Task
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&tasks); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", path, err)
	}
	return tasks, nil
}

// resetCaches drops the in-memory caches of decoded sources (tests use it to
// check that a cold rebuild gives the same bytes).
func resetCaches() {
	emojiCache.raw, emojiCache.d = "", nil
	glyphCache.raw, glyphCache.glyphs, glyphCache.faces = "", nil, 0
	iconCache.raw, iconCache.icons = "", nil
}
