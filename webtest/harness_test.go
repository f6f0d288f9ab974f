//go:build !js

// Package webtest drives the browser toy in Debian's Chromium with chromedp:
// the real page, the real wasm in real Web Workers, served by the real
// shard handler (core/serve). Run it with scripts/web.sh test, which builds
// public/enmp.wasm.gz and dist/enmp.html first.
package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"enmplab/core/app"
	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/enmp"
	"enmplab/core/serve"
	"enmplab/internal/devshards"
)

var (
	root      = ".."
	shardDir  string // the trained shards, or a throwaway family when they are absent
	browser   context.Context
	artefacts = filepath.Join("..", "build", "webtest")
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Getenv("ENMP_WEBTEST") == "" {
			fmt.Println("webtest: browser suite skipped; scripts/web.sh test runs it (ENMP_WEBTEST=1)")
			return 0
		}
		if _, err := os.Stat("/usr/bin/chromium"); err != nil {
			fmt.Println("webtest: /usr/bin/chromium missing (scripts/web.sh test installs it); skipping")
			return 0
		}
		if _, err := os.Stat(filepath.Join(root, "public", "enmp.wasm.gz")); err != nil {
			fmt.Println("webtest: public/enmp.wasm.gz missing: run scripts/web.sh build (scripts/web.sh test does)")
			return 1
		}
		shardDir = filepath.Join(root, "public", "shards")
		if d := os.Getenv("ENMP_SHARDS"); d != "" {
			shardDir = d
		}
		if _, err := os.Stat(filepath.Join(shardDir, bundle.ManifestFile)); err != nil {
			tmp, err := os.MkdirTemp("", "enmp-devshards")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(tmp)
			if err := devshards.Write(tmp, devshards.Options{Family: data.Vision, Tasks: 4, Val: 48, Test: 48, Classes: 4, Seed: 1}); err != nil {
				panic(err)
			}
			shardDir = tmp
			fmt.Println("webtest: no trained shards, using a throwaway random family")
		}
		os.MkdirAll(artefacts, 0o755)
		dir, _ := os.MkdirTemp("", "enmp-chromium")
		defer os.RemoveAll(dir)
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
			chromedp.NoFirstRun, chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 1000),
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("allow-file-access-from-files", true),
		}
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		defer cancel()
		bctx, bcancel := chromedp.NewContext(actx)
		defer bcancel()
		if err := chromedp.Run(bctx); err != nil {
			fmt.Println("webtest: cannot start chromium:", err)
			return 1
		}
		browser = bctx
		return m.Run()
	}())
}

// server serves public/ and the shards as cmd/serve does; mutate, when
// set, may alter a shard's bytes on the way out.
func server(t testing.TB, mutate func(name string, b []byte) []byte) *httptest.Server {
	shards := serve.New(serve.Dir(shardDir))
	static := http.FileServer(http.Dir(filepath.Join(root, "public")))
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if mutate != nil && strings.HasPrefix(p, "/shards/") {
			b, err := os.ReadFile(filepath.Join(shardDir, strings.TrimPrefix(p, "/shards/")))
			if err == nil {
				mu.Lock()
				b = mutate(strings.TrimPrefix(p, "/shards/"), b)
				mu.Unlock()
				w.Write(b)
				return
			}
		}
		if p == "/manifest.json" || strings.HasPrefix(p, "/shards/") {
			shards.ServeHTTP(w, r)
			return
		}
		if strings.HasSuffix(p, ".wasm") {
			w.Header().Set("Content-Type", "application/wasm")
		}
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// tab is one browser tab that records console errors and requests.
type tab struct {
	ctx      context.Context
	mu       sync.Mutex
	errors   []string
	requests []string
	// panicLines counts console lines since a Go panic (0: none yet).
	panicLines int
}

func newTab(t testing.TB) *tab {
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			panicked := false
			for _, a := range e.Args {
				panicked = panicked || strings.Contains(string(a.Value), "panic:")
			}
			// After a Go panic, keep the stack trace lines that follow it.
			tb.panicLines += map[bool]int{true: 1}[panicked]
			if e.Type == runtime.APITypeError || panicked || (tb.panicLines > 0 && tb.panicLines < 80) {
				if tb.panicLines > 0 {
					tb.panicLines++
				}
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				tb.errors = append(tb.errors, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			tb.errors = append(tb.errors, e.ExceptionDetails.Error())
		case *network.EventRequestWillBeSent:
			tb.requests = append(tb.requests, e.Request.URL)
		}
	})
	if err := chromedp.Run(ctx, network.Enable(), runtime.Enable()); err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *tab) run(t testing.TB, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 6*time.Minute)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func (tb *tab) eval(t testing.TB, expr string, out any) {
	t.Helper()
	tb.run(t, chromedp.Evaluate(expr, out))
}

// waitFor polls a JavaScript condition.
func (tb *tab) waitFor(t testing.TB, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		if err := chromedp.Run(tb.ctx, chromedp.Evaluate("!!("+cond+")", &ok)); err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var status, errText string
			chromedp.Run(tb.ctx, chromedp.Evaluate(`(document.getElementById('status')||{}).textContent||''`, &status),
				chromedp.Evaluate(`(document.getElementById('error')||{}).textContent||''`, &errText))
			t.Fatalf("timed out waiting for %s (status %q, error %q, console errors %v)", cond, status, errText, tb.consoleErrors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (tb *tab) consoleErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...)
}

func (tb *tab) noConsoleErrors(t testing.TB) {
	t.Helper()
	if e := tb.consoleErrors(); len(e) > 0 {
		t.Fatalf("console errors: %v", e)
	}
}

func (tb *tab) screenshot(t testing.TB, name string) {
	t.Helper()
	var png []byte
	tb.run(t, chromedp.FullScreenshot(&png, 100))
	if err := os.WriteFile(filepath.Join(artefacts, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (tb *tab) report(t testing.TB) *enmp.Report {
	t.Helper()
	var s string
	tb.eval(t, "window.enmpReport || ''", &s)
	var r enmp.Report
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("page report %q: %v", s, err)
	}
	return &r
}

var (
	famOnce sync.Once
	fam     *bundle.Family
	famErr  error
)

// native runs the CLI's search for the state in hash.
func native(t testing.TB, hash string) *enmp.Report {
	t.Helper()
	st, err := app.ParseHash(hash)
	if err != nil {
		t.Fatal(err)
	}
	tuned, err := enmp.ReadTuned(filepath.Join(root, "public", "tuned.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := st.Config(tuned)
	if err != nil {
		t.Fatal(err)
	}
	famOnce.Do(func() { fam, famErr = bundle.LoadDir(shardDir, "vision") })
	if famErr != nil {
		t.Fatal(famErr)
	}
	r, err := enmp.Run(context.Background(), fam, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sameReport(t testing.TB, page, nat *enmp.Report) {
	t.Helper()
	pi, _ := json.Marshal(page.Indices)
	ni, _ := json.Marshal(nat.Indices)
	pr, _ := json.Marshal(page.Rows)
	nr, _ := json.Marshal(nat.Rows)
	if string(pi) != string(ni) || page.BestFitness != nat.BestFitness || string(pr) != string(nr) ||
		page.ENMP != nat.ENMP || page.Unpruned != nat.Unpruned || page.Generations != nat.Generations {
		t.Fatalf("page and native differ:\npage   %s fitness %v rows %s enmp %+v gens %d\nnative %s fitness %v rows %s enmp %+v gens %d",
			pi, page.BestFitness, pr, page.ENMP, page.Generations, ni, nat.BestFitness, nr, nat.ENMP, nat.Generations)
	}
}
