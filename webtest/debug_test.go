//go:build !js

package webtest

import (
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

func TestDebugPage(t *testing.T) {
	if os.Getenv("ENMP_DEBUG") == "" {
		t.Skip()
	}
	s := server(t, nil)
	tb := newTab(t)
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok {
			for _, a := range e.Args {
				t.Logf("console %s: %s %s", e.Type, a.Value, a.Description)
			}
		}
	})
	tb.run(t, chromedp.Navigate(s.URL+"/#"+os.Getenv("ENMP_DEBUG")))
	time.Sleep(8 * time.Second)
	var wmsg string
	tb.run(t, chromedp.Evaluate(`new Promise(res => { const w = new Worker(enmpWorkerURL); const msgs=[]; w.onmessage = e => {msgs.push(JSON.stringify(e.data)); }; w.onerror = e => msgs.push('err '+e.message); w.postMessage({type:'module', module: enmpModule}); setTimeout(()=>res(msgs.join(',')), 3000); })`, &wmsg, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	t.Log("worker:", wmsg)
	var html string
	tb.eval(t, "document.body.innerHTML.slice(0, 3000)", &html)
	t.Log(html)
	tb.screenshot(t, "debug.png")
}
