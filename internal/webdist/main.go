// Command webdist writes the single-file offline build of the browser toy:
// public/index.html with the stylesheet, wasm_exec.js, boot.js, the gzipped
// wasm and one family's shards inlined, so that it runs from file:// with
// no network (scripts/web.sh dist).
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"enmplab/core/bundle"
	"enmplab/core/shard"
)

func main() {
	public := flag.String("public", "public", "built static site (scripts/web.sh build)")
	shards := flag.String("shards", "public/shards", "shard directory holding manifest.json")
	family := flag.String("family", "vision", "family to inline")
	out := flag.String("out", "dist/enmp.html", "output file")
	flag.Parse()
	if err := run(*public, *shards, *family, *out); err != nil {
		fmt.Fprintln(os.Stderr, "webdist:", err)
		os.Exit(1)
	}
}

func run(public, shards, family, out string) error {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(public, name)) }
	index, err := read("index.html")
	if err != nil {
		return err
	}
	css, err := read("style.css")
	if err != nil {
		return err
	}
	exec, err := read("wasm_exec.js")
	if err != nil {
		return err
	}
	boot, err := read("boot.js")
	if err != nil {
		return err
	}
	wasm, err := read("enmp.wasm.gz")
	if err != nil {
		return fmt.Errorf("%v (run scripts/web.sh build first)", err)
	}
	cat, err := bundle.ReadCatalog(shards)
	if err != nil {
		return err
	}
	m, err := cat.Family(family)
	if err != nil {
		return err
	}
	one := &bundle.Catalog{Format: cat.Format, Families: []*shard.Manifest{m}}
	catBytes, err := one.Marshal()
	if err != nil {
		return err
	}
	files := map[string]string{}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(shards, f.Name))
		if err != nil {
			return err
		}
		files[f.Name] = base64.StdEncoding.EncodeToString(b)
	}
	inline := map[string]any{
		"wasm": base64.StdEncoding.EncodeToString(wasm), "exec": string(exec),
		"catalog": base64.StdEncoding.EncodeToString(catBytes), "files": files,
	}
	if t, err := read("tuned.gen.json"); err == nil {
		inline["tuned"] = string(t)
	}
	js, err := json.Marshal(inline) // escapes <, > and & so no "</script>" can appear
	if err != nil {
		return err
	}
	for _, s := range [][]byte{css, exec, boot} {
		if bytes.Contains(bytes.ToLower(s), []byte("</s")) {
			return fmt.Errorf("an inlined asset contains \"</s\"; cannot inline it safely")
		}
	}
	html := string(index)
	for _, r := range []struct{ old, new string }{
		{`<link rel="stylesheet" href="style.css">`, "<style>\n" + string(css) + "</style>"},
		{`<script src="wasm_exec.js"></script>`, "<script>window.ENMP_INLINE=" + string(js) + ";</script>\n<script>\n" + string(exec) + "</script>"},
		{`<script src="boot.js"></script>`, "<script>\n" + string(boot) + "</script>"},
	} {
		if !strings.Contains(html, r.old) {
			return fmt.Errorf("index.html lacks %s", r.old)
		}
		html = strings.Replace(html, r.old, r.new, 1)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(html), 0o644); err != nil {
		return err
	}
	fmt.Printf("webdist: %s, %d bytes (%s family inlined)\n", out, len(html), family)
	return nil
}
