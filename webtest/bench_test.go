//go:build !js

package webtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// rssOfChromium sums the resident memory of Chromium's renderer processes
// (the tab and its Web Workers live in one renderer process).
func rssOfChromium() int64 {
	var sum int64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "chromium") || !strings.Contains(string(cmd), "--type=renderer") {
			continue
		}
		st, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				sum += kb * 1024
			}
		}
	}
	return sum
}

// TestBench measures the default search in headless Chromium with 1 and 2
// workers (scripts/web.sh bench); it prints a Markdown table.
func TestBench(t *testing.T) {
	if os.Getenv("ENMP_BENCH") == "" {
		t.Skip("set ENMP_BENCH=1 (scripts/web.sh bench)")
	}
	fmt.Println("| workers | workers ready (s) | navigation to first generation (s) | navigation to done (s) | search (s) | evaluations/s | transferred before first generation (MB) | transferred in all (MB) | peak renderer RSS (MB) |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range []int{1, 2} {
		s := server(t, nil)
		tb := newTab(t)
		var mu sync.Mutex
		var bytes float64
		chromedp.ListenTarget(tb.ctx, func(ev any) {
			if e, ok := ev.(*network.EventLoadingFinished); ok {
				mu.Lock()
				bytes += e.EncodedDataLength
				mu.Unlock()
			}
		})
		stop := make(chan struct{})
		var peak int64
		go func() {
			for {
				if r := rssOfChromium(); r > peak {
					peak = r
				}
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		tb.run(t, chromedp.Navigate(fmt.Sprintf("%s/#workers=%d&autorun=1", s.URL, n)))
		tb.waitFor(t, "window.enmpStats && enmpStats.gens >= 1", 10*time.Minute)
		mu.Lock()
		first := bytes
		mu.Unlock()
		tb.waitFor(t, "window.enmpStats && enmpStats.phase === 'done'", 10*time.Minute)
		close(stop)
		var st struct {
			WorkersReadyMs, FirstGenMs, DoneMs, SearchMs float64
			Evals                                        int
		}
		tb.eval(t, "enmpStats", &st)
		mu.Lock()
		fmt.Printf("| %d | %.2f | %.2f | %.2f | %.2f | %.1f | %.2f | %.2f | %.0f |\n", n, st.WorkersReadyMs/1000, st.FirstGenMs/1000, st.DoneMs/1000, st.SearchMs/1000,
			float64(st.Evals)/(st.SearchMs/1000), first/1e6, bytes/1e6, float64(peak)/1e6)
		mu.Unlock()
		tb.noConsoleErrors(t)
	}
}
