package search

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMaskBasics(t *testing.T) {
	m := NewMask(4, 8)
	m.Set(1, 3, true)
	m.Set(3, 7, true)
	m.Set(0, 0, true)
	if got, want := m.Indices(), []int{0, 11, 31}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Indices = %v, want %v", got, want)
	}
	if m.Count() != 3 || !m.Get(1, 3) || m.Get(1, 4) {
		t.Fatal("Count/Get")
	}
	if l, tk, p := m.Unit(11); l != 1 || tk != 3 || p != -1 {
		t.Fatalf("Unit(11) = %d,%d,%d", l, tk, p)
	}
	m2, err := MaskFromIndices(4, 8, []int{31, 0, 11})
	if err != nil || !m2.Equal(m) {
		t.Fatalf("MaskFromIndices: %v %v", m2, err)
	}
	for _, bad := range [][]int{{32}, {-1}, {3, 3}} {
		if _, err := MaskFromIndices(4, 8, bad); err == nil {
			t.Errorf("MaskFromIndices(%v) accepted", bad)
		}
	}
	if _, err := MaskFromIndices(0, 8, nil); err == nil {
		t.Error("zero layers accepted")
	}
	g := m.Grid()
	if len(g) != 4 || len(g[0]) != 8 || !g[1][3] || !g[3][7] || g[2][2] {
		t.Fatalf("Grid = %v", g)
	}
	// Key round trip and canonicality.
	k := m.Key()
	if k != "4x8:01080080" {
		t.Fatalf("Key = %q", k)
	}
	back, err := ParseMaskKey(k)
	if err != nil || !back.Equal(m) || back.Key() != k {
		t.Fatalf("ParseMaskKey: %v %v", back, err)
	}
	for _, bad := range []string{"4x8", "4x8:0108008", "0x8:", "4x8:zz080080", "3x3:ff03"} {
		if _, err := ParseMaskKey(bad); err == nil {
			t.Errorf("ParseMaskKey(%q) accepted", bad)
		}
	}
	// JSON.
	b, err := json.Marshal(m)
	if err != nil || string(b) != `{"layers":4,"tasks":8,"pruned":[0,11,31]}` {
		t.Fatalf("JSON = %s %v", b, err)
	}
	var jm Mask
	if err := json.Unmarshal(b, &jm); err != nil || !jm.Equal(m) {
		t.Fatalf("JSON round trip: %v %v", jm, err)
	}
	if err := json.Unmarshal([]byte(`{"layers":4,"tasks":8,"pruned":[1,1]}`), &jm); err == nil {
		t.Error("duplicate JSON index accepted")
	}
	e, _ := json.Marshal(NewMask(2, 2))
	if string(e) != `{"layers":2,"tasks":2,"pruned":[]}` {
		t.Errorf("empty mask JSON = %s", e)
	}
	// Clone independence.
	c := m.Clone()
	c.Set(2, 2, true)
	if m.Get(2, 2) {
		t.Error("Clone shares bits")
	}
}

func TestProjMask(t *testing.T) {
	m := NewMask(2, 3)
	m.Set(1, 2, true)
	p, err := m.Expand(4)
	if err != nil {
		t.Fatal(err)
	}
	if p.Units() != 24 || p.Count() != 4 || !p.Get(1, 2) || !p.Pruned(1, 2, 3) || p.Pruned(0, 0, 0) {
		t.Fatalf("Expand: %v", p.Indices())
	}
	if got := p.Indices(); !reflect.DeepEqual(got, []int{20, 21, 22, 23}) {
		t.Fatalf("proj indices %v", got)
	}
	if l, tk, pr := p.Unit(22); l != 1 || tk != 2 || pr != 2 {
		t.Fatalf("Unit(22) = %d %d %d", l, tk, pr)
	}
	p.SetUnit(21, false)
	if p.Get(1, 2) || !p.Pruned(1, 2, 0) || p.Pruned(1, 2, 1) {
		t.Fatal("partial module")
	}
	if !m.Pruned(1, 2, 3) {
		t.Fatal("module mask must answer for every projection")
	}
	b, _ := json.Marshal(p)
	var q Mask
	if err := json.Unmarshal(b, &q); err != nil || !q.Equal(p) {
		t.Fatalf("proj JSON %s: %v", b, err)
	}
	if k, err := ParseMaskKey(p.Key()); err != nil || !k.Equal(p) {
		t.Fatalf("proj key %q: %v", p.Key(), err)
	}
	if _, err := p.Expand(2); err == nil {
		t.Error("double expand accepted")
	}
}

func TestDecode(t *testing.T) {
	z := []float64{0.5, -1, 2, 0.5, 0.5, -0.2, 3, 0.1, -5, 0.5}
	// k = floor(0.3*10) = 3: the three largest are 3 (6), 2 (2), then the
	// first 0.5 (index 0) by the lower-index tie rule.
	idx, err := DecodeUnits(z, 0.3, 0)
	if err != nil || !reflect.DeepEqual(idx, []int{0, 2, 6}) {
		t.Fatalf("DecodeUnits = %v %v", idx, err)
	}
	// Threshold removes entries among the top k: k is a ceiling.
	if idx, _ := DecodeUnits(z, 0.3, 1); !reflect.DeepEqual(idx, []int{2, 6}) {
		t.Fatalf("threshold: %v", idx)
	}
	if idx, _ := DecodeUnits(z, 0, -10); len(idx) != 0 {
		t.Fatalf("topk 0: %v", idx)
	}
	for _, bad := range []float64{-0.1, 1.1} {
		if _, err := DecodeUnits(z, bad, 0); err == nil {
			t.Errorf("topk %v accepted", bad)
		}
	}
	d := Decoder{Layers: 2, Tasks: 5, TopK: 0.3}
	m, lambda, err := d.Decode(z)
	if err != nil || lambda != 0 || !reflect.DeepEqual(m.Indices(), []int{0, 2, 6}) {
		t.Fatalf("Decode: %v %v %v", m.Indices(), lambda, err)
	}
	d.LambdaGene = true
	if _, _, err := d.Decode(z); err == nil {
		t.Error("short genome accepted")
	}
	m, lambda, err = d.Decode(append(append([]float64(nil), z...), 0))
	if err != nil || lambda != 1.5 || m.Count() != 3 {
		t.Fatalf("lambda gene: %v %v", lambda, err)
	}
}
