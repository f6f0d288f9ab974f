package serve_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enmplab/core/serve"
	"enmplab/core/serve/conformance"
)

func fixtureServer(t *testing.T) (string, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	if err := conformance.WriteFixture(dir); err != nil {
		t.Fatal(err)
	}
	h := serve.New(serve.Dir(dir))
	h.Logf = t.Logf
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return dir, srv
}

func TestConformanceFixture(t *testing.T) {
	dir, srv := fixtureServer(t)
	conformance.Run(t, srv.URL, dir)
}

// The committed shards, when the trained ones are there.
func TestConformancePublicShards(t *testing.T) {
	dir := filepath.Join("..", "..", "public", "shards")
	if _, err := os.Stat(filepath.Join(dir, serve.ManifestFile)); err != nil {
		t.Skipf("no %s/manifest.json yet", dir)
	}
	srv := httptest.NewServer(serve.New(serve.Dir(dir)))
	defer srv.Close()
	conformance.Run(t, srv.URL, dir)
}

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		h      string
		size   int64
		off, n int64
		ok     bool
	}{
		{"", 10, 0, 10, true},
		{"bytes=0-0", 10, 0, 1, true},
		{"bytes=2-", 10, 2, 8, true},
		{"bytes=-3", 10, 7, 3, true},
		{"bytes=-30", 10, 0, 10, true},
		{"bytes=5-99999999999999999999999", 10, 5, 5, true},
		{"bytes=99999999999999999999999-", 10, 0, 0, false},
		{"bytes=10-", 10, 0, 0, false},
		{"bytes=-0", 10, 0, 0, false},
		{"bytes=4-3", 10, 0, 0, false},
		{"bytes=0-", 0, 0, 0, false},
		{"bytes=-1", 0, 0, 0, false},
		{"BYTES= 1 - 2", 10, 1, 2, true},
		{"bytes=0-1,3-4", 10, 0, 10, true},
		{"bytes=a-b", 10, 0, 10, true},
		{"bytes=+1-2", 10, 0, 10, true},
		{"bytes=-", 10, 0, 10, true},
		{"bytes=5", 10, 0, 10, true},
		{"lines=1-2", 10, 0, 10, true},
	} {
		off, n, ok := serve.ParseRange(c.h, c.size)
		if off != c.off || n != c.n || ok != c.ok {
			t.Errorf("ParseRange(%q, %d) = %d, %d, %v; want %d, %d, %v", c.h, c.size, off, n, ok, c.off, c.n, c.ok)
		}
	}
}

