package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"enmplab/core/shard"
)

// Cache-Control values.
const (
	CacheImmutable  = "public, max-age=31536000, immutable" // content-addressed shards
	CacheRevalidate = "no-cache"                            // manifest.json and other names
)

// ShardPrefix is the route under which shards are served.
const ShardPrefix = "/shards/"

// maxManifest bounds the manifest.json read into memory.
const maxManifest = 16 << 20

// Handler serves a Storage holding manifest.json and the files it lists.
// Only files listed in manifest.json are served; their size and SHA-256 come
// from it. Use New.
type Handler struct {
	store Storage
	// MaxStale is how long a loaded manifest.json is trusted before storage
	// is asked again whether it changed. 0 (the default) asks on every
	// request, which costs one Stat.
	MaxStale time.Duration
	// Logf receives server-side failures (storage errors, an invalid
	// manifest); never bad input. Defaults to log.Printf.
	Logf func(format string, args ...any)
	// NoGzip turns off gzip Content-Encoding. The Worker sets it: Cloudflare
	// compresses at the edge, and workerd adds Accept-Encoding to every
	// request it hands the Go handler, whatever the client asked.
	NoGzip bool

	mu      sync.Mutex
	cat     *catalog
	checked time.Time
	gz      map[string][]byte // ETag -> gzip-compressed bytes
	gzBytes int
}

type catalog struct {
	version string
	raw     []byte
	etag    string
	files   map[string]shard.FileInfo
	stored  map[string]Info
}

// New returns a Handler over s.
func New(s Storage) *Handler { return &Handler{store: s} }

func (h *Handler) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

var errNoManifest = fmt.Errorf("no %s in storage: %w", ManifestFile, fs.ErrNotExist)

// catalog returns the current manifest, reloading it when storage holds a
// different version. Concurrent reloads may duplicate work; all agree.
func (h *Handler) catalog(ctx context.Context) (*catalog, error) {
	h.mu.Lock()
	cur, checked := h.cat, h.checked
	h.mu.Unlock()
	if cur != nil && h.MaxStale > 0 && time.Since(checked) < h.MaxStale {
		return cur, nil
	}
	st, err := h.store.Stat(ctx, ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoManifest
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", ManifestFile, err)
	}
	if cur == nil || cur.version != st.Version {
		if cur, err = h.load(ctx, st); err != nil {
			return nil, err
		}
	}
	h.mu.Lock()
	h.cat, h.checked = cur, time.Now()
	h.mu.Unlock()
	return cur, nil
}

func (h *Handler) load(ctx context.Context, st Info) (*catalog, error) {
	if st.Size > maxManifest {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d allowed", ManifestFile, st.Size, maxManifest)
	}
	rc, err := h.store.Open(ctx, ManifestFile, 0, st.Size)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoManifest
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ManifestFile, err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestFile, err)
	}
	if int64(len(raw)) != st.Size {
		return nil, fmt.Errorf("read %s: %d bytes, storage said %d (changed while reading?)", ManifestFile, len(raw), st.Size)
	}
	files, err := ParseCatalog(raw)
	if err != nil {
		return nil, err
	}
	list, err := h.store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list storage: %w", err)
	}
	sum := sha256.Sum256(raw)
	c := &catalog{version: st.Version, raw: raw, etag: `"` + hex.EncodeToString(sum[:]) + `"`,
		files: map[string]shard.FileInfo{}, stored: map[string]Info{}}
	for _, fi := range files {
		c.files[fi.Name] = fi
	}
	for _, in := range list {
		c.stored[in.Name] = in
	}
	return c, nil
}

// fail writes a short text/plain explanation with status code.
func fail(w http.ResponseWriter, code int, format string, args ...any) {
	hd := w.Header()
	for _, k := range []string{"Content-Length", "ETag", "Accept-Ranges"} {
		hd.Del(k)
	}
	hd.Set("Cache-Control", "no-store")
	msg := fmt.Sprintf(format, args...) + "\n"
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(msg)))
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

