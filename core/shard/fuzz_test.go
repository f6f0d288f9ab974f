package shard

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, reports failures as
// *FormatError, and that whatever it accepts re-encodes to a file that
// decodes to the same tensors and re-encodes to the same bytes.
// The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode("fuzz.safetensors", b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "fuzz.safetensors" {
				t.Fatalf("error %T %v is not a *FormatError naming the file", err, err)
			}
			return
		}
		enc, err := Encode(g)
		if err != nil {
			t.Fatalf("Encode of decoded file: %v", err)
		}
		h, err := Decode("re-encoded", enc)
		if err != nil {
			t.Fatalf("Decode of re-encoded file: %v", err)
		}
		if len(g.Metadata) != len(h.Metadata) || len(g.Metadata) > 0 && !reflect.DeepEqual(g.Metadata, h.Metadata) {
			t.Fatalf("metadata %v became %v", g.Metadata, h.Metadata)
		}
		if len(g.Tensors) != len(h.Tensors) {
			t.Fatalf("%d tensors became %d", len(g.Tensors), len(h.Tensors))
		}
		for i, a := range g.Tensors {
			b := h.Tensors[i]
			if a.Name != b.Name || a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tensor %d: %+v became %+v", i, a, b)
			}
		}
		enc2, err := Encode(h)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs (err %v)", err)
		}
	})
}

// FuzzParseManifest checks that ParseManifest never panics and that any
// manifest it accepts marshals to JSON it accepts again, marshalling to the
// same bytes. The seed corpus is in testdata/fuzz/FuzzParseManifest.
func FuzzParseManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v is not a *ManifestError", err, err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed manifest: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("ParseManifest of marshalled manifest: %v\n%s", err, out)
		}
		out2, err := m2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("second marshal differs (err %v)", err)
		}
	})
}
