//go:build js && wasm

package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"syscall/js"
)

// await blocks the calling goroutine (never a callback) on a promise.
func await(p js.Value) (js.Value, error) {
	ok, bad := make(chan js.Value, 1), make(chan js.Value, 1)
	then := js.FuncOf(func(this js.Value, a []js.Value) any { ok <- arg0(a); return nil })
	catch := js.FuncOf(func(this js.Value, a []js.Value) any { bad <- arg0(a); return nil })
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	select {
	case v := <-ok:
		return v, nil
	case e := <-bad:
		return js.Undefined(), errors.New(jsString(e))
	}
}

func arg0(a []js.Value) js.Value {
	if len(a) == 0 {
		return js.Undefined()
	}
	return a[0]
}

func jsString(v js.Value) string {
	if v.IsUndefined() || v.IsNull() {
		return "unknown error"
	}
	return v.Call("toString").String()
}

func bytesOf(v js.Value) []byte {
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func jsBytes(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// fetchBytes GETs url, calling progress(done, total) as chunks arrive.
func fetchBytes(url string, progress func(done, total int64)) ([]byte, error) {
	resp, err := await(js.Global().Call("fetch", url))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", url, err)
	}
	if !resp.Get("ok").Bool() {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.Get("status").Int())
	}
	var total int64
	if cl := resp.Get("headers").Call("get", "Content-Length"); !cl.IsNull() {
		fmt.Sscan(cl.String(), &total)
	}
	body := resp.Get("body")
	if body.IsNull() || body.IsUndefined() {
		ab, err := await(resp.Call("arrayBuffer"))
		if err != nil {
			return nil, err
		}
		return bytesOf(js.Global().Get("Uint8Array").New(ab)), nil
	}
	reader := body.Call("getReader")
	var out []byte
	for {
		r, err := await(reader.Call("read"))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", url, err)
		}
		if r.Get("done").Bool() {
			break
		}
		out = append(out, bytesOf(r.Get("value"))...)
		if progress != nil {
			progress(int64(len(out)), total)
		}
	}
	return out, nil
}

// fromBase64 decodes an inlined asset.
func fromBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
