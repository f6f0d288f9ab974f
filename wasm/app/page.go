//go:build js && wasm

package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
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
	"enmplab/core/search"
	"enmplab/core/shard"
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

	// Set once the workers run (under mu): what hand edits, module cards
	// and exports need.
	ctx    context.Context
	pool   *app.Pool
	info   app.Info
	d      *initData
	st     app.State
	cfg    enmp.Config
	expEng *app.Engine
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
	js.Global().Set("enmpExported", js.Global().Get("Object").New())
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

// running returns what hand edits need, or nil when the workers are not up.
func (p *page) running() (context.Context, *app.Pool, app.Info) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctx, p.pool, p.info
}

// Toggle flips one module of the hand mask and scores it at once, beside
// any generation in flight (the pool shares its workers).
func (p *page) Toggle(layer, task int) {
	ctx, pool, info := p.running()
	if pool == nil {
		return
	}
	m, err := app.Toggle(p.m.HandMask(), layer, task)
	if err != nil {
		p.m.Error = err.Error()
		return
	}
	h := &ui.Hand{Mask: m, Pending: true}
	p.m.Hand = h
	_ = info
	p.Select(layer, task, false)
	go func() {
		e, err := pool.Eval(ctx, "eval", m, 0)
		p.update(func(mm *ui.Model) {
			if mm.Hand != h {
				return // a newer edit replaced it
			}
			h.Pending = false
			if err != nil {
				h.Err = err.Error()
				return
			}
			h.Eval = &e
		})
	}()
}

// Select shows a module's card; with measure, it also scores the mask
// pruning that module alone (its leave-one-out effect) unless known.
func (p *page) Select(layer, task int, measure bool) {
	ctx, pool, info := p.running()
	if pool == nil {
		return
	}
	c := &ui.Card{Layer: layer, Task: task}
	m, err := app.Toggle(emptyMask(info), layer, task)
	if err != nil {
		return
	}
	if e, ok := pool.Cached(app.Request{Op: "eval", Mask: m.Key()}); ok {
		c.LOO = &e
	}
	p.m.Card = c
	if c.LOO != nil || !measure {
		return
	}
	c.Pending = true
	go func() {
		e, err := pool.Eval(ctx, "eval", m, 0)
		p.update(func(mm *ui.Model) {
			c.Pending = false
			if err == nil {
				c.LOO = &e
			}
		})
	}()
}

func emptyMask(info app.Info) search.Mask {
	sp := info.Space
	if sp.Projs > 0 {
		return search.NewProjMask(sp.Layers, sp.Tasks, sp.Projs)
	}
	return search.NewMask(sp.Layers, sp.Tasks)
}

// Export builds one export file and downloads it; the bytes also land in
// window.enmpExported[kind] (text, or base64 for the safetensors file).
func (p *page) Export(kind string) {
	rep, gens := p.m.Report, p.m.Gens
	go func() {
		name, b, err := p.exportBytes(kind, rep, gens)
		if err != nil {
			p.update(func(m *ui.Model) { m.Error = "export: " + err.Error() })
			return
		}
		g := js.Global()
		mime := "application/json"
		if strings.HasSuffix(name, ".csv") {
			mime = "text/csv"
		} else if strings.HasSuffix(name, ".safetensors") {
			mime = "application/octet-stream"
		}
		arr := g.Get("Array").New(jsBytes(b))
		opts := g.Get("Object").New()
		opts.Set("type", mime)
		url := g.Get("URL").Call("createObjectURL", g.Get("Blob").New(arr, opts))
		a := g.Get("document").Call("createElement", "a")
		a.Set("href", url)
		a.Set("download", name)
		a.Call("click")
		out := g.Get("Object").New()
		out.Set("name", name)
		if mime == "application/octet-stream" {
			out.Set("base64", base64.StdEncoding.EncodeToString(b))
		} else {
			out.Set("text", string(b))
		}
		g.Get("enmpExported").Set(kind, out)
	}()
}

