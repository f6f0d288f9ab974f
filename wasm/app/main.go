//go:build js && wasm

// Command app is the browser toy's one wasm binary: in a page it runs the
// UI and the search (wasm/app/page.go), in a Web Worker the evaluator
// (wasm/evalworker). One binary is downloaded and compiled once, and the
// compiled module is posted to every worker.
package main

import (
	"syscall/js"

	"enmplab/wasm/evalworker"
)

func main() {
	if js.Global().Get("document").IsUndefined() {
		evalworker.Serve()
		return
	}
	runPage()
}