func TestCheckNameAndContentAddressed(t *testing.T) {
	for _, n := range []string{"vision-backbone.3fa2b1c4d5e6.safetensors", "a", "A_b-c.d", "manifest.json"} {
		if err := serve.CheckName(n); err != nil {
			t.Errorf("CheckName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", ".", "..", "a..b", ".x", "a/b", `a\b`, "a\x00", "a\nb", "é", "a b", strings.Repeat("a", serve.MaxNameLen+1)} {
		var ne *serve.NameError
		if err := serve.CheckName(n); !errors.As(err, &ne) {
			t.Errorf("CheckName(%q) = %v, want a *NameError", n, err)
		}
	}
	sha := "3fa2b1c4d5e6" + strings.Repeat("0", 52)
	if !serve.ContentAddressed("vision-backbone.3fa2b1c4d5e6.safetensors", sha) {
		t.Error("addressed name not recognised")
	}
	for _, n := range []string{"vision-backbone.safetensors", "vision-backbone.3fa2b1c4d5e7.safetensors", "x3fa2b1c4d5e6.bin", "a.3fa2b1c4d5e.bin"} {
		if serve.ContentAddressed(n, sha) {
			t.Errorf("ContentAddressed(%q) = true", n)
		}
	}
}

// Faults of the server side are 5xx or 404 with an explanation, and a
// changed manifest is picked up at once.
func TestStorageFaults(t *testing.T) {
	dir, srv := fixtureServer(t)
	files, listed := conformance.FixtureFiles()
	_ = files
	name := listed[0].Name
	for _, fi := range listed {
		if fi.Size > 1000 {
			name = fi.Name
		}
	}
	get := func(path string) (int, string) {
		t.Helper()
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	// A listed shard missing from storage.
	if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	touchManifest(t, dir) // a new manifest version: storage is listed again
	if code, body := get("/shards/" + name); code != 404 || !strings.Contains(body, "missing from storage") {
		t.Errorf("missing from storage: %d %q", code, body)
	}
	// A stored shard whose size disagrees with the manifest.
	if err := os.WriteFile(filepath.Join(dir, name), []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	touchManifest(t, dir)
	if code, body := get("/shards/" + name); code != 500 || !strings.Contains(body, "disagrees") {
		t.Errorf("size mismatch: %d %q", code, body)
	}
	// An invalid manifest.
	if err := os.WriteFile(filepath.Join(dir, serve.ManifestFile), []byte(`{"format": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/manifest.json"); code != 500 {
		t.Errorf("invalid manifest: %d", code)
	}
	// No manifest.
	os.Remove(filepath.Join(dir, serve.ManifestFile))
	if code, body := get("/shards/" + name); code != 404 || !strings.Contains(body, "manifest.json") {
		t.Errorf("no manifest: %d %q", code, body)
	}
	// Paths outside the two routes.
	if code, _ := get("/index.html"); code != 404 {
		t.Errorf("/index.html: %d", code)
	}
}

func touchManifest(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, serve.ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Same content, new modification time and so a new version.
	if err := os.WriteFile(p, append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDirStorage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.bin"), []byte("0123456789"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	d := serve.Dir(dir)
	ctx := context.Background()
	list, err := d.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "a.bin" || list[0].Size != 10 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	rc, err := d.Open(ctx, "a.bin", 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "3456" {
		t.Errorf("Open range: %q", b)
	}
	for _, n := range []string{"sub", "nope", "../a.bin", ".hidden"} {
		if _, err := d.Stat(ctx, n); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want fs.ErrNotExist", n, err)
		}
		if _, err := d.Open(ctx, n, 0, -1); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want fs.ErrNotExist", n, err)
		}
	}
}

// A full GET from a client accepting gzip gets Content-Encoding: gzip whose
// bytes inflate to the shard, with its own ETag (If-None-Match answers 304);
// Range requests and clients without gzip get the identity bytes.
func TestGzipFullResponses(t *testing.T) {
	dir, srv := fixtureServer(t)
	cat, err := os.ReadFile(filepath.Join(dir, serve.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var big string
	var want []byte
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if e.Name() != serve.ManifestFile && len(b) >= 1024 && strings.Contains(string(cat), e.Name()) {
			big, want = e.Name(), b
			break
		}
	}
	if big == "" {
		t.Skip("fixture has no shard of 1 KiB or more")
	}
	get := func(hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+serve.ShardPrefix+big, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get(map[string]string{"Accept-Encoding": "br, gzip"})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip GET: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("inflated body differs from the shard (%v)", err)
	}
	etag := resp.Header.Get("ETag")
	if r := get(map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag}); r.StatusCode != 304 {
		t.Fatalf("If-None-Match %s: %d", etag, r.StatusCode)
	}
	r := get(map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=10-"})
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 206 || r.Header.Get("Content-Encoding") != "" || !bytes.Equal(b, want[10:]) {
		t.Fatalf("Range with gzip accepted: %d %v", r.StatusCode, r.Header)
	}
	r = get(map[string]string{"Accept-Encoding": "gzip;q=0"})
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.Header.Get("Content-Encoding") != "" || !bytes.Equal(b, want) {
		t.Fatalf("gzip;q=0: %v", r.Header)
	}
}
