// Package loader fetches the shard catalog and shards the way the browser
// app does: manifest.json first, then each shard with progress reports,
// resuming a broken transfer with a Range request, verifying every shard's
// size and SHA-256 before anyone can use it (a corrupt or truncated shard
// is fetched once more, then refused with an error naming it), and keeping
// verified shards in a Cache (Cache Storage in the browser) so a second or
// offline visit needs no shard downloads.
//
// The logic is pure Go: HTTP goes through a Doer (*http.Client, which uses
// fetch under js/wasm) and the cache through a small interface, so it is
// tested natively against the real shard handler with faults injected.
package loader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"enmplab/core/serve"
	"enmplab/core/shard"
)

// Doer sends an HTTP request. *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Cache keeps verified files between visits. Keys are paths relative to
// the loader's base URL ("manifest.json", "shards/<name>"). Get reports a
// missing key with ok == false and no error. Implementations must be safe
// for concurrent use.
type Cache interface {
	Get(ctx context.Context, key string) (b []byte, ok bool, err error)
	Put(ctx context.Context, key string, b []byte) error
	Delete(ctx context.Context, key string) error
}

// Progress reports one file's download.
type Progress struct {
	File      string
	Done      int64 // bytes received and kept so far
	Total     int64 // the size the manifest lists
	FromCache bool  // served by the cache: no network
	Retry     int   // 0 for the first fetch, 1 for the refetch after a bad one
}

// Error is a file the loader could not get, or got wrong and refused.
type Error struct {
	File    string
	Fetches int // complete fetches made (0: none finished)
	Err     error
}

func (e *Error) Error() string {
	if e.Fetches > 1 {
		return fmt.Sprintf("loader: %s refused after %d fetches: %v", e.File, e.Fetches, e.Err)
	}
	return fmt.Sprintf("loader: %s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Loader fetches from one server. The zero value is not usable: set Base.
type Loader struct {
	// Base is the URL that serves manifest.json and shards/, e.g.
	// "https://lab.example/" or "http://127.0.0.1:8080/".
	Base string
	// Client sends requests; nil means http.DefaultClient.
	Client Doer
	// Cache keeps verified files; nil means none.
	Cache Cache
	// Progress, if set, is called as bytes arrive (never concurrently).
	Progress func(Progress)
	// Logf, if set, receives problems that do not fail a load (a cache
	// that cannot store, a corrupt cache entry dropped).
	Logf func(format string, args ...any)
	// MaxResumes bounds the Range requests that continue one broken
	// transfer; 0 means 3.
	MaxResumes int
	// RetryDelay is the pause before each resume; 0 means 200 ms, < 0 none.
	RetryDelay time.Duration
	// Parallel is how many shards FetchAll downloads at once; 0 means 3.
	Parallel int

	progMu sync.Mutex
}

// MaxFileSize bounds what the loader will hold of one file.
const MaxFileSize = 2 << 30

const manifestKey = serve.ManifestFile

func shardKey(name string) string { return strings.TrimPrefix(serve.ShardPrefix, "/") + name }

func (l *Loader) client() Doer {
	if l.Client != nil {
		return l.Client
	}
	return http.DefaultClient
}

func (l *Loader) url(key string) string {
	return strings.TrimSuffix(l.Base, "/") + "/" + key
}

func (l *Loader) logf(format string, args ...any) {
	if l.Logf != nil {
		l.Logf(format, args...)
	}
}

func (l *Loader) progress(p Progress) {
	if l.Progress == nil {
		return
	}
	l.progMu.Lock()
	defer l.progMu.Unlock()
	l.Progress(p)
}

// Manifest returns the files manifest.json lists, and its bytes. With a
// cached copy it revalidates (If-None-Match; a 304 costs no body) and, if
// the server cannot be reached or fails, uses the cached copy: an offline
// visit works. A fetched manifest is validated before it is cached.
func (l *Loader) Manifest(ctx context.Context) ([]shard.FileInfo, []byte, error) {
	var cached []byte
	if l.Cache != nil {
		b, ok, err := l.Cache.Get(ctx, manifestKey)
		if err != nil {
			l.logf("loader: cache: %v", err)
		} else if ok {
			if _, perr := serve.ParseCatalog(b); perr == nil {
				cached = b
			} else {
				l.logf("loader: dropping cached manifest.json: %v", perr)
				l.Cache.Delete(ctx, manifestKey)
			}
		}
	}
	b, netErr := l.fetchManifest(ctx, cached)
	if netErr != nil {
		if cached != nil && ctx.Err() == nil && !isHTTPStatus(netErr, http.StatusNotFound) {
			l.logf("loader: using the cached manifest.json: %v", netErr)
			files, _ := serve.ParseCatalog(cached)
			return files, cached, nil
		}
		return nil, nil, &Error{File: manifestKey, Err: netErr}
	}
	files, err := serve.ParseCatalog(b)
	if err != nil {
		return nil, nil, &Error{File: manifestKey, Fetches: 1, Err: err}
	}
	if l.Cache != nil && (cached == nil || string(cached) != string(b)) {
		if err := l.Cache.Put(ctx, manifestKey, b); err != nil {
			l.logf("loader: cache: cannot keep manifest.json: %v", err)
		}
	}
	return files, b, nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	if e.body != "" {
		return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
	}
	return fmt.Sprintf("HTTP %d", e.code)
}

func isHTTPStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}

func readStatus(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(b))}
}

