//go:build js && wasm

// Command worker is the ENMP Lab shard server as a Cloudflare Worker: the
// handler of core/serve over the R2 bucket bound as SHARDS, wired through
// github.com/syumai/workers. Static files of public/ are served by
// wrangler's [assets] before the Worker runs. See docs/worker.md.
package main

import (
	"log"

	"github.com/syumai/workers"

	"enmplab/core/serve"
)

func main() {
	// syumai/workers starts this program for each request (see entry.mjs),
	// so the handler reads manifest.json from R2 each time.
	h := serve.New(r2Storage{binding: "SHARDS"})
	h.Logf = log.Printf
	h.NoGzip = true // the edge compresses; workerd always sends Accept-Encoding
	workers.Serve(bodiless(h))
}
