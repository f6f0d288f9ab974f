//go:build js && wasm

// Package cachestorage is loader.Cache over the browser's Cache Storage
// (caches.open), so verified shards survive reloads and serve offline
// visits. Entries are keyed by their absolute URL under Base.
package cachestorage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall/js"

	"enmplab/core/loader"
)

// Cache is a named Cache Storage cache. Use it from a goroutine other than
// the one running JavaScript callbacks (its calls wait on promises).
type Cache struct {
	Name string // e.g. "enmp-shards-v1"
	Base string // the loader's Base URL
}

var _ loader.Cache = (*Cache)(nil)

// Available reports whether this context has Cache Storage (secure
// contexts only: https or localhost).
func Available() bool {
	c := js.Global().Get("caches")
	return !c.IsUndefined() && !c.IsNull()
}

func await(ctx context.Context, p js.Value) (js.Value, error) {
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
		msg := "promise rejected"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

func (c *Cache) open(ctx context.Context) (js.Value, error) {
	if !Available() {
		return js.Value{}, errors.New("cachestorage: Cache Storage is not available here (not a secure context?)")
	}
	v, err := await(ctx, js.Global().Get("caches").Call("open", c.Name))
	if err != nil {
		return js.Value{}, fmt.Errorf("cachestorage: open %s: %w", c.Name, err)
	}
	return v, nil
}

func (c *Cache) url(key string) string { return strings.TrimSuffix(c.Base, "/") + "/" + key }

// Get implements loader.Cache.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	cache, err := c.open(ctx)
	if err != nil {
		return nil, false, err
	}
	resp, err := await(ctx, cache.Call("match", c.url(key)))
	if err != nil {
		return nil, false, fmt.Errorf("cachestorage: match %s: %w", key, err)
	}
	if resp.IsUndefined() || resp.IsNull() {
		return nil, false, nil
	}
	ab, err := await(ctx, resp.Call("arrayBuffer"))
	if err != nil {
		return nil, false, fmt.Errorf("cachestorage: read %s: %w", key, err)
	}
	u8 := js.Global().Get("Uint8Array").New(ab)
	b := make([]byte, u8.Get("byteLength").Int())
	js.CopyBytesToGo(b, u8)
	return b, true, nil
}

// Put implements loader.Cache.
func (c *Cache) Put(ctx context.Context, key string, b []byte) error {
	cache, err := c.open(ctx)
	if err != nil {
		return err
	}
	u8 := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u8, b)
	init := js.Global().Get("Object").New()
	headers := js.Global().Get("Object").New()
	headers.Set("Content-Type", "application/octet-stream")
	init.Set("headers", headers)
	resp := js.Global().Get("Response").New(u8, init)
	if _, err := await(ctx, cache.Call("put", c.url(key), resp)); err != nil {
		return fmt.Errorf("cachestorage: put %s: %w", key, err)
	}
	return nil
}

// Delete implements loader.Cache.
func (c *Cache) Delete(ctx context.Context, key string) error {
	cache, err := c.open(ctx)
	if err != nil {
		return err
	}
	if _, err := await(ctx, cache.Call("delete", c.url(key))); err != nil {
		return fmt.Errorf("cachestorage: delete %s: %w", key, err)
	}
	return nil
}
