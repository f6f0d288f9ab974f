//go:build js && wasm

// Command worker is the ENMP Lab shard server as a Cloudflare Worker: the
// handler of core/serve over the R2 bucket bound as SHARDS, wired through
// github.com/syumai/workers. Static files of public/ are served by
// wrangler's [assets] before the Worker runs. See docs/worker.md.
package main

import (
	"log"
	"time"

	"github.com/syumai/workers"

	"enmplab/core/serve"
)

func main() {
	h := serve.New(r2Storage{binding: "SHARDS"})
	// Each isolate re-checks manifest.json's etag at most every 5 s instead
	// of on every request (one R2 head saved per request under load).
	h.MaxStale = 5 * time.Second
	h.Logf = log.Printf
	workers.Serve(bodiless(h))
}
