//go:build js && wasm

// Package evalworker is the Web Worker side of the browser toy: it holds an
// app.Engine (the family and an evaluator) and answers requests posted by
// the page. All logic is in core/app; this file only moves bytes.
//
// Messages in: {type:"init", catalog: Uint8Array, family, config: JSON,
// known: JSON eval.Reference or "", files: {name: Uint8Array}} and
// {type:"req", json: app.Request, files: {name: Uint8Array} (loadtest only)}.
// Messages out: {type:"ready"}, {type:"info", json: app.Info},
// {type:"resp", json: app.Response}, {type:"error", error}.
package evalworker

import (
	"encoding/json"
	"fmt"
	"syscall/js"

	"enmplab/core/app"
	"enmplab/core/enmp"
	"enmplab/core/eval"
)

func filesOf(fs js.Value) map[string][]byte {
	files := map[string][]byte{}
	if fs.Type() != js.TypeObject {
		return files
	}
	keys := js.Global().Get("Object").Call("keys", fs)
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		files[k] = bytesOf(fs.Get(k))
	}
	return files
}

func bytesOf(v js.Value) []byte {
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func post(kind, key, val string) {
	m := js.Global().Get("Object").New()
	m.Set("type", kind)
	if key != "" {
		m.Set(key, val)
	}
	js.Global().Call("postMessage", m)
}

// Serve installs the message handler and blocks forever.
func Serve() {
	msgs := make(chan js.Value, 256)
	js.Global().Set("onmessage", js.FuncOf(func(this js.Value, args []js.Value) any {
		msgs <- args[0].Get("data")
		return nil
	}))
	post("ready", "", "")
	var eng *app.Engine
	for d := range msgs {
		handle(d, &eng)
	}
}

// handle answers one message; a panic becomes an error message, so the page
// hears about it instead of waiting for a dead worker.
func handle(d js.Value, engp **app.Engine) {
	defer func() {
		if r := recover(); r != nil {
			post("error", "error", fmt.Sprintf("worker: internal error: %v", r))
		}
	}()
	eng := *engp
	{
		switch d.Get("type").String() {
		case "init":
			var c enmp.Config
			if err := json.Unmarshal([]byte(d.Get("config").String()), &c); err != nil {
				post("error", "error", "worker: bad config: "+err.Error())
				return
			}
			files := filesOf(d.Get("files"))
			var known *eval.Reference
			if k := d.Get("known"); k.Type() == js.TypeString && k.String() != "" {
				known = new(eval.Reference)
				if err := json.Unmarshal([]byte(k.String()), known); err != nil {
					post("error", "error", "worker: bad references: "+err.Error())
					return
				}
			}
			open := func(name string) ([]byte, error) {
				b, ok := files[name]
				if !ok {
					return nil, fmt.Errorf("shard %s was not loaded", name)
				}
				return b, nil
			}
			e, err := app.NewEngine(bytesOf(d.Get("catalog")), d.Get("family").String(), open, c, known)
			if err != nil {
				post("error", "error", err.Error())
				return
			}
			*engp = e
			b, _ := json.Marshal(e.Info())
			post("info", "json", string(b))
		case "req":
			var r app.Request
			var resp app.Response
			if err := json.Unmarshal([]byte(d.Get("json").String()), &r); err != nil {
				resp.Error = "worker: bad request: " + err.Error()
			} else if eng == nil {
				resp = app.Response{ID: r.ID, Error: "worker: not initialised"}
			} else {
				r.Files = filesOf(d.Get("files"))
				resp = eng.Handle(r)
			}
			b, _ := json.Marshal(resp)
			post("resp", "json", string(b))
		}
	}
}
