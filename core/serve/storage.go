// Package serve serves a shard directory (manifest.json plus flat,
// content-addressed shard files) over HTTP. The same Handler runs in the
// local server (cmd/serve, over a directory) and in the Cloudflare Worker
// (wasm/worker, over R2); it knows nothing of syscall/js and is tested
// natively with net/http/httptest.
//
// Routes:
//
//	GET|HEAD /manifest.json     the catalog, revalidated on every use (no-cache)
//	GET|HEAD /shards/{name}     a file the manifest lists; immutable when content-addressed
//	OPTIONS  both               CORS preflight
//
// Bad input always gets a 4xx with a short text/plain explanation: 400 for a
// malformed name, 404 for a name the manifest does not list, 405 for another
// method, 416 for an unsatisfiable Range.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Info describes one stored object.
type Info struct {
	Name string
	Size int64
	// Version changes whenever the content changes (a file's size and
	// modification time, an R2 object's etag). It is opaque.
	Version string
}

// Storage is what the handler needs of a place that holds a shard
// directory. Names are flat (CheckName accepts them). A missing object is
// reported with an error that wraps fs.ErrNotExist.
type Storage interface {
	// List returns every object, sorted by name.
	List(ctx context.Context) ([]Info, error)
	// Stat describes one object.
	Stat(ctx context.Context, name string) (Info, error)
	// Open reads n bytes of the object starting at byte off; n < 0 reads
	// to the end. off and n are within the object (the caller checks).
	Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
}

// Dir is a Storage over a local directory. Only regular files directly in
// it are objects; names starting with a dot are hidden.
type Dir string

func (d Dir) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("%w: %w", err, fs.ErrNotExist)
	}
	return filepath.Join(string(d), name), nil
}

func (d Dir) info(name string, fi fs.FileInfo) Info {
	return Info{Name: name, Size: fi.Size(), Version: strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)}
}

// List implements Storage.
func (d Dir) List(ctx context.Context) ([]Info, error) {
	ents, err := os.ReadDir(string(d))
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if !e.Type().IsRegular() || CheckName(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			return nil, err
		}
		out = append(out, d.info(e.Name(), fi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stat implements Storage.
func (d Dir) Stat(ctx context.Context, name string) (Info, error) {
	p, err := d.path(name)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, err
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return d.info(name, fi), nil
}

// Open implements Storage.
func (d Dir) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file: %w", name, fs.ErrNotExist)
		}
		return nil, err
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	if n < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, n), f}, nil
}
