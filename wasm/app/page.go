//go:build js && wasm

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall/js"

	"github.com/vugu/vugu"
	"github.com/vugu/vugu/domrender"

	"enmplab/core/app"
	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/loader"
	"enmplab/ui"
	"enmplab/wasm/cachestorage"
)

const checkpointKey = "enmp-checkpoint"

// page wires core/app to the DOM: it loads shards, starts the workers,
// drives a session and copies snapshots into the view model.
type page struct {
	env vugu.EventEnv
	m   *ui.Model

	mu      sync.Mutex
	cancel  context.CancelFunc
	driver  *app.Driver
	workers []*jsWorker
}

func now() float64 { return js.Global().Get("performance").Call("now").Float() }

func runPage() {
	renderer, err := domrender.New("#vugu_mount_point")
	if err != nil {
		js.Global().Get("console").Call("error", err.Error())
		return
	}
	env := renderer.EventEnv()
	buildEnv, err := vugu.NewBuildEnv(env)
	if err != nil {
		js.Global().Get("console").Call("error", err.Error())
		return
	}
	p := &page{env: env, m: &ui.Model{Phase: "loading", ViewGen: -1, State: app.Default()}}
	p.m.Do = p
	js.Global().Set("enmpStats", js.Global().Get("Object").New())
	js.Global().Set("enmpDebug", js.ValueOf(map[string]any{
		"kill": js.FuncOf(func(this js.Value, a []js.Value) any {
			p.mu.Lock()
			defer p.mu.Unlock()
			if i := a[0].Int(); i >= 0 && i < len(p.workers) {
				p.workers[i].terminate()
			}
			return nil
		}),
	}))
	js.Global().Call("addEventListener", "hashchange", js.FuncOf(func(this js.Value, a []js.Value) any {
		go p.fromHash()
		return nil
	}))
	go p.fromHash()
	root := &ui.Root{M: p.m}
	for ok := true; ok; ok = renderer.EventWait() {
		if err := renderer.Render(buildEnv.RunBuild(root)); err != nil {
			js.Global().Get("console").Call("error", err.Error())
		}
	}
}

// update mutates the model under vugu's lock and requests a render. Never
// call it from an event handler (the lock is held there).
func (p *page) update(f func(m *ui.Model)) {
	p.env.Lock()
	f(p.m)
	p.env.UnlockRender()
}

func (p *page) hash() string { return js.Global().Get("location").Get("hash").String() }

// fromHash (re)starts everything for the state in the URL, unless it is
// the state already running.
func (p *page) fromHash() {
	st, err := app.ParseHash(p.hash())
	if err != nil {
		p.update(func(m *ui.Model) { m.Error = err.Error() + " (using the default settings instead)" })
		st = app.Default()
	}
	p.env.RLock()
	same := p.m.Phase != "loading" && p.m.State.Hash() == st.Hash() && p.driver != nil
	p.env.RUnlock()
	if same {
		return
	}
	p.start(st)
}

// Command, Set and Toggle implement ui.Actions; they run inside event
// handlers, so they only queue work.
func (p *page) Command(cmd string) {
	p.mu.Lock()
	d := p.driver
	p.mu.Unlock()
	if d != nil {
		d.Send(cmd)
	}
}

func (p *page) Set(key, value string) {
	st, err := p.m.State.With(key, value)
	if err != nil {
		p.m.Error = err.Error()
		return
	}
	p.m.Error = ""
	// Writing the hash fires hashchange, which restarts with the new state.
	js.Global().Get("location").Set("hash", st.Hash())
}

func (p *page) Toggle(layer, task int) {}

func (p *page) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
	}
	for _, w := range p.workers {
		w.terminate()
	}
	p.workers, p.driver, p.cancel = nil, nil, nil
}

func (p *page) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	p.update(func(m *ui.Model) { m.Phase, m.Error = "error", err.Error() })
}

