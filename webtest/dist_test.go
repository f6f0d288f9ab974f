//go:build !js

package webtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// dist/enmp.html runs the default search from file:// without touching
// the network.
func TestDistFromFile(t *testing.T) {
	path, err := filepath.Abs(filepath.Join(root, "dist", "enmp.html"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (scripts/web.sh dist writes it)", err)
	}
	tb := newTab(t)
	tb.run(t, chromedp.Navigate("file://"+path+"#workers=2&autorun=1"))
	tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'done' && window.enmpReport", searchTimeout)
	for _, u := range tb.requests {
		if !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "blob:") && !strings.HasPrefix(u, "data:") {
			t.Fatalf("the offline file made a network request: %s", u)
		}
	}
	tb.noConsoleErrors(t)
	sameReport(t, tb.report(t), native(t, "workers=2&autorun=1"))
	tb.screenshot(t, "dist.png")
}
