package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// raw builds a safetensors file from a header string and a data section.
func raw(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func sample() *File {
	return &File{
		Metadata: map[string]string{"format": "pt", "task": "digits"},
		Tensors: []Tensor{
			FromF32("w", []int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}),
			FromU8("pixels", []int{3}, []uint8{0, 127, 255}),
			FromI32("labels", []int{2}, []int32{-7, math.MaxInt32}),
			FromF32("scalar", nil, []float32{42}),
			FromF32("empty", []int{0, 5}, nil),
			FromI64("big", []int{1}, []int64{math.MinInt64}),
		},
	}
}

func TestRoundTrip(t *testing.T) {
	f := sample()
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", hl)
	}
	g, err := Decode("sample.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, g.Metadata) {
		t.Errorf("metadata %v, want %v", g.Metadata, f.Metadata)
	}
	// Decode returns the tensors in data order, the order Encode packed them.
	var names []string
	for _, tn := range g.Tensors {
		names = append(names, tn.Name)
	}
	want := []string{"w", "pixels", "labels", "scalar", "empty", "big"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	for _, tw := range f.Tensors {
		tg, ok := g.Get(tw.Name)
		if !ok {
			t.Fatalf("missing %q", tw.Name)
		}
		if tg.DType != tw.DType || !bytes.Equal(tg.Data, tw.Data) || len(tg.Shape) != len(tw.Shape) {
			t.Errorf("%q: got %+v, want %+v", tw.Name, tg, tw)
		}
	}
	w, err := g.F32("w", 2, 3)
	if err != nil || w[2] != 3.5 || !math.IsInf(float64(w[3]), 1) {
		t.Errorf("F32 w = %v, %v", w, err)
	}
	if _, err := g.F32("w", 2, -1); err != nil {
		t.Errorf("wildcard dimension: %v", err)
	}
	if v, err := g.F32("scalar"); err != nil || v[0] != 42 {
		t.Errorf("scalar = %v, %v", v, err)
	}
	if v, err := g.I32("labels", 2); err != nil || v[0] != -7 || v[1] != math.MaxInt32 {
		t.Errorf("labels = %v, %v", v, err)
	}
	if v, err := g.U8("pixels", 3); err != nil || v[2] != 255 {
		t.Errorf("pixels = %v, %v", v, err)
	}
	if v, err := g.I64("big", 1); err != nil || v[0] != math.MinInt64 {
		t.Errorf("big = %v, %v", v, err)
	}
	if v, err := g.F32("empty", 0, 5); err != nil || len(v) != 0 {
		t.Errorf("empty = %v, %v", v, err)
	}
	b2, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("re-encoding a decoded file changed its bytes")
	}
}

func TestTypedGetterErrors(t *testing.T) {
	b, _ := Encode(sample())
	f, err := Decode("s", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(f.F32("nope", 1)), `no tensor "nope"`},
		{second(f.F32("labels", 2)), `"labels" is I32, want F32`},
		{second(f.F32("w", 3, 2)), `"w" has shape [2 3], want [3 2]`},
		{second(f.F32("w", 6)), `"w" has shape [2 3], want [6]`},
		{second(f.U8("pixels")), `want []`},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want it to mention %q", c.err, c.want)
		}
	}
	if _, err := f.Tensors[0].I32(); err == nil {
		t.Error("Tensor.I32 on F32 tensor succeeded")
	}
}

func second[T any](_ T, err error) error { return err }