func (p *page) start(st app.State) {
	p.stop()
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	p.update(func(m *ui.Model) {
		m.State, m.Phase, m.Status, m.Error = st, "loading", "loading shards", ""
		m.Gens, m.Report, m.Info, m.Files, m.ViewGen = nil, nil, nil, nil, -1
	})
	d, tuned, err := p.load(ctx, st)
	if err != nil {
		p.fail(ctx, err)
		return
	}
	cfg, err := st.Config(tuned)
	if err != nil {
		p.fail(ctx, err)
		return
	}
	d.config = cfg
	n := st.Workers
	if n == 0 {
		n = js.Global().Get("navigator").Get("hardwareConcurrency").Int()
		n = max(1, min(n, 8))
	}
	p.update(func(m *ui.Model) { m.Status = fmt.Sprintf("starting %d workers", n) })
	ws := make([]*jsWorker, n)
	infos := make([]app.Info, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ws[i], infos[i], errs[i] = startWorker(ctx, d)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			for _, w := range ws {
				if w != nil {
					w.terminate()
				}
			}
			p.fail(ctx, err)
			return
		}
	}
	aw := make([]app.Worker, n)
	for i, w := range ws {
		aw[i] = w
	}
	p.mu.Lock()
	p.workers = ws
	p.mu.Unlock()
	pool, err := app.NewPool(aw, func(i int) (app.Worker, error) {
		w, _, err := startWorker(ctx, d)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.workers[i] = w
		p.mu.Unlock()
		return w, nil
	})
	if err != nil {
		p.fail(ctx, err)
		return
	}
	info := infos[0]
	fresh := func() (*app.Session, error) { return app.NewSession(st, cfg, info, pool) }
	var sess *app.Session
	ls := js.Global().Get("localStorage")
	if ck := ls.Call("getItem", checkpointKey); ck.Type() == js.TypeString {
		if h, err := app.CheckpointHash([]byte(ck.String())); err == nil && h == st.Hash() {
			if s, err := app.Resume([]byte(ck.String()), st, cfg, info, pool); err == nil {
				sess = s
			}
		}
	}
	resumed := sess != nil
	if sess == nil {
		if sess, err = fresh(); err != nil {
			p.fail(ctx, err)
			return
		}
	}
	p.update(func(m *ui.Model) { m.Info, m.Workers = &info, n })
	start := now()
	evals0 := 0
	if resumed && len(sess.Gens) > 0 {
		evals0 = sess.Gens[len(sess.Gens)-1].Evals
	}
	stats := js.Global().Get("enmpStats")
	stats.Set("workers", n)
	stats.Set("resumedGens", len(sess.Gens))
	save := func(b []byte) {
		if b == nil {
			ls.Call("removeItem", checkpointKey)
			return
		}
		ls.Call("setItem", checkpointKey, string(b))
	}
	snap := func(sn app.Snapshot) {
		if ctx.Err() != nil {
			return
		}
		t := now()
		js.Global().Get("document").Set("title", sn.Title)
		evals := 0
		if len(sn.Gens) > 0 {
			evals = sn.Gens[len(sn.Gens)-1].Evals
			if stats.Get("firstGenMs").IsUndefined() {
				stats.Set("firstGenMs", t) // performance.now() counts from navigation
			}
		}
		rate := float64(evals-evals0) / ((t - start) / 1000)
		if sn.Phase == "done" && stats.Get("doneMs").IsUndefined() {
			stats.Set("doneMs", t)
			stats.Set("searchMs", t-start)
			stats.Set("evals", evals)
		}
		if sn.Report != nil {
			b, _ := json.Marshal(sn.Report)
			js.Global().Set("enmpReport", string(b))
		}
		stats.Set("gens", len(sn.Gens))
		stats.Set("phase", sn.Phase)
		p.update(func(m *ui.Model) {
			m.Phase, m.Gens, m.Report = sn.Phase, sn.Gens, sn.Report
			m.Status = fmt.Sprintf("%s · %d evaluations · %.1f eval/s · %d workers", strings.TrimPrefix(sn.Title, "ENMP - "), evals, rate, n)
			if sn.Err != nil {
				m.Error = sn.Err.Error()
			}
		})
	}
	drv := app.NewDriver(sess, fresh, snap, save)
	p.mu.Lock()
	p.driver = drv
	p.mu.Unlock()
	go drv.Loop(ctx)
	if st.Autorun {
		drv.Send("run")
	}
}

