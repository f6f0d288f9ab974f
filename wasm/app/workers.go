//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"syscall/js"

	"enmplab/core/app"
	"enmplab/core/enmp"
	"enmplab/core/eval"
)

// jsWorker is one Web Worker running wasm/evalworker; it implements app.Worker.
type jsWorker struct {
	w        js.Value
	msgs     chan js.Value
	dead     chan struct{}
	once     sync.Once
	onmsg    js.Func
	onerr    js.Func
	deathMsg string
	d        *initData
}

// initData is what every worker receives: the family's bytes (the test
// split's only once fetched), the config and the references measured by
// the first worker.
type initData struct {
	mu      sync.Mutex
	catalog []byte
	family  string
	files   map[string][]byte
	config  enmp.Config
	known   *eval.Reference
}

func (w *jsWorker) die(msg string) {
	w.once.Do(func() { w.deathMsg = msg; close(w.dead) })
}

// startWorker creates a worker from the Blob URL boot.js prepared, gives it
// the compiled module and the family, and waits for its Info.
func startWorker(ctx context.Context, d *initData) (*jsWorker, app.Info, error) {
	g := js.Global()
	w := &jsWorker{w: g.Get("Worker").New(g.Get("enmpWorkerURL")), msgs: make(chan js.Value, 16), dead: make(chan struct{}), d: d}
	w.onmsg = js.FuncOf(func(this js.Value, a []js.Value) any {
		select {
		case w.msgs <- a[0].Get("data"):
		default:
		}
		return nil
	})
	w.onerr = js.FuncOf(func(this js.Value, a []js.Value) any {
		msg := "worker crashed"
		if m := a[0].Get("message"); m.Type() == js.TypeString {
			msg += ": " + m.String()
		}
		a[0].Call("preventDefault")
		w.die(msg)
		return nil
	})
	w.w.Set("onmessage", w.onmsg)
	w.w.Set("onerror", w.onerr)
	m := g.Get("Object").New()
	m.Set("type", "module")
	m.Set("module", g.Get("enmpModule"))
	w.w.Call("postMessage", m)
	var info app.Info
	if _, err := w.expect(ctx, "ready"); err != nil {
		return nil, info, err
	}
	d.mu.Lock()
	files := g.Get("Object").New()
	for k, b := range d.files {
		files.Set(k, jsBytes(b))
	}
	cfg, _ := json.Marshal(d.config)
	known := ""
	if d.known != nil {
		b, _ := json.Marshal(d.known)
		known = string(b)
	}
	d.mu.Unlock()
	m = g.Get("Object").New()
	m.Set("type", "init")
	m.Set("catalog", jsBytes(d.catalog))
	m.Set("family", d.family)
	m.Set("config", string(cfg))
	m.Set("files", files)
	m.Set("known", known)
	w.w.Call("postMessage", m)
	v, err := w.expect(ctx, "info")
	if err != nil {
		w.terminate()
		return nil, info, err
	}
	if err := json.Unmarshal([]byte(v.Get("json").String()), &info); err != nil {
		return nil, info, err
	}
	return w, info, nil
}

// expect waits for a message of type kind; an "error" message is an error.
func (w *jsWorker) expect(ctx context.Context, kind string) (js.Value, error) {
	select {
	case v := <-w.msgs:
		switch t := v.Get("type").String(); t {
		case kind:
			return v, nil
		case "error":
			return v, errors.New(v.Get("error").String())
		default:
			return v, errors.New("worker: unexpected message " + t)
		}
	case <-w.dead:
		return js.Undefined(), errors.New(w.deathMsg)
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

// Do sends one request and waits for its answer or the worker's death.
func (w *jsWorker) Do(ctx context.Context, r app.Request) (app.Response, error) {
	b, _ := json.Marshal(r)
	m := js.Global().Get("Object").New()
	m.Set("type", "req")
	m.Set("json", string(b))
	select {
	case <-w.dead:
		return app.Response{}, errors.New(w.deathMsg)
	default:
	}
	if r.Op == "loadtest" {
		files := js.Global().Get("Object").New()
		for k, b := range r.Files {
			files.Set(k, jsBytes(b))
		}
		m.Set("files", files)
	}
	w.w.Call("postMessage", m)
	for {
		v, err := w.expect(ctx, "resp")
		if err != nil {
			return app.Response{}, err
		}
		var resp app.Response
		if err := json.Unmarshal([]byte(v.Get("json").String()), &resp); err != nil {
			return resp, err
		}
		if resp.ID == r.ID { // an answer to a request abandoned earlier is skipped
			return resp, nil
		}
	}
}

func (w *jsWorker) terminate() {
	w.w.Call("terminate")
	w.die("worker terminated")
}