func (l *Loader) fetchManifest(ctx context.Context, cached []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url(manifestKey), nil)
	if err != nil {
		return nil, err
	}
	if cached != nil {
		req.Header.Set("If-None-Match", `"`+shard.Checksum(cached)+`"`)
	}
	resp, err := l.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		return cached, nil
	case resp.StatusCode != http.StatusOK:
		return nil, readStatus(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return b, nil
}

// Fetch returns the verified content of fi: from the cache when it holds a
// copy that verifies, else from the server (and then cached). A broken
// transfer is resumed; a complete but wrong or truncated body is fetched
// once more from scratch, and refused with an *Error if still wrong.
func (l *Loader) Fetch(ctx context.Context, fi shard.FileInfo) ([]byte, error) {
	if err := serve.CheckName(fi.Name); err != nil {
		return nil, &Error{File: fi.Name, Err: err}
	}
	if fi.Size < 0 || fi.Size > MaxFileSize {
		return nil, &Error{File: fi.Name, Err: fmt.Errorf("manifest size %d outside 0..%d", fi.Size, int64(MaxFileSize))}
	}
	key := shardKey(fi.Name)
	if l.Cache != nil {
		b, ok, err := l.Cache.Get(ctx, key)
		switch {
		case err != nil:
			l.logf("loader: cache: %v", err)
		case ok:
			if verr := shard.VerifyBytes(fi, b); verr == nil {
				l.progress(Progress{File: fi.Name, Done: fi.Size, Total: fi.Size, FromCache: true})
				return b, nil
			} else {
				l.logf("loader: dropping cached copy: %v", verr)
				if err := l.Cache.Delete(ctx, key); err != nil {
					l.logf("loader: cache: %v", err)
				}
			}
		}
	}
	var lastErr error
	fetches := 0
	for try := 0; try < 2; try++ {
		b, err := l.download(ctx, fi, try)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &Error{File: fi.Name, Fetches: fetches, Err: ctx.Err()}
			}
			if isHTTPStatus(err, http.StatusNotFound) || isHTTPStatus(err, http.StatusBadRequest) {
				return nil, &Error{File: fi.Name, Fetches: fetches, Err: err} // asking again will not help
			}
			lastErr = err
			continue
		}
		fetches++
		if err := shard.VerifyBytes(fi, b); err != nil {
			l.logf("loader: refusing %s: %v", fi.Name, err)
			lastErr = err
			continue
		}
		if l.Cache != nil {
			if err := l.Cache.Put(ctx, key, b); err != nil {
				l.logf("loader: cache: cannot keep %s: %v", fi.Name, err)
			}
		}
		return b, nil
	}
	return nil, &Error{File: fi.Name, Fetches: fetches, Err: lastErr}
}

