//go:build js && wasm

package main

import (
	"net/http"
	"syscall/js"
)

type rawJSBodyWriter interface {
	WriteRawJSBody(body js.Value)
}

// bodiless adapts syumai/workers' ResponseWriter to responses without a
// body (HEAD, and a GET of an empty shard): that writer turns a
// Content-Length header into a FixedLengthStream that must see that many
// bytes, so a HEAD's Content-Length fails the request, and a zero length
// drops the header. A null raw body keeps Content-Length as the handler
// set it; writes, which net/http would discard for HEAD, are dropped.
func bodiless(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(rawJSBodyWriter); ok {
			w = &noBodyWriter{ResponseWriter: w, head: r.Method == http.MethodHead}
		}
		h.ServeHTTP(w, r)
	})
}

type noBodyWriter struct {
	http.ResponseWriter
	head, null bool
}

func (w *noBodyWriter) WriteHeader(code int) {
	if w.head || w.Header().Get("Content-Length") == "0" {
		w.null = true
		w.ResponseWriter.(rawJSBodyWriter).WriteRawJSBody(js.Null())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noBodyWriter) Write(p []byte) (int, error) {
	if w.null {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// WriteRawJSBody lets the R2 reader hand its stream straight through.
func (w *noBodyWriter) WriteRawJSBody(body js.Value) {
	w.ResponseWriter.(rawJSBodyWriter).WriteRawJSBody(body)
}