func (p *page) exportBytes(kind string, rep *enmp.Report, gens []app.Gen) (string, []byte, error) {
	p.mu.Lock()
	info, st, d, cfg := p.info, p.st, p.d, p.cfg
	p.mu.Unlock()
	if d == nil {
		return "", nil, errors.New("nothing loaded yet")
	}
	base := fmt.Sprintf("enmp-%s-%s-seed%d", st.Family, st.Method, st.Seed)
	switch kind {
	case "mask":
		b, err := app.MaskJSON(rep)
		return base + "-mask.json", b, err
	case "log-csv":
		b, err := app.RunLogCSV(info, gens)
		return base + "-runlog.csv", b, err
	case "log-json":
		b, err := app.RunLogJSON(st, info, gens)
		return base + "-runlog.json", b, err
	case "adapter", "adapter-config":
		if rep == nil {
			return "", nil, errors.New("the search has not finished")
		}
		p.mu.Lock()
		eng := p.expEng
		p.mu.Unlock()
		if eng == nil {
			d.mu.Lock()
			files := d.files
			d.mu.Unlock()
			e, err := app.NewEngine(d.catalog, d.family, func(name string) ([]byte, error) {
				if b, ok := files[name]; ok {
					return b, nil
				}
				return nil, fmt.Errorf("shard %s was not loaded", name)
			}, cfg, info.Known())
			if err != nil {
				return "", nil, err
			}
			eng = e
			p.mu.Lock()
			p.expEng = e
			p.mu.Unlock()
		}
		model, config, err := app.MergedAdapter(eng.Evaluator(), eng.Family(), rep.Mask, rep.BestLambda)
		if kind == "adapter" {
			return base + "-adapter_model.safetensors", model, err
		}
		return "adapter_config.json", config, err
	}
	return "", nil, fmt.Errorf("unknown export %q", kind)
}

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
	p.pool, p.d, p.expEng = nil, nil, nil
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
		m.Hand, m.Card, m.Side, m.Examples = nil, nil, nil, nil
	})
	d, tuned, fetchTest, err := p.load(ctx, st)
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
	// The first worker measures the experts and the unpruned merge; the
	// others reuse its numbers instead of measuring them again.
	ws := make([]*jsWorker, n)
	errs := make([]error, n)
	var info app.Info
	ws[0], info, errs[0] = startWorker(ctx, d)
	if errs[0] == nil {
		d.mu.Lock()
		d.known = info.Known()
		d.mu.Unlock()
		var wg sync.WaitGroup
		for i := 1; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ws[i], _, errs[i] = startWorker(ctx, d)
			}(i)
		}
		wg.Wait()
	}
	js.Global().Get("enmpStats").Set("workersReadyMs", now())
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
	p.mu.Lock()
	p.ctx, p.pool, p.info, p.d, p.st, p.cfg = ctx, pool, info, d, st, cfg
	p.mu.Unlock()
	fresh := func() (*app.Session, error) {
		s, err := app.NewSession(st, cfg, info, pool)
		if s != nil {
			s.TestFiles = fetchTest
		}
		return s, err
	}
	var sess *app.Session
	ls := js.Global().Get("localStorage")
	if ck := ls.Call("getItem", checkpointKey); ck.Type() == js.TypeString {
		if h, err := app.CheckpointHash([]byte(ck.String())); err == nil && h == st.Hash() {
			if s, err := app.Resume([]byte(ck.String()), st, cfg, info, pool); err == nil {
				sess = s
				sess.TestFiles = fetchTest
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
			if stats.Get("reportMs").IsUndefined() {
				stats.Set("reportMs", t)
			}
			b, _ := json.Marshal(sn.Report)
			js.Global().Set("enmpReport", string(b))
		}
		if sn.Side != nil && stats.Get("sideMs").IsUndefined() {
			stats.Set("sideMs", t)
			b, _ := json.Marshal(sn.Side)
			js.Global().Set("enmpSide", string(b))
		}
		if sn.Examples != nil && stats.Get("examplesMs").IsUndefined() {
			stats.Set("examplesMs", t)
			b, _ := json.Marshal(sn.Examples)
			js.Global().Set("enmpExamples", string(b))
		}
		stats.Set("gens", len(sn.Gens))
		stats.Set("phase", sn.Phase)
		p.update(func(m *ui.Model) {
			m.Phase, m.Gens, m.Report, m.Side, m.Examples = sn.Phase, sn.Gens, sn.Report, sn.Side, sn.Examples
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
func (p *page) load(ctx context.Context, st app.State) (*initData, *enmp.Tuned, func(context.Context) (map[string][]byte, error), error) {
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
		return nil, nil, nil, fmt.Errorf("cannot load the shard manifest from %s: %v", base, err)
	}
	cat, err := bundle.ParseCatalog(catalog)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("shard manifest refused: %v", err)
	}
	man, err := cat.Family(st.Family)
	if err != nil {
		return nil, nil, nil, err
	}
	// The test split is fetched only when a search ends (fetchTest); the
	// progress bars list it from the start.
	var files []shard.FileInfo
	var testFile *shard.FileInfo
	for _, f := range man.Files {
		if bundle.IsTestFile(man, f) {
			f := f
			testFile = &f
			continue
		}
		files = append(files, f)
	}
	all := append([]shard.FileInfo(nil), files...)
	if testFile != nil {
		all = append(all, *testFile)
	}
	index := map[string]int{}
	p.update(func(m *ui.Model) {
		m.Files = make([]ui.FileProgress, len(all))
		for i, f := range all {
			m.Files[i] = ui.FileProgress{Name: f.Name, Total: f.Size}
			index[f.Name] = i
		}
	})
	d := &initData{catalog: catalog, family: st.Family, files: map[string][]byte{}}
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
				return nil, nil, nil, fmt.Errorf("shard %s refused: %v", f.Name, err)
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
				return nil, nil, nil, fmt.Errorf("shard %s refused: %v", le.File, le.Err)
			}
			return nil, nil, nil, err
		}
		d.files = got
		p.update(func(m *ui.Model) {
			for i := range files {
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
			return nil, nil, nil, err
		}
	}
	var once sync.Mutex
	var got map[string][]byte
	fetchTest := func(ctx context.Context) (map[string][]byte, error) {
		once.Lock()
		defer once.Unlock()
		if got != nil {
			return got, nil
		}
		if testFile == nil {
			return nil, fmt.Errorf("manifest of %s lists no test data file", st.Family)
		}
		f := *testFile
		var b []byte
		var err error
		if useInline {
			b, err = fromBase64(inline.Get("files").Get(f.Name).String())
			if err == nil {
				if verr := shard.VerifyBytes(f, b); verr != nil {
					err = verr
				}
			}
		} else {
			var m map[string][]byte
			m, err = l.FetchAll(ctx, []shard.FileInfo{f})
			b = m[f.Name]
		}
		if err != nil {
			p.update(func(m *ui.Model) {
				if i, ok := index[f.Name]; ok && i < len(m.Files) {
					m.Files[i].Err = "refused"
				}
			})
			return nil, fmt.Errorf("shard %s refused: %v", f.Name, err)
		}
		p.update(func(m *ui.Model) {
			if i, ok := index[f.Name]; ok && i < len(m.Files) {
				m.Files[i].Done = m.Files[i].Total
			}
		})
		d.mu.Lock()
		d.files[f.Name] = b
		d.mu.Unlock()
		got = map[string][]byte{f.Name: b}
		return got, nil
	}
	return d, tuned, fetchTest, nil
}