func TestEncodeDeterministic(t *testing.T) {
	// Map iteration order must not leak into the output.
	first, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b, _ := Encode(sample())
		if !bytes.Equal(b, first) {
			t.Fatal("Encode is not deterministic")
		}
	}
	f := &File{
		Metadata: map[string]string{"b": "2", "a": "<&>"},
		Tensors:  []Tensor{FromU8("z", []int{2}, []uint8{1, 2}), FromF32("a", []int{1}, []float32{1})},
	}
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"__metadata__":{"a":"<&>","b":"2"},"a":{"data_offsets":[2,6],"dtype":"F32","shape":[1]},"z":{"data_offsets":[0,2],"dtype":"U8","shape":[2]}}`
	want += strings.Repeat(" ", (8-len(want)%8)%8)
	if got := string(b[8 : 8+binary.LittleEndian.Uint64(b)]); got != want {
		t.Errorf("header\n%q\nwant\n%q", got, want)
	}
	if got := b[len(b)-6:]; !bytes.Equal(got, []byte{1, 2, 0, 0, 0x80, 0x3f}) {
		t.Errorf("data % x", got)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, c := range []struct {
		t    Tensor
		want string
	}{
		{FromF32("", []int{1}, []float32{1}), "empty name"},
		{FromF32("__metadata__", []int{1}, []float32{1}), "reserved"},
		{FromF32("x", []int{2}, []float32{1}), "needs 2 elements"},
		{FromF32("x", []int{-1}, nil), "invalid shape"},
		{Tensor{Name: "x", DType: "F16", Shape: []int{1}, Data: []byte{0, 0}}, "unknown dtype"},
		{FromU8("bad\xff", []int{1}, []uint8{1}), "UTF-8"},
	} {
		_, err := Encode(&File{Tensors: []Tensor{c.t}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%+v) error %v, want %q", c.t, err, c.want)
		}
	}
	a := FromU8("a", []int{1}, []uint8{1})
	if _, err := Encode(&File{Tensors: []Tensor{a, a}}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate: %v", err)
	}
}

const f32one = `{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`

var refusals = []struct {
	name string
	file []byte
	want string
}{
	{"short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
	{"empty", nil, "file is 0 bytes"},
	{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "header length 100 runs past the end of the 10-byte file"},
	{"header absurd", append(binary.LittleEndian.AppendUint64(nil, 1<<63), "{}"...), "exceeds the limit"},
	{"bad json", raw(`{"a":`, nil), "malformed header JSON"},
	{"not object", raw(`[1, 2]`, nil), "not a JSON object"},
	{"empty header", raw(``, nil), "not a JSON object"},
	{"trailing json", raw(`{} {}`, nil), "malformed header JSON"},
	{"unknown dtype", raw(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)), `tensor "a": unknown dtype "F16"`},
	{"missing dtype", raw(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": missing dtype`},
	{"missing offsets", raw(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), `tensor "a": missing data_offsets`},
	{"unknown field", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `tensor "a": malformed entry`},
	{"negative shape", raw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), `shape dimension -1 is not a non-negative integer`},
	{"fractional shape", raw(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), `shape dimension 1.5`},
	{"huge shape", raw(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, make([]byte, 4)), `shape dimension 99999999999999999999`},
	{"overflowing shape", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}`, make([]byte, 4)), `overflows`},
	{"three offsets", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), `data_offsets has 3 values`},
	{"negative offset", raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, make([]byte, 4)), `data offset -1`},
	{"reversed offsets", raw(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), `end 0 is before begin 4`},
	{"offsets outside", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), `run outside the 4-byte data section`},
	{"length mismatch", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), `4 bytes of data, shape [2] of F32 needs 8`},
	{"overlap", raw(`{"a":`+f32one+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, make([]byte, 6)), `tensor "b" (bytes 2-6) overlaps tensor "a", which ends at 4`},
	{"same bytes", raw(`{"a":`+f32one+`,"b":`+f32one+`}`, make([]byte, 4)), `overlaps tensor "a"`},
	{"gap", raw(`{"a":`+f32one+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), `gap of 4 bytes before tensor "b"`},
	{"leading gap", raw(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), `gap of 1 bytes before tensor "b"`},
	{"trailing", raw(`{"a":`+f32one+`}`, make([]byte, 6)), `2 trailing bytes after the last tensor`},
	{"no tensors trailing", raw(`{}`, []byte{1}), `1 trailing bytes`},
	{"duplicate", raw(`{"a":`+f32one+`,"a":`+f32one+`}`, make([]byte, 4)), `duplicate key "a"`},
	{"duplicate field", raw(`{"a":{"dtype":"F32","dtype":"U8","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `duplicate key "dtype"`},
	{"bad metadata", raw(`{"__metadata__":{"k":1}}`, nil), `__metadata__ is not an object of strings`},
	{"empty name", raw(`{"":`+f32one+`}`, make([]byte, 4)), `tensor with empty name`},
	{"entry not object", raw(`{"a":[1]}`, nil), `tensor "a": malformed entry`},
}

func TestDecodeRefuses(t *testing.T) {
	const file = "experts/bad.safetensors"
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			f, err := Decode(file, c.file)
			if err == nil {
				t.Fatalf("decoded %+v", f)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != file {
				t.Fatalf("error %T %v is not a *FormatError for %q", err, err, file)
			}
			msg := err.Error()
			if !strings.Contains(msg, file) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to name %q and say %q", msg, file, c.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, c := range []struct {
		name string
		file []byte
	}{
		{"empty object", raw(`{}`, nil)},
		{"padded", raw(`{"a":`+f32one+`}      `, make([]byte, 4))},
		{"reference key order", raw(`{"__metadata__":{"format":"pt"},"a":`+f32one+`}`, make([]byte, 4))},
		{"null metadata", raw(`{"__metadata__":null}`, nil)},
		{"empty tensors share offset", raw(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}`, nil)},
	} {
		if _, err := Decode(c.name, c.file); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
