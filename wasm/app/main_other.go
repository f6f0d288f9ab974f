//go:build !(js && wasm)

// Command app is the browser toy's wasm entry point (page and Web Worker);
// build it with GOOS=js GOARCH=wasm (scripts/web.sh build).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wasm/app runs in a browser: build it with scripts/web.sh build, then ./build.sh serve")
	os.Exit(2)
}
