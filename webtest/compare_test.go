//go:build !js

package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"enmplab/core/app"
	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/search"
)

// After a short search the side-by-side view shows the unpruned merge, the
// best mask and random pruning of the same count with the numbers the
// native computation gives for the page's best mask, and the examples view
// shows the test samples the native predictions pick (or says there are none).
func TestSideBySideAndExamples(t *testing.T) {
	s := server(t, nil)
	tb := newTab(t)
	hash := "iters=2&workers=2&autorun=1"
	tb.run(t, chromedp.Navigate(s.URL+"/#"+hash))
	tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	tb.waitFor(t, "window.enmpSide && window.enmpExamples && document.getElementById('side-table') && document.querySelector('#examples .extask, #examples-none')", searchTimeout)
	rep := tb.report(t)

	// The same views computed natively for the page's best mask.
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
	pool, err := app.NewPool([]app.Worker{app.LocalWorker{E: e}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	best := search.Result{Candidate: search.Candidate{Mask: rep.Mask, Lambda: rep.BestLambda}}
	side, err := app.Compare(ctx, pool, e.Info(), best, cfg.Seed, enmp.RandomDraws)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := app.FindExamples(ctx, pool, e.Info(), best, app.ExamplesPerTask)
	if err != nil {
		t.Fatal(err)
	}
	var pageSide string
	tb.eval(t, "window.enmpSide", &pageSide)
	if want, _ := json.Marshal(side); pageSide != string(want) {
		t.Fatalf("side by side differs:\npage   %s\nnative %s", pageSide, want)
	}
	if side.Pruned != rep.Pruned || side.ENMP.Test.Mean != rep.ENMP.Test || side.Unpruned.Test.Mean != rep.Unpruned.Test {
		t.Fatalf("side by side %+v disagrees with the report %+v", side, rep)
	}
	for id, sc := range map[string]app.Scores{"side-unpruned": side.Unpruned, "side-enmp": side.ENMP, "side-random": side.Random} {
		var val, test string
		tb.eval(t, fmt.Sprintf("document.querySelector('#%s td.val').textContent", id), &val)
		tb.eval(t, fmt.Sprintf("document.querySelector('#%s td.test').textContent", id), &test)
		if val != fmt.Sprintf("%.2f", sc.Val.Mean) || test != fmt.Sprintf("%.2f", sc.Test.Mean) {
			t.Fatalf("%s shows %s / %s, native %.2f / %.2f", id, val, test, sc.Val.Mean, sc.Test.Mean)
		}
	}
	var pageEx string
	tb.eval(t, "window.enmpExamples", &pageEx)
	if want, _ := json.Marshal(ex); pageEx != string(want) {
		t.Fatalf("examples differ from the native ones")
	}
	n := 0
	for _, te := range ex.Tasks {
		n += len(te.Fixed) + len(te.Broken)
	}
	var shown, images int
	var none bool
	tb.eval(t, "document.querySelectorAll('#examples figure.example').length", &shown)
	tb.eval(t, "document.querySelectorAll('#examples figure.example img[src^=\"data:image/png;base64,\"]').length", &images)
	tb.eval(t, "!!document.getElementById('examples-none')", &none)
	if shown != n || images != n || none != (n == 0) {
		t.Fatalf("examples: %d shown (%d images), 'none' shown %v; native %d", shown, images, none, n)
	}
	t.Logf("best mask prunes %d units; test: unpruned %.2f, ENMP %.2f, random %.2f; %d examples shown",
		side.Pruned, side.Unpruned.Test.Mean, side.ENMP.Test.Mean, side.Random.Test.Mean, n)
	tb.screenshot(t, "side.png")
	tb.noConsoleErrors(t)
}
