//go:build !js

package webtest

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const searchTimeout = 6 * time.Minute

// The default search (vision, task arithmetic, CMA-ES, population 8, 30
// iterations, seed 42) runs from one URL, draws every view, and ends with
// the native CLI's best mask and accuracies.
func TestDefaultSearchMatchesNative(t *testing.T) {
	s := server(t, nil)
	tb := newTab(t)
	hash := "workers=2&autorun=1"
	tb.run(t, chromedp.Navigate(s.URL+"/#"+hash))
	tb.waitFor(t, "window.enmpStats && enmpStats.gens >= 2", searchTimeout)
	var pruned, cands int
	tb.eval(t, "document.querySelectorAll('#population rect.mod.pruned').length", &pruned)
	tb.eval(t, "document.querySelectorAll('#population figure.cand').length", &cands)
	var pts string
	tb.eval(t, "document.getElementById('best-line').getAttribute('points')", &pts)
	if cands != 8 || pruned == 0 || len(pts) == 0 {
		t.Fatalf("after two generations: %d candidates drawn, %d pruned modules, curve %q", cands, pruned, pts)
	}
	tb.screenshot(t, "running.png")
	tb.waitFor(t, "window.enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	var title string
	tb.eval(t, "document.title", &title)
	if title != "ENMP - done (30 gens)" {
		t.Fatalf("title %q", title)
	}
	tb.screenshot(t, "done.png")
	tb.noConsoleErrors(t)
	sameReport(t, tb.report(t), native(t, hash))
}

// One worker gives the same run as several, and a worker killed mid-run is
// replaced and its candidate re-queued without changing anything.
func TestOneWorkerAndWorkerDeath(t *testing.T) {
	s := server(t, nil)
	hash := "iters=6&seed=7&workers=1&autorun=1"
	nat := native(t, hash)
	tb := newTab(t)
	tb.run(t, chromedp.Navigate(s.URL+"/#"+hash))
	tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	sameReport(t, tb.report(t), nat)

	tb2 := newTab(t)
	tb2.run(t, chromedp.Navigate(s.URL+"/#iters=6&seed=7&workers=2"))
	tb2.waitFor(t, "window.enmpStats && enmpStats.phase === 'ready'", searchTimeout)
	tb2.run(t, chromedp.Click("#step", chromedp.ByID))
	tb2.waitFor(t, "enmpStats.gens === 1", searchTimeout)
	tb2.eval(t, "enmpDebug.kill(0), enmpDebug.kill(1), true", nil)
	tb2.run(t, chromedp.Click("#run", chromedp.ByID))
	tb2.waitFor(t, "enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	sameReport(t, tb2.report(t), nat)
}

// Step, run, pause and resume; the tab title follows.
func TestPauseStepResume(t *testing.T) {
	s := server(t, nil)
	tb := newTab(t)
	hash := "iters=8&seed=3"
	tb.run(t, chromedp.Navigate(s.URL+"/#"+hash))
	tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'ready'", searchTimeout)
	tb.run(t, chromedp.Click("#step", chromedp.ByID))
	tb.waitFor(t, "enmpStats.gens === 1 && enmpStats.phase === 'paused'", searchTimeout)
	tb.run(t, chromedp.Click("#step", chromedp.ByID))
	tb.waitFor(t, "enmpStats.gens === 2 && document.title === 'ENMP - gen 2/8'", searchTimeout)
	tb.run(t, chromedp.Click("#run", chromedp.ByID), chromedp.Click("#pause", chromedp.ByID))
	tb.waitFor(t, "enmpStats.phase === 'paused'", searchTimeout)
	var g1, g2 int
	tb.eval(t, "enmpStats.gens", &g1)
	time.Sleep(time.Second)
	tb.eval(t, "enmpStats.gens", &g2)
	if g1 != g2 || g1 >= 8 {
		t.Fatalf("paused run moved on: %d -> %d generations", g1, g2)
	}
	tb.run(t, chromedp.Click("#run", chromedp.ByID))
	tb.waitFor(t, "enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	sameReport(t, tb.report(t), native(t, hash))
	tb.noConsoleErrors(t)
}

// A reload resumes from the checkpoint in local storage and finishes with
// the same result as an uninterrupted run.
func TestReloadResumes(t *testing.T) {
	s := server(t, nil)
	tb := newTab(t)
	hash := "iters=10&seed=11"
	tb.run(t, chromedp.Navigate(s.URL+"/#"+hash))
	tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'ready'", searchTimeout)
	for i := 1; i <= 3; i++ {
		tb.run(t, chromedp.Click("#step", chromedp.ByID))
		tb.waitFor(t, "enmpStats.gens === "+string(rune('0'+i)), searchTimeout)
	}
	tb.run(t, chromedp.Reload())
	tb.waitFor(t, "window.enmpStats && enmpStats.resumedGens === 3 && enmpStats.gens === 3", searchTimeout)
	tb.run(t, chromedp.Click("#run", chromedp.ByID))
	tb.waitFor(t, "enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	sameReport(t, tb.report(t), native(t, hash))
}

// A shard whose bytes do not match the manifest is refused with a message.
func TestCorruptShardRefused(t *testing.T) {
	s := server(t, func(name string, b []byte) []byte {
		c := append([]byte(nil), b...)
		c[len(c)/2] ^= 0xff
		return c
	})
	tb := newTab(t)
	tb.run(t, chromedp.Navigate(s.URL+"/#autorun=1"))
	tb.waitFor(t, "(document.getElementById('error')||{}).textContent", 30*time.Second)
	var msg string
	tb.eval(t, "document.getElementById('error').textContent", &msg)
	if !contains(msg, "refused") || !(contains(msg, "checksum") || contains(msg, "SHA-256")) {
		t.Fatalf("error message %q", msg)
	}
	tb.screenshot(t, "refused.png")
}