func setCORS(hd http.Header) {
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag, Accept-Ranges")
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	var rest string
	switch {
	case path == "/"+ManifestFile:
		rest = ManifestFile
	case strings.HasPrefix(path, ShardPrefix):
		rest = path[len(ShardPrefix):]
	default:
		fail(w, http.StatusNotFound, "not found: this server serves /%s and %s{name}", ManifestFile, ShardPrefix)
		return
	}
	setCORS(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		hd := w.Header()
		hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Range, Cache-Control")
		hd.Set("Access-Control-Max-Age", "86400")
		hd.Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		fail(w, http.StatusMethodNotAllowed, "method %s not allowed: use GET or HEAD", sanitize(r.Method))
		return
	}
	if l := strings.ToLower(rest); strings.Contains(l, "%2f") || strings.Contains(l, "%5c") {
		fail(w, http.StatusBadRequest, "bad shard name: encoded path separator")
		return
	}
	name, err := url.PathUnescape(rest)
	if err != nil {
		fail(w, http.StatusBadRequest, "bad shard name: malformed percent-encoding")
		return
	}
	if err := CheckName(name); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx := r.Context()
	cat, err := h.catalog(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		fail(w, http.StatusNotFound, "no %s on this server yet", ManifestFile)
		return
	}
	if err != nil {
		h.logf("serve: %v", err)
		fail(w, http.StatusInternalServerError, "server error: %s unavailable", ManifestFile)
		return
	}
	if name == ManifestFile {
		h.serve(w, r, object{name: ManifestFile, size: int64(len(cat.raw)), etag: cat.etag,
			contentType: "application/json", cache: CacheRevalidate,
			open: func(off, n int64) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(cat.raw[off : off+n])), nil
			}})
		return
	}
	fi, ok := cat.files[name]
	if !ok {
		fail(w, http.StatusNotFound, "no shard %q: %s does not list it", name, ManifestFile)
		return
	}
	st, ok := cat.stored[name]
	if !ok {
		fail(w, http.StatusNotFound, "shard %q is listed in %s but missing from storage", name, ManifestFile)
		return
	}
	if st.Size != fi.Size {
		h.logf("serve: %s: storage holds %d bytes, %s says %d", name, st.Size, ManifestFile, fi.Size)
		fail(w, http.StatusInternalServerError, "server error: stored shard %q disagrees with %s", name, ManifestFile)
		return
	}
	cache := CacheRevalidate
	if ContentAddressed(name, fi.SHA256) {
		cache = CacheImmutable
	}
	h.serve(w, r, object{name: name, size: fi.Size, etag: `"` + fi.SHA256 + `"`, contentType: ContentType(name), cache: cache,
		open: func(off, n int64) (io.ReadCloser, error) { return h.store.Open(ctx, name, off, n) }})
}

// sanitize keeps a request-supplied token printable for an error body.
func sanitize(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strconv.QuoteToASCII(s)
}

type object struct {
	name, etag, contentType, cache string
	size                           int64
	open                           func(off, n int64) (io.ReadCloser, error)
}

// acceptsGzip says whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(header(r, "Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") || strings.TrimSpace(name) == "*" {
			q = strings.TrimSpace(q)
			return !(strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q="), "0.") == "")
		}
	}
	return false
}

// gzipMin is the smallest object worth compressing; gzipCacheMax bounds
// the compressed bytes kept in memory.
const (
	gzipMin      = 1024
	gzipCacheMax = 256 << 20
)