// load gets the catalog and every file of the family, each verified
// against the manifest's SHA-256: inlined in the single-file build, else
// through core/loader (progress per file, resume, one refetch, Cache
// Storage), and the tuned hyperparameters when shipped.
func (p *page) load(ctx context.Context, st app.State) (*initData, *enmp.Tuned, error) {
	inline := js.Global().Get("ENMP_INLINE")
	useInline := st.Shards == "" && inline.Type() == js.TypeObject
	base := st.Shards
	if base == "" {
		base = "."
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	base = js.Global().Get("URL").New(base, js.Global().Get("location").Get("href")).Get("href").String()
	l := &loader.Loader{Base: base, Parallel: 3}
	if cachestorage.Available() && !useInline {
		l.Cache = &cachestorage.Cache{Name: "enmp-shards-v1", Base: base}
	}
	var catalog []byte
	var err error
	if useInline {
		catalog, err = fromBase64(inline.Get("catalog").String())
	} else {
		_, catalog, err = l.Manifest(ctx)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot load the shard manifest from %s: %v", base, err)
	}
	cat, err := bundle.ParseCatalog(catalog)
	if err != nil {
		return nil, nil, fmt.Errorf("shard manifest refused: %v", err)
	}
	man, err := cat.Family(st.Family)
	if err != nil {
		return nil, nil, err
	}
	files := man.Files
	index := map[string]int{}
	p.update(func(m *ui.Model) {
		m.Files = make([]ui.FileProgress, len(files))
		for i, f := range files {
			m.Files[i] = ui.FileProgress{Name: f.Name, Total: f.Size}
			index[f.Name] = i
		}
	})
	d := &initData{catalog: catalog, family: st.Family}
	if useInline {
		for i, f := range files {
			b, err := fromBase64(inline.Get("files").Get(f.Name).String())
			if err == nil {
				sum := sha256.Sum256(b)
				if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
					err = fmt.Errorf("SHA-256 is %s, the manifest says %s", got, f.SHA256)
				}
			}
			if err != nil {
				p.update(func(m *ui.Model) { m.Files[i].Err = "refused" })
				return nil, nil, fmt.Errorf("shard %s refused: %v", f.Name, err)
			}
			d.files[f.Name] = b
			p.update(func(m *ui.Model) { m.Files[i].Done = m.Files[i].Total })
		}
	} else {
		last := 0.0
		l.Progress = func(pr loader.Progress) {
			t := now()
			if pr.Done < pr.Total && t-last < 100 {
				return
			}
			last = t
			p.update(func(m *ui.Model) {
				if i, ok := index[pr.File]; ok {
					m.Files[i].Done = pr.Done
				}
			})
		}
		got, err := l.FetchAll(ctx, files)
		if err != nil {
			var le *loader.Error
			if errors.As(err, &le) {
				p.update(func(m *ui.Model) {
					if i, ok := index[le.File]; ok {
						m.Files[i].Err = "refused"
					}
				})
				return nil, nil, fmt.Errorf("shard %s refused: %v", le.File, le.Err)
			}
			return nil, nil, err
		}
		d.files = got
		p.update(func(m *ui.Model) {
			for i := range m.Files {
				m.Files[i].Done = m.Files[i].Total
			}
		})
	}
	var tuned *enmp.Tuned
	var tb []byte
	if useInline {
		if t := inline.Get("tuned"); t.Type() == js.TypeString {
			tb = []byte(t.String())
		}
	} else if b, err := fetchBytes("tuned.gen.json", nil); err == nil {
		tb = b
	}
	if tb != nil {
		if tuned, err = enmp.ParseTuned(tb); err != nil {
			return nil, nil, err
		}
	}
	return d, tuned, nil
}
