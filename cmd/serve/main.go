// Command serve is the local ENMP Lab server: the static site in public/
// and the shards through the same handler the Cloudflare Worker runs
// (core/serve), over the local filesystem. One command, no account:
//
//	go run ./cmd/serve                 # http://127.0.0.1:8080
//	ADDR=127.0.0.1:9000 go run ./cmd/serve -public public -shards public/shards
//
// Routes: /manifest.json and /shards/{name} by core/serve; everything else
// from the public directory (.wasm as application/wasm, dot-files hidden).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"enmplab/core/serve"
)

// DefaultAddr is where the server listens unless ADDR names another address.
const DefaultAddr = "127.0.0.1:8080"

func main() {
	log.SetFlags(0)
	log.SetPrefix("serve: ")
	public := flag.String("public", "public", "directory of the static site")
	shards := flag.String("shards", "", "shard directory holding manifest.json (default: <public>/shards)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: ADDR=host:port serve [-public DIR] [-shards DIR]\n\nListens on $ADDR (default %s).\n\n", DefaultAddr)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *shards == "" {
		*shards = filepath.Join(*public, "shards")
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = DefaultAddr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, addr, *public, *shards, func(a net.Addr) {
		log.Printf("serving %s and shards from %s on http://%s/", *public, *shards, a)
	}); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx is done, then shuts down gracefully. ready is called
// with the bound address once the server accepts connections.
func run(ctx context.Context, addr, public, shards string, ready func(net.Addr)) error {
	for _, d := range []string{public, shards} {
		if fi, err := os.Stat(d); err != nil {
			if errors.Is(err, os.ErrNotExist) && d == shards {
				log.Printf("warning: shard directory %s does not exist yet: /manifest.json and /shards/ answer 404", d)
				continue
			}
			return err
		} else if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", d)
		}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("ADDR %q: %v (want host:port, e.g. %s)", addr, err, DefaultAddr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           NewHandler(public, shards),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.Default(),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// NewHandler routes /manifest.json and /shards/ to the shard handler over
// shardDir and everything else to the static files of publicDir.
func NewHandler(publicDir, shardDir string) http.Handler {
	shards := serve.New(serve.Dir(shardDir))
	static := http.FileServer(http.Dir(publicDir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if p == "/"+serve.ManifestFile || strings.HasPrefix(p, serve.ShardPrefix) || p == strings.TrimSuffix(serve.ShardPrefix, "/") {
			shards.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, fmt.Sprintf("method %s not allowed: use GET or HEAD", strconvQuote(r.Method)), http.StatusMethodNotAllowed)
			return
		}
		for _, seg := range strings.Split(r.URL.Path, "/") {
			if strings.HasPrefix(seg, ".") {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
		}
		if t := mime.TypeByExtension(filepath.Ext(r.URL.Path)); t != "" {
			w.Header().Set("Content-Type", t)
		}
		if strings.HasSuffix(r.URL.Path, ".wasm") {
			w.Header().Set("Content-Type", "application/wasm")
		}
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	})
}

func strconvQuote(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return fmt.Sprintf("%q", s)
}
