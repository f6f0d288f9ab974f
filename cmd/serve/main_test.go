package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enmplab/core/serve/conformance"
)

func site(t *testing.T) (public, shards string) {
	t.Helper()
	public = t.TempDir()
	shards = filepath.Join(public, "shards")
	if err := conformance.WriteFixture(shards); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"index.html":    "<!doctype html><title>ENMP Lab</title>",
		"app.wasm":      "\x00asm\x01\x00\x00\x00",
		"wasm_exec.js":  "// go",
		".assetsignore": "shards\n",
	} {
		if err := os.WriteFile(filepath.Join(public, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return public, shards
}

func start(t *testing.T, public, shards string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", public, shards, func(a net.Addr) { addrc <- a }) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return base
}

func TestServerConformance(t *testing.T) {
	public, shards := site(t)
	conformance.Run(t, start(t, public, shards), shards)
}

func TestServerStatic(t *testing.T) {
	public, shards := site(t)
	base := start(t, public, shards)
	for _, c := range []struct {
		method, path string
		code         int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/index.html", 301, ""}, // FileServer canonicalises to /
		{"GET", "/app.wasm", 200, "application/wasm"},
		{"HEAD", "/app.wasm", 200, "application/wasm"},
		{"GET", "/wasm_exec.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/.assetsignore", 404, ""},
		{"GET", "/nope.html", 404, ""},
		{"GET", "/../go.mod", 404, ""},
		{"POST", "/index.html", 405, ""},
	} {
		r, err := conformance.Do(base, c.method, c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != c.code {
			t.Errorf("%s %s: %d, want %d (%q)", c.method, c.path, r.Status, c.code, r.Body)
		}
		if c.ctype != "" && r.Header.Get("Content-Type") != c.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", c.method, c.path, r.Header.Get("Content-Type"), c.ctype)
		}
		if strings.Contains(string(r.Body), "module enmplab") {
			t.Errorf("%s %s leaked go.mod", c.method, c.path)
		}
	}
}

func TestRunErrors(t *testing.T) {
	public, shards := site(t)
	for _, c := range []struct{ addr, public string }{
		{"nonsense", public},
		{"127.0.0.1:0", filepath.Join(public, "missing")},
		{"127.0.0.1:0", filepath.Join(public, "index.html")},
	} {
		if err := run(context.Background(), c.addr, c.public, shards, nil); err == nil {
			t.Errorf("run(%q, %q) succeeded", c.addr, c.public)
		}
	}
}

// The built command listens where ADDR says and stops on SIGTERM.
func TestCommandADDR(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	public, shards := site(t)
	bin := filepath.Join(t.TempDir(), "serve")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-public", public, "-shards", shards)
	cmd.Env = append(os.Environ(), "ADDR="+addr)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "http://"+addr+"/") {
		t.Fatalf("first log line %q (%v), want it to name http://%s/", line, err, addr)
	}
	go io.Copy(io.Discard, stderr)
	resp, err := http.Get("http://" + addr + "/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /manifest.json: %d", resp.StatusCode)
	}
	cmd.Process.Signal(os.Interrupt)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("still running 10 s after SIGINT")
	}
}