// gzipped returns o's bytes gzip-compressed, cached by ETag (the content's
// SHA-256, so an entry can never go stale).
func (h *Handler) gzipped(o object) ([]byte, error) {
	h.mu.Lock()
	if b, ok := h.gz[o.etag]; ok {
		h.mu.Unlock()
		return b, nil
	}
	h.mu.Unlock()
	rc, err := o.open(0, o.size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if m, err := io.Copy(zw, rc); err != nil || m != o.size {
		return nil, fmt.Errorf("read %d of %d bytes: %v", m, o.size, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	h.mu.Lock()
	if h.gz == nil {
		h.gz = map[string][]byte{}
	}
	if h.gzBytes+len(b) <= gzipCacheMax {
		h.gz[o.etag] = b
		h.gzBytes += len(b)
	}
	h.mu.Unlock()
	return b, nil
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, o object) {
	hd := w.Header()
	hd.Set("Vary", "Accept-Encoding")
	// A full (non-Range) GET from a client that accepts gzip gets the
	// gzip-compressed representation, with its own ETag; Range requests
	// always address the identity bytes.
	if !h.NoGzip && r.Method == http.MethodGet && header(r, "Range") == "" && o.size >= gzipMin && acceptsGzip(r) {
		gzTag := strings.TrimSuffix(o.etag, `"`) + `.gz"`
		hd.Set("ETag", gzTag)
		hd.Set("Cache-Control", o.cache)
		hd.Set("X-Content-Type-Options", "nosniff")
		if inm := header(r, "If-None-Match"); inm != "" && (etagListMatch(inm, gzTag) || etagListMatch(inm, o.etag)) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		b, err := h.gzipped(o)
		if err == nil {
			hd.Set("Accept-Ranges", "bytes")
			hd.Set("Content-Type", o.contentType)
			hd.Set("Content-Encoding", "gzip")
			hd.Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusOK)
			w.Write(b)
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			fail(w, http.StatusNotFound, "shard %q is listed in %s but missing from storage", o.name, ManifestFile)
			return
		}
		h.logf("serve: gzip %s: %v", o.name, err)
		// fall back to the identity representation
	}
	hd.Set("ETag", o.etag)
	hd.Set("Cache-Control", o.cache)
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("X-Content-Type-Options", "nosniff")
	if inm := header(r, "If-None-Match"); inm != "" && etagListMatch(inm, o.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	off, n, code := int64(0), o.size, http.StatusOK
	if rg := header(r, "Range"); rg != "" {
		if ir := header(r, "If-Range"); ir == "" || strings.TrimSpace(ir) == o.etag {
			var ok, ranged bool
			off, n, ok, ranged = parseRange(rg, o.size)
			switch {
			case !ok:
				hd.Set("Content-Range", fmt.Sprintf("bytes */%d", o.size))
				fail(w, http.StatusRequestedRangeNotSatisfiable, "range %s not satisfiable: %s is %d bytes", sanitize(rg), o.name, o.size)
				return
			case ranged:
				code = http.StatusPartialContent
				hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, o.size))
			}
		}
	}
	hd.Set("Content-Type", o.contentType)
	hd.Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead || n == 0 {
		w.WriteHeader(code)
		return
	}
	rc, err := o.open(off, n)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fail(w, http.StatusNotFound, "shard %q is listed in %s but missing from storage", o.name, ManifestFile)
			return
		}
		h.logf("serve: open %s: %v", o.name, err)
		fail(w, http.StatusInternalServerError, "server error: cannot read %q", o.name)
		return
	}
	defer rc.Close()
	w.WriteHeader(code)
	if m, err := io.Copy(w, rc); err != nil || m != n {
		// Too late for a status: the short body tells the client.
		h.logf("serve: %s: sent %d of %d bytes: %v", o.name, m, n, err)
	}
}

// header returns all values of a list-valued request header joined by
// commas: several header lines mean the same as one comma-separated line,
// and some front ends (syumai/workers) split one line at its commas.
func header(r *http.Request, key string) string {
	return strings.Join(r.Header.Values(key), ",")
}

// ParseRange interprets a Range header for a representation of size bytes.
// It returns the offset and length to send and ok. A header it does not
// support (another unit, several ranges, bad syntax) yields the whole
// representation, as RFC 9110 allows; a single byte range that selects
// nothing (first byte at or past the end, a zero suffix, last < first)
// yields ok == false, to be answered with 416.
func ParseRange(h string, size int64) (off, n int64, ok bool) {
	off, n, ok, _ = parseRange(h, size)
	return off, n, ok
}

// parseRange is ParseRange that also reports whether a supported single
// byte range was given (to be answered with 206 even if it spans the whole
// representation).
func parseRange(h string, size int64) (off, n int64, ok, ranged bool) {
	h = strings.TrimSpace(h)
	const unit = "bytes="
	if len(h) < len(unit) || !strings.EqualFold(h[:len(unit)], unit) {
		return 0, size, true, false
	}
	spec := strings.TrimSpace(h[len(unit):])
	if strings.Contains(spec, ",") {
		return 0, size, true, false
	}
	a, b, found := strings.Cut(spec, "-")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !found || (a == "" && b == "") {
		return 0, size, true, false
	}
	first, okA := parsePos(a)
	last, okB := parsePos(b)
	if (a != "" && !okA) || (b != "" && !okB) {
		return 0, size, true, false
	}
	if a == "" { // suffix: the last `last` bytes
		if last == 0 || size == 0 {
			return 0, 0, false, true
		}
		if last > size {
			last = size
		}
		return size - last, last, true, true
	}
	if first >= size || (b != "" && last < first) {
		return 0, 0, false, true
	}
	if b == "" || last >= size {
		last = size - 1
	}
	return first, last - first + 1, true, true
}

// parsePos parses a non-negative decimal; values past int64 saturate.
func parsePos(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // only overflow is possible here
		return 1<<63 - 1, true
	}
	return v, true
}

// etagListMatch reports whether an If-None-Match value matches etag, by
// weak comparison (RFC 9110 13.1.2).
func etagListMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
