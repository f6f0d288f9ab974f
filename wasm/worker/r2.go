//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"syscall/js"

	"github.com/syumai/workers/cloudflare"

	"enmplab/core/serve"
)

// r2Storage is serve.Storage over the R2 bucket bound as binding; object
// keys are the flat shard names.
type r2Storage struct {
	binding string
}

func (s r2Storage) bucket() (js.Value, error) {
	b := cloudflare.GetBinding(s.binding)
	if b.IsUndefined() || b.IsNull() {
		return js.Value{}, fmt.Errorf("R2 binding %s is not configured (see wrangler.toml [[r2_buckets]])", s.binding)
	}
	return b, nil
}

// await waits for a JavaScript promise. It must not run on the event loop's
// goroutine; handlers run on their own.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "rejected"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}

func info(o js.Value) serve.Info {
	return serve.Info{Name: o.Get("key").String(), Size: int64(o.Get("size").Float()), Version: o.Get("etag").String()}
}

func (s r2Storage) List(ctx context.Context) ([]serve.Info, error) {
	b, err := s.bucket()
	if err != nil {
		return nil, err
	}
	var out []serve.Info
	opts := js.Global().Get("Object").New()
	opts.Set("limit", 1000)
	for {
		v, err := await(b.Call("list", opts))
		if err != nil {
			return nil, fmt.Errorf("R2 list: %w", err)
		}
		objs := v.Get("objects")
		for i := 0; i < objs.Length(); i++ {
			in := info(objs.Index(i))
			if serve.CheckName(in.Name) == nil {
				out = append(out, in)
			}
		}
		if !v.Get("truncated").Truthy() {
			break
		}
		opts.Set("cursor", v.Get("cursor"))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s r2Storage) Stat(ctx context.Context, name string) (serve.Info, error) {
	b, err := s.bucket()
	if err != nil {
		return serve.Info{}, err
	}
	v, err := await(b.Call("head", name))
	if err != nil {
		return serve.Info{}, fmt.Errorf("R2 head %s: %w", name, err)
	}
	if v.IsNull() || v.IsUndefined() {
		return serve.Info{}, fmt.Errorf("R2 object %s: %w", name, fs.ErrNotExist)
	}
	return info(v), nil
}

func (s r2Storage) Open(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	b, err := s.bucket()
	if err != nil {
		return nil, err
	}
	var v js.Value
	if off == 0 && n < 0 {
		v, err = await(b.Call("get", name))
	} else {
		rng := js.Global().Get("Object").New()
		rng.Set("offset", off)
		if n >= 0 {
			rng.Set("length", n)
		}
		opts := js.Global().Get("Object").New()
		opts.Set("range", rng)
		v, err = await(b.Call("get", name, opts))
	}
	if err != nil {
		return nil, fmt.Errorf("R2 get %s: %w", name, err)
	}
	if v.IsNull() || v.IsUndefined() {
		return nil, fmt.Errorf("R2 object %s: %w", name, fs.ErrNotExist)
	}
	return &streamReader{stream: v.Get("body"), n: n}, nil
}

// streamReader reads a JavaScript ReadableStream of Uint8Array chunks. As an
// io.WriterTo it hands the stream itself to a response writer that accepts
// a raw JavaScript body (syumai/workers' ResponseWriter), so R2 bytes go to
// the client without passing through Go.
type streamReader struct {
	stream js.Value
	reader js.Value // set on first Read
	buf    []byte
	done   bool
	n      int64 // expected length, < 0 unknown
}

func (r *streamReader) WriteTo(w io.Writer) (int64, error) {
	if rw, ok := w.(rawJSBodyWriter); ok && r.reader.IsUndefined() && r.n >= 0 {
		rw.WriteRawJSBody(r.stream)
		r.done = true
		return r.n, nil
	}
	return io.Copy(struct{ io.Writer }{w}, struct{ io.Reader }{r})
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if r.reader.IsUndefined() {
			r.reader = r.stream.Call("getReader")
		}
		res, err := await(r.reader.Call("read"))
		if err != nil {
			return 0, fmt.Errorf("R2 body: %w", err)
		}
		if res.Get("done").Bool() {
			r.done = true
			return 0, io.EOF
		}
		chunk := res.Get("value")
		r.buf = make([]byte, chunk.Get("byteLength").Int())
		js.CopyBytesToGo(r.buf, chunk)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *streamReader) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	if !r.reader.IsUndefined() {
		r.reader.Call("cancel")
	} else {
		r.stream.Call("cancel")
	}
	return nil
}
