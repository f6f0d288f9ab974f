package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"enmplab/core/serve"
	"enmplab/core/shard"
)

// Response is what a raw request got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one HTTP/1.1 request over a fresh TCP connection, with the
// request target written exactly as given (no client-side normalisation of
// "..", percent-escapes or control characters), and reads the response.
func Do(base, method, target string, header http.Header) (*Response, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: enmp-conformance\r\n", method, target, u.Host)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := conn.Write(b.Bytes()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: body after %d bytes: %w", method, target, len(body), err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

type suite struct {
	t     *testing.T
	base  string
	files map[string][]byte // listed files' content
	infos []shard.FileInfo
	cat   []byte
	extra []string // stored but unlisted
}

func (s *suite) do(t *testing.T, method, target string, kv ...string) *Response {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	r, err := Do(s.base, method, target, h)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	if r.Status >= 500 {
		t.Errorf("%s %s: status %d (a 5xx), body %q", method, target, r.Status, clip(r.Body))
	}
	return r
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func expectStatus(t *testing.T, r *Response, what string, code int) bool {
	t.Helper()
	if r.Status != code {
		t.Errorf("%s: status %d, want %d (body %q)", what, r.Status, code, clip(r.Body))
		return false
	}
	return true
}

func expectHeader(t *testing.T, r *Response, what, key, want string) {
	t.Helper()
	if got := r.Header.Get(key); got != want {
		t.Errorf("%s: %s %q, want %q", what, key, got, want)
	}
}

// expectExplained checks a 4xx carries a short text/plain explanation.
func expectExplained(t *testing.T, r *Response, what string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s: error Content-Type %q, want text/plain", what, ct)
	}
	if n := len(bytes.TrimSpace(r.Body)); n == 0 || n > 300 {
		t.Errorf("%s: error body of %d bytes, want a short explanation: %q", what, n, clip(r.Body))
	}
}

// Run checks the server at base (e.g. "http://127.0.0.1:8080") serves the
// shard directory dir: manifest.json and every file it lists, byte for
// byte, with the headers, ranges, conditional requests, CORS and errors
// package serve specifies.
func Run(t *testing.T, base, dir string) {
	t.Helper()
	base = strings.TrimSuffix(base, "/")
	s := &suite{t: t, base: base, files: map[string][]byte{}}
	var err error
	if s.cat, err = os.ReadFile(filepath.Join(dir, serve.ManifestFile)); err != nil {
		t.Fatalf("conformance: %v", err)
	}
	if s.infos, err = serve.ParseCatalog(s.cat); err != nil {
		t.Fatalf("conformance: %s: %v", dir, err)
	}
	for _, fi := range s.infos {
		b, err := os.ReadFile(filepath.Join(dir, fi.Name))
		if err != nil {
			t.Fatalf("conformance: %v", err)
		}
		if err := shard.VerifyBytes(fi, b); err != nil {
			t.Fatalf("conformance: the directory itself is inconsistent: %v", err)
		}
		s.files[fi.Name] = b
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, ok := s.files[e.Name()]; !ok && e.Name() != serve.ManifestFile && serve.CheckName(e.Name()) == nil {
			s.extra = append(s.extra, e.Name())
		}
	}
	t.Run("manifest", s.manifest)
	t.Run("shards", s.shards)
	t.Run("ranges", s.ranges)
	t.Run("conditional", s.conditional)
	t.Run("cors", s.cors)
	t.Run("missing", s.missing)
	t.Run("bad-names", s.badNames)
	t.Run("methods", s.methods)
}

func quoteETag(sha string) string { return `"` + sha + `"` }

func (s *suite) manifest(t *testing.T) {
	for _, path := range []string{"/manifest.json", "/shards/manifest.json"} {
		r := s.do(t, "GET", path)
		if !expectStatus(t, r, "GET "+path, 200) {
			continue
		}
		if !bytes.Equal(r.Body, s.cat) {
			t.Errorf("GET %s: body of %d bytes differs from the directory's manifest.json (%d bytes)", path, len(r.Body), len(s.cat))
		}
		expectHeader(t, r, "GET "+path, "Content-Type", "application/json")
		expectHeader(t, r, "GET "+path, "Content-Length", strconv.Itoa(len(s.cat)))
		expectHeader(t, r, "GET "+path, "ETag", quoteETag(shard.Checksum(s.cat)))
		expectHeader(t, r, "GET "+path, "Cache-Control", serve.CacheRevalidate)
		expectHeader(t, r, "GET "+path, "Access-Control-Allow-Origin", "*")
		h := s.do(t, "HEAD", path)
		if expectStatus(t, h, "HEAD "+path, 200) {
			if len(h.Body) != 0 {
				t.Errorf("HEAD %s: %d body bytes", path, len(h.Body))
			}
			expectHeader(t, h, "HEAD "+path, "Content-Length", strconv.Itoa(len(s.cat)))
			expectHeader(t, h, "HEAD "+path, "ETag", quoteETag(shard.Checksum(s.cat)))
		}
	}
	r := s.do(t, "GET", "/manifest.json", "If-None-Match", quoteETag(shard.Checksum(s.cat)))
	if expectStatus(t, r, "GET /manifest.json If-None-Match", 304) && len(r.Body) != 0 {
		t.Errorf("304 with a body of %d bytes", len(r.Body))
	}
}

func (s *suite) shards(t *testing.T) {
	if len(s.infos) == 0 {
		t.Fatal("manifest lists no files")
	}
	for _, fi := range s.infos {
		path := serve.ShardPrefix + fi.Name
		want := s.files[fi.Name]
		cache := serve.CacheRevalidate
		if strings.Contains("."+fi.Name+".", "."+fi.SHA256[:12]+".") {
			cache = serve.CacheImmutable
		}
		for _, m := range []string{"GET", "HEAD"} {
			what := m + " " + path
			r := s.do(t, m, path)
			if !expectStatus(t, r, what, 200) {
				continue
			}
			if m == "GET" && !bytes.Equal(r.Body, want) {
				t.Errorf("%s: body of %d bytes (sha256 %s) differs from the file (%d bytes)", what, len(r.Body), shard.Checksum(r.Body), len(want))
			}
			if m == "HEAD" && len(r.Body) != 0 {
				t.Errorf("%s: %d body bytes", what, len(r.Body))
			}
			expectHeader(t, r, what, "Content-Length", strconv.Itoa(len(want)))
			expectHeader(t, r, what, "Content-Type", serve.ContentType(fi.Name))
			expectHeader(t, r, what, "ETag", quoteETag(fi.SHA256))
			expectHeader(t, r, what, "Cache-Control", cache)
			expectHeader(t, r, what, "Accept-Ranges", "bytes")
			expectHeader(t, r, what, "Access-Control-Allow-Origin", "*")
		}
	}
}

// biggest returns the largest listed file.
func (s *suite) biggest() shard.FileInfo {
	var b shard.FileInfo
	for _, fi := range s.infos {
		if fi.Size > b.Size || b.Name == "" {
			b = fi
		}
	}
	return b
}

func (s *suite) ranges(t *testing.T) {
	fi := s.biggest()
	size := fi.Size
	if size < 16 {
		t.Skipf("largest file %s has %d bytes, too few for range checks", fi.Name, size)
	}
	path := serve.ShardPrefix + fi.Name
	body := s.files[fi.Name]
	cases := []struct {
		rng       string
		off, last int64 // expected bytes off..last inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=1-9", 1, 9},
		{"bytes=10-", 10, size - 1},
		{fmt.Sprintf("bytes=%d-", size-1), size - 1, size - 1},
		{"bytes=-5", size - 5, size - 1},
		{fmt.Sprintf("bytes=-%d", size*2), 0, size - 1},
		{fmt.Sprintf("bytes=5-%d", size*3), 5, size - 1},
		{fmt.Sprintf("bytes=%d-%d", size/3, size/2), size / 3, size / 2},
		{"bytes=0-", 0, size - 1},
	}
	for _, c := range cases {
		what := "GET " + path + " Range " + c.rng
		r := s.do(t, "GET", path, "Range", c.rng)
		if !expectStatus(t, r, what, 206) {
			continue
		}
		want := body[c.off : c.last+1]
		if !bytes.Equal(r.Body, want) {
			t.Errorf("%s: %d bytes, want bytes %d-%d (%d bytes), content differs=%v", what, len(r.Body), c.off, c.last, len(want), len(r.Body) == len(want))
		}
		expectHeader(t, r, what, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", c.off, c.last, size))
		expectHeader(t, r, what, "Content-Length", strconv.FormatInt(c.last-c.off+1, 10))
		expectHeader(t, r, what, "ETag", quoteETag(fi.SHA256))
	}
	for _, rng := range []string{fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+10, size+20), "bytes=-0", "bytes=9-3"} {
		what := "GET " + path + " Range " + rng
		r := s.do(t, "GET", path, "Range", rng)
		if expectStatus(t, r, what, 416) {
			expectHeader(t, r, what, "Content-Range", fmt.Sprintf("bytes */%d", size))
			expectExplained(t, r, what)
		}
	}
	// Ranges the server may ignore: the whole file, 200.
	for _, rng := range []string{"items=0-5", "bytes=0-1,4-5", "bytes=abc"} {
		what := "GET " + path + " Range " + rng
		r := s.do(t, "GET", path, "Range", rng)
		if expectStatus(t, r, what, 200) && !bytes.Equal(r.Body, body) {
			t.Errorf("%s: body differs from the whole file", what)
		}
	}
	// HEAD with a range: headers only.
	r := s.do(t, "HEAD", path, "Range", "bytes=2-5")
	if expectStatus(t, r, "HEAD Range", 206) {
		expectHeader(t, r, "HEAD Range", "Content-Range", fmt.Sprintf("bytes 2-5/%d", size))
		if len(r.Body) != 0 {
			t.Errorf("HEAD Range: %d body bytes", len(r.Body))
		}
	}
	// If-Range: a matching strong ETag honours the range, another does not.
	r = s.do(t, "GET", path, "Range", "bytes=3-", "If-Range", quoteETag(fi.SHA256))
	if expectStatus(t, r, "If-Range matching", 206) && !bytes.Equal(r.Body, body[3:]) {
		t.Errorf("If-Range matching: body differs")
	}
	r = s.do(t, "GET", path, "Range", "bytes=3-", "If-Range", `"0000"`)
	if expectStatus(t, r, "If-Range stale", 200) && !bytes.Equal(r.Body, body) {
		t.Errorf("If-Range stale: body differs from the whole file")
	}
}

func (s *suite) conditional(t *testing.T) {
	for _, fi := range s.infos {
		path := serve.ShardPrefix + fi.Name
		et := quoteETag(fi.SHA256)
		for _, inm := range []string{et, "W/" + et, `"nope", ` + et, "*"} {
			r := s.do(t, "GET", path, "If-None-Match", inm)
			if expectStatus(t, r, "If-None-Match "+inm, 304) {
				if len(r.Body) != 0 {
					t.Errorf("304 for %s with %d body bytes", fi.Name, len(r.Body))
				}
				expectHeader(t, r, "304 "+fi.Name, "ETag", et)
			}
		}
		r := s.do(t, "GET", path, "If-None-Match", `"0123"`)
		if expectStatus(t, r, "If-None-Match other", 200) && !bytes.Equal(r.Body, s.files[fi.Name]) {
			t.Errorf("If-None-Match other: body differs")
		}
	}
}

func (s *suite) cors(t *testing.T) {
	fi := s.biggest()
	path := serve.ShardPrefix + fi.Name
	for _, m := range []string{"GET", "HEAD"} {
		r := s.do(t, m, path, "Origin", "http://elsewhere.test")
		if expectStatus(t, r, m+" with Origin", 200) {
			expectHeader(t, r, m+" with Origin", "Access-Control-Allow-Origin", "*")
			exp := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers"))
			for _, h := range []string{"content-range", "etag", "content-length"} {
				if !strings.Contains(exp, h) {
					t.Errorf("%s: Access-Control-Expose-Headers %q lacks %s", m, exp, h)
				}
			}
		}
	}
	r := s.do(t, "OPTIONS", path, "Origin", "http://elsewhere.test", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "range, if-none-match")
	if r.Status != 204 && r.Status != 200 {
		t.Errorf("preflight: status %d, want 204 or 200", r.Status)
	}
	expectHeader(t, r, "preflight", "Access-Control-Allow-Origin", "*")
	am := r.Header.Get("Access-Control-Allow-Methods")
	if !strings.Contains(am, "GET") || !strings.Contains(am, "HEAD") {
		t.Errorf("preflight: Access-Control-Allow-Methods %q", am)
	}
	ah := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
	if !strings.Contains(ah, "range") || !strings.Contains(ah, "if-none-match") {
		t.Errorf("preflight: Access-Control-Allow-Headers %q", ah)
	}
}

func (s *suite) missing(t *testing.T) {
	names := append([]string{"missing.0123456789ab.safetensors", "vision-backbone.000000000000.safetensors"}, s.extra...)
	for _, n := range names {
		if _, ok := s.files[n]; ok {
			continue
		}
		for _, m := range []string{"GET", "HEAD"} {
			r := s.do(t, m, serve.ShardPrefix+n)
			if expectStatus(t, r, m+" missing "+n, 404) && m == "GET" {
				expectExplained(t, r, "missing "+n)
			}
		}
	}
}

// BadNames are request targets whose shard name is malformed: each must
// get 400 with an explanation from every server, whatever URL
// normalisation sits in front of the handler.
var BadNames = []string{
	"/shards/..%2F..%2Fetc%2Fpasswd",
	"/shards/..%2fmanifest.json",
	"/shards/a%2Fb",
	"/shards/a%5Cb",
	"/shards/a%5cb.safetensors",
	"/shards/%2e%2e%2fmanifest.json",
	"/shards/...",
	"/shards/x..safetensors",
	"/shards/a/b",
	"/shards/.hidden",
	"/shards/.manifest.json",
	"/shards/%00",
	"/shards/a%00b.safetensors",
	"/shards/a%0Ab",
	"/shards/a%0D%0ASet-Cookie:x",
	"/shards/a%09b",
	"/shards/a%7F",
	"/shards/a%20b",
	"/shards/%C3%A9.bin",
	"/shards/a;b",
	"/shards/" + strings.Repeat("a", serve.MaxNameLen+1),
	"/shards/" + strings.Repeat("x", 4000) + ".safetensors",
	"/shards/%zz",
	"/shards/a%",
	"/shards/",
}

// TraversalTargets have literal dot segments. A browser-style URL parser
// in front of the handler (workerd's) resolves them before the Worker sees
// the path, so the only promise is: never a 2xx or 5xx, and never a file
// from outside the shard directory.
var TraversalTargets = []string{
	"/shards/../../etc/passwd",
	"/shards/%2e%2e/%2e%2e/etc/passwd",
	"/shards/../go.mod",
}

// RawBadTargets contain bytes no HTTP parser accepts in a request target;
// the server's own parser answers 400.
var RawBadTargets = []string{
	"/shards/a\x01b",
	"/shards/a\x7fb",
}

func (s *suite) badNames(t *testing.T) {
	for _, target := range BadNames {
		for _, m := range []string{"GET", "HEAD"} {
			r := s.do(t, m, target)
			if expectStatus(t, r, m+" "+clip([]byte(target)), 400) && m == "GET" {
				expectExplained(t, r, clip([]byte(target)))
			}
		}
	}
	for _, target := range TraversalTargets {
		r := s.do(t, "GET", target)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("GET %s: status %d, want a 4xx", target, r.Status)
		}
		if bytes.Contains(r.Body, []byte("root:")) || bytes.Contains(r.Body, []byte("module ")) {
			t.Errorf("GET %s: leaked a file from outside the shard directory", target)
		}
	}
	for _, target := range RawBadTargets {
		r := s.do(t, "GET", target)
		expectStatus(t, r, fmt.Sprintf("GET %q", target), 400)
	}
}

func (s *suite) methods(t *testing.T) {
	fi := s.biggest()
	for _, path := range []string{"/manifest.json", serve.ShardPrefix + fi.Name, "/shards/missing.0123456789ab.bin"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			r := s.do(t, m, path, "Content-Length", "0")
			if expectStatus(t, r, m+" "+path, 405) {
				expectExplained(t, r, m+" "+path)
				if allow := r.Header.Get("Allow"); !slices.Contains(strings.Split(strings.ReplaceAll(allow, " ", ""), ","), "GET") {
					t.Errorf("%s %s: Allow %q lacks GET", m, path, allow)
				}
			}
		}
	}
}