// download fetches fi's bytes, resuming after a broken connection with
// Range and If-Range (the shard's ETag, so a changed file restarts). It
// does not verify. try > 0 asks caches on the way to revalidate.
func (l *Loader) download(ctx context.Context, fi shard.FileInfo, try int) ([]byte, error) {
	maxResumes := l.MaxResumes
	if maxResumes <= 0 {
		maxResumes = 3
	}
	delay := l.RetryDelay
	if delay == 0 {
		delay = 200 * time.Millisecond
	}
	etag := `"` + fi.SHA256 + `"`
	buf := make([]byte, 0, min(fi.Size, 64<<20))
	resumes := 0
	var lastErr error
	for {
		if resumes > 0 {
			if resumes > maxResumes {
				return nil, fmt.Errorf("gave up after %d tries, holding %d of %d bytes: %w", resumes, len(buf), fi.Size, lastErr)
			}
			if delay > 0 {
				select {
				case <-time.After(delay * time.Duration(resumes)):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url(shardKey(fi.Name)), nil)
		if err != nil {
			return nil, err
		}
		if try > 0 {
			req.Header.Set("Cache-Control", "no-cache")
		}
		if len(buf) > 0 {
			req.Header.Set("Range", "bytes="+strconv.Itoa(len(buf))+"-")
			req.Header.Set("If-Range", etag)
		}
		resp, err := l.client().Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = fmt.Errorf("server unreachable: %w", err)
			resumes++
			continue
		}
		switch resp.StatusCode {
		case http.StatusOK:
			buf = buf[:0] // a whole body: start over
		case http.StatusPartialContent:
			if want := fmt.Sprintf("bytes %d-", len(buf)); len(buf) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Range"), want) {
				resp.Body.Close()
				return nil, fmt.Errorf("server answered Range bytes=%d- with Content-Range %q", len(buf), resp.Header.Get("Content-Range"))
			}
		case http.StatusRequestedRangeNotSatisfiable:
			resp.Body.Close()
			return buf, nil // the server has no more than we hold: verification decides
		default:
			err := readStatus(resp)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				lastErr = err
				resumes++
				continue
			}
			return nil, err
		}
		buf, err = l.readBody(resp.Body, buf, fi)
		resp.Body.Close()
		if err == nil {
			return buf, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		resumes++
	}
}

// readBody appends the body to buf, reporting progress, and stops once it
// holds one byte more than the manifest's size (verification then fails).
func (l *Loader) readBody(body io.Reader, buf []byte, fi shard.FileInfo) ([]byte, error) {
	limit := fi.Size + 1
	chunk := make([]byte, 64<<10)
	lastReport := time.Time{}
	for int64(len(buf)) < limit {
		n, err := body.Read(chunk[:min(int64(len(chunk)), limit-int64(len(buf)))])
		buf = append(buf, chunk[:n]...)
		if n > 0 && (time.Since(lastReport) > 50*time.Millisecond || int64(len(buf)) >= fi.Size) {
			l.progress(Progress{File: fi.Name, Done: int64(len(buf)), Total: fi.Size})
			lastReport = time.Now()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, fmt.Errorf("transfer broken after %d of %d bytes: %w", len(buf), fi.Size, err)
		}
	}
	return buf, nil
}

// FetchAll fetches every file, Parallel at a time, and returns the
// verified contents by name. Files that fail do not stop the others (they
// are cached for next time); the error joins one *Error per failed file.
func (l *Loader) FetchAll(ctx context.Context, files []shard.FileInfo) (map[string][]byte, error) {
	par := l.Parallel
	if par <= 0 {
		par = 3
	}
	out := make(map[string][]byte, len(files))
	errs := make([]error, len(files))
	var mu sync.Mutex
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, fi := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b, err := l.Fetch(ctx, fi)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			out[fi.Name] = b
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Load fetches manifest.json and then every file it lists.
func (l *Loader) Load(ctx context.Context) ([]shard.FileInfo, map[string][]byte, error) {
	files, _, err := l.Manifest(ctx)
	if err != nil {
		return nil, nil, err
	}
	got, err := l.FetchAll(ctx, files)
	return files, got, err
}

// MemCache is a Cache in memory.
type MemCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get implements Cache.
func (c *MemCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[key]
	return append([]byte(nil), b...), ok, nil
}

// Put implements Cache.
func (c *MemCache) Put(ctx context.Context, key string, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = append([]byte(nil), b...)
	return nil
}

// Delete implements Cache.
func (c *MemCache) Delete(ctx context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// Keys lists the cached keys.
func (c *MemCache) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []string
	for k := range c.m {
		ks = append(ks, k)
	}
	return ks
}
