package conformance

import (
	"net"
	"net/url"
	"os"
	"testing"
)

// TestLive runs the suite against a running server:
//
//	ENMP_CONFORMANCE_URL=http://127.0.0.1:8787 ENMP_CONFORMANCE_DIR=public/shards go test ./core/serve/conformance -run TestLive
//
// scripts/worker.sh test sets these for the local server and for workerd.
// Only loopback servers are accepted unless ENMP_CONFORMANCE_ALLOW_REMOTE=1
// (to check a deployment).
func TestLive(t *testing.T) {
	base, dir := os.Getenv("ENMP_CONFORMANCE_URL"), os.Getenv("ENMP_CONFORMANCE_DIR")
	if base == "" {
		t.Skip("ENMP_CONFORMANCE_URL not set; scripts/worker.sh test sets it")
	}
	if dir == "" {
		t.Fatal("ENMP_CONFORMANCE_DIR must name the shard directory the server serves")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("ENMP_CONFORMANCE_URL: %v", err)
	}
	if os.Getenv("ENMP_CONFORMANCE_ALLOW_REMOTE") != "1" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("ENMP_CONFORMANCE_URL %s is not loopback; set ENMP_CONFORMANCE_ALLOW_REMOTE=1 to test a deployment", base)
		}
	}
	Run(t, base, dir)
}
