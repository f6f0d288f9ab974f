//go:build amd64 || wasm

package merge

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"
)

// TestGolden pins every method's output bits on a fixed input, so that a
// search replays identically natively (amd64, with or without -tags noasm)
// and in the browser (GOOS=js GOARCH=wasm, run with go_js_wasm_exec), which
// were checked to agree. Other architectures may fuse multiply-adds inside
// gonum and are left out. If the maths changes on purpose, rerun with -v and
// paste the printed hashes.
func TestGolden(t *testing.T) {
	want := map[string]string{
		"ta": "bf8dce4010ac1eda", "avg": "77b5f7c42ecad92e", "ties": "79497c1220b79387",
		"dare_ties": "4f350f49ef1e2b33", "dare_linear": "ad31f643c64f7bef", "tsv": "fc159b8a6cf713a5",
		"iso": "67f24e146814efb5", "knots_ties": "2bb77f650b3c807f",
		// Core equals TSV here: the experts are exactly rank 4 and
		// floor(32/7) = 4, so TSV in the core basis is TSV in full space.
		"core": "fc159b8a6cf713a5", "core_iso": "0322537eae36687d",
	}
	e := experts(11, 8, 32, 32, 4)
	p := Params{TopK: 0.4, DropRate: 0.1, RelTol: 1e-6}
	for _, name := range Names() {
		m, err := New(name, p)
		if err != nil {
			t.Fatal(err)
		}
		// Survivors 0, 2..7 of 8: exercises prune-then-align and task ids.
		got, err := m.Merge(Context{Out: 32, In: 32, Seed: 5, Tasks: []int{0, 2, 3, 4, 5, 6, 7}}, append(e[:1:1], e[2:]...))
		if err != nil {
			t.Fatal(err)
		}
		h := fnv.New64a()
		for _, v := range got {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
		if s := fmt.Sprintf("%016x", h.Sum64()); s != want[name] {
			t.Errorf("%q: %q,", name, s)
		}
	}
}
