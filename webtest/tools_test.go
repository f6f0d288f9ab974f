//go:build !js

package webtest

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"enmplab/core/app"
	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/search"
	"enmplab/core/shard"
)

// The module card appears on hover and measures the module's leave-one-out
// effect on click; a module toggled by hand is scored at once (the shown
// fitness is the native evaluation of that mask); every export yields a
// parseable file; the tour shows unless hidden by URL.
func TestCardToggleExportsTour(t *testing.T) {
	s := server(t, nil)
	tb := newTab(t)
	hash := "iters=3&workers=2&autorun=1"
	tb.run(t, chromedp.Navigate(s.URL+"/#"+hash))
	tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	var tour bool
	tb.eval(t, "!!document.getElementById('tour')", &tour)
	if !tour {
		t.Fatal("no guided tour shown by default")
	}
	// Card: hover, then click to measure.
	tb.run(t, chromedp.Evaluate(`document.querySelector('#population rect.mod[data-layer="1"][data-task="2"]').dispatchEvent(new MouseEvent('mouseenter'))`, nil))
	tb.waitFor(t, "document.querySelector('#card .cardline') && document.querySelector('#card').textContent.includes('layer 1')", searchTimeout)
	tb.run(t, chromedp.Evaluate(`document.querySelector('#population rect.mod[data-layer="1"][data-task="2"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))`, nil))
	tb.waitFor(t, "document.querySelector('#card').textContent.includes('vs unpruned')", searchTimeout)
	var card string
	tb.eval(t, "document.querySelector('#card').textContent", &card)
	if !strings.Contains(card, "Delta W") {
		t.Fatalf("card %q", card)
	}
	// Toggle a module of the hand mask.
	var before string
	tb.eval(t, "document.getElementById('hand-fit').textContent", &before)
	tb.run(t, chromedp.Evaluate(`document.querySelector('#hand-grid rect[data-layer="0"][data-task="0"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))`, nil))
	tb.waitFor(t, "document.getElementById('hand-fit').textContent.includes('vs unpruned')", searchTimeout)
	var shown, key string
	tb.eval(t, "document.getElementById('hand-fit').textContent", &shown)
	tb.eval(t, "document.getElementById('hand-grid').getAttribute('data-key')", &key)
	rep := tb.report(t)
	m, err := search.ParseMaskKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if m.Get(0, 0) == rep.Mask.Get(0, 0) {
		t.Fatalf("hand mask %s did not flip module (0,0) of the best mask %s", key, rep.Mask.Key())
	}
	f, err := bundle.LoadDir(shardDir, "vision")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := app.ParseHash(hash)
	cfg, err := st.Config(tuned(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := app.NewEngineFamily(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := e.Handle(app.Request{Op: "eval", Mask: key})
	if w := fmt.Sprintf("%.2f (", want.Eval.Mean); shown == before || !strings.Contains(shown, w) {
		t.Fatalf("hand fitness %q (before %q), native %s", shown, before, w)
	}
	// Exports.
	get := func(kind string) map[string]string {
		tb.run(t, chromedp.Click("#export-"+kind, chromedp.ByID))
		tb.waitFor(t, fmt.Sprintf("window.enmpExported && enmpExported[%q]", kind), searchTimeout)
		var out map[string]string
		tb.eval(t, fmt.Sprintf("enmpExported[%q]", kind), &out)
		return out
	}
	var mask app.MaskExport
	if err := json.Unmarshal([]byte(get("mask")["text"]), &mask); err != nil || !reflect.DeepEqual(mask.Indices, rep.Indices) && len(rep.Indices) > 0 {
		t.Fatalf("mask export %+v (%v), report indices %v", mask, err, rep.Indices)
	}
	rows, err := csv.NewReader(strings.NewReader(get("log-csv")["text"])).ReadAll()
	if err != nil || len(rows) != 1+3*8 {
		t.Fatalf("run log csv: %d rows, %v", len(rows), err)
	}
	var log struct{ Candidates []app.LogRow }
	if err := json.Unmarshal([]byte(get("log-json")["text"]), &log); err != nil || len(log.Candidates) != 3*8 {
		t.Fatalf("run log json: %d candidates, %v", len(log.Candidates), err)
	}
	ad, err := base64.StdEncoding.DecodeString(get("adapter")["base64"])
	if err != nil {
		t.Fatal(err)
	}
	sf, err := shard.Decode("adapter_model.safetensors", ad)
	if err != nil || len(sf.Tensors) != 2*4*f.Config.Layers {
		t.Fatalf("adapter: %v", err)
	}
	ac, err := shard.ParseAdapterConfig([]byte(get("adapter-config")["text"]))
	if err != nil || ac.R != f.Config.Width {
		t.Fatalf("adapter config: %+v %v", ac, err)
	}
	// The exported adapter equals the one computed natively for the same mask.
	nm, _, err := app.MergedAdapter(e.Evaluator(), f, rep.Mask, rep.BestLambda)
	if err != nil || !bytes.Equal(nm, ad) {
		t.Fatalf("browser adapter differs from the native one (%v)", err)
	}
	tb.screenshot(t, "tools.png")
	tb.noConsoleErrors(t)

	// Same tab, new hash: the page restarts with the tour hidden.
	tb.run(t, chromedp.Navigate(s.URL+"/#iters=3&workers=2&tour_hide=true"))
	tb.waitFor(t, "!document.getElementById('tour') && window.enmpStats && enmpStats.phase === 'ready'", searchTimeout)
}

func tuned(t *testing.T) *enmp.Tuned {
	t.Helper()
	tu, err := enmp.ReadTuned(filepath.Join(root, "public", "tuned.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tu
}
