package shard

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

var (
	backboneBytes = []byte("backbone weights")
	expertBytes   = []byte("expert weights")
)

func validManifest() *Manifest {
	return &Manifest{
		Format: ManifestFormat,
		Family: FamilyVision,
		Architecture: Architecture{
			Family: FamilyVision, InputSize: 3072, PatchSize: 4, Tokens: 64, Width: 64, Layers: 4,
			Heads: 4, MLP: 128, LoRARank: 4, LoRAAlpha: 8, TargetModules: []string{"qkv", "proj"},
			FLOPsPerSample: 1_234_567, Params: 200_000,
		},
		Tasks: []Task{{
			Name: "digits", Classes: []string{"0", "1", "2"}, Source: "sklearn digits",
			NTrain: 1000, NVal: 200, NTest: 300,
			Expert: Accuracy{0.98, 0.97}, LinearProbe: Accuracy{0.9, 0.89}, Merged: &Accuracy{0.95, 0.94},
		}},
		MergeLambda: 0.4,
		Files: []FileInfo{
			{Name: "vision/backbone.safetensors", Kind: KindBackbone, Size: int64(len(backboneBytes)), SHA256: Checksum(backboneBytes)},
			{Name: "vision/experts/digits.safetensors", Kind: KindExpert, Task: "digits", Size: int64(len(expertBytes)), SHA256: Checksum(expertBytes)},
		},
		Provenance: []Provenance{{Name: "digits", Package: "scikit-learn", Licence: "BSD-3-Clause", URL: "https://archive.ics.uci.edu/"}},
		Recipe:     map[string]string{"seed": "1", "epochs": "30"},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := validManifest()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ParseManifest(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, err := m2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("marshal not stable:\n%s\n%s", b, b2)
	}
	for _, want := range []string{`"format": "enmp-lab-shards/1"`, `"sha256": "`, `"n_train": 1000`, `"lora_alpha": 8`, `"merged": {`, "\n  \"recipe\": {\n    \"epochs\": \"30\",\n    \"seed\": \"1\"\n  }\n}\n"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, b)
		}
	}
	// Optional fields may be left out.
	m.Tasks[0].Merged, m.MergeLambda, m.Recipe, m.Provenance = nil, 0, nil, nil
	b, err = m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest(b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}

func TestParseManifestRefuses(t *testing.T) {
	good, err := validManifest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("fixture lacks %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	sum := Checksum(backboneBytes)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"bad json", []byte(`{"format":`), "malformed JSON"},
		{"not object", []byte(`[]`), "cannot unmarshal array"},
		{"null", []byte(`null`), "not a JSON object"},
		{"format", edit(`"enmp-lab-shards/1"`, `"enmp-lab-shards/2"`), `format "enmp-lab-shards/2"`},
		{"family", edit(`"family": "vision",`, `"family": "audio",`), `unknown family "audio"`},
		{"arch family", edit(`"family": "vision",
    "input_size"`, `"family": "text",
    "input_size"`), `architecture.family "text" differs`},
		{"unknown field", edit(`"format"`, `"colour": 1, "format"`), `unknown field "colour"`},
		{"duplicate key", edit(`"format"`, `"family": "text", "format"`), `duplicate key "family"`},
		{"missing top", edit(`"format": "enmp-lab-shards/1",`, ``), `missing field format`},
		{"missing files", edit(`"files"`, `"filez"`), `unknown field "filez"`},
		{"missing arch field", edit(`"width": 64,`, ``), "missing field architecture.width"},
		{"missing task field", edit(`"n_val": 200,`, ``), "missing field tasks[0].n_val"},
		{"missing accuracy", edit(`"val": 0.98,`, ``), "missing field tasks[0].expert.val"},
		{"missing sha", edit(`"sha256": "`+sum+`"`, `"size2": 1`), `unknown field "size2"`},
		{"missing sha2", edit(`,
      "sha256": "`+sum+`"`, ``), "missing field files[0].sha256"},
		{"missing licence", edit(`"licence": "BSD-3-Clause",`, ``), "missing field provenance[0].licence"},
		{"null task", edit(`"tasks": [`, `"tasks": [null, `), "tasks[0] is null"},
		{"bad sha", edit(sum, strings.ToUpper(sum)), `file "vision/backbone.safetensors": sha256 "` + strings.ToUpper(sum) + `" is not 64 lowercase hex digits`},
		{"short sha", edit(sum, sum[:10]), `is not 64 lowercase hex digits`},
		{"duplicate file", edit(`vision/experts/digits.safetensors`, `vision/backbone.safetensors`), `duplicate file "vision/backbone.safetensors"`},
		{"negative size", edit(`"size": 16`, `"size": -16`), `file "vision/backbone.safetensors": negative size -16`},
		{"absolute path", edit(`"vision/backbone.safetensors"`, `"/etc/passwd"`), `not a clean slash-separated relative path`},
		{"dotdot path", edit(`"vision/backbone.safetensors"`, `"../x"`), `not a clean`},
		{"kind", edit(`"kind": "backbone"`, `"kind": "weights"`), `unknown kind "weights"`},
		{"file task", edit(`"task": "digits"`, `"task": "letters"`), `unknown task "letters"`},
		{"negative count", edit(`"n_test": 300`, `"n_test": -1`), `negative sample count`},
		{"accuracy", edit(`"test": 0.97`, `"test": 97`), `expert accuracy 97 outside [0, 1]`},
		{"duplicate task", edit(`"tasks": [`, `"tasks": [{"name":"digits","classes":["a","b"],"source":"s","n_train":1,"n_val":1,"n_test":1,"expert":{"val":1,"test":1},"linear_probe":{"val":1,"test":1}},`), `duplicate task "digits"`},
		{"one class", edit(`"classes": [
        "0",
        "1",`, `"classes": [`), `1 classes, need at least 2`},
		{"width", edit(`"width": 64`, `"width": 0`), `architecture.width is 0, must be at least 1`},
		{"float int", edit(`"width": 64`, `"width": 64.5`), `cannot unmarshal number 64.5`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseManifest(c.b)
			if err == nil {
				t.Fatalf("parsed %+v", m)
			}
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Errorf("error %T is not a *ManifestError", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "manifest.json") {
				t.Errorf("error %q, want it to say %q", err, c.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	m := validManifest()
	fsys := fstest.MapFS{
		"vision/backbone.safetensors":       {Data: backboneBytes},
		"vision/experts/digits.safetensors": {Data: expertBytes},
	}
	if err := VerifyFS(m, fsys); err != nil {
		t.Fatal(err)
	}
	fsys["vision/backbone.safetensors"] = &fstest.MapFile{Data: backboneBytes[:5]}
	delete(fsys, "vision/experts/digits.safetensors")
	err := VerifyFS(m, fsys)
	if err == nil {
		t.Fatal("verified a truncated and a missing file")
	}
	msg := err.Error()
	for _, want := range []string{
		"vision/backbone.safetensors: truncated: 5 bytes, manifest says 16",
		"vision/experts/digits.safetensors: missing",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != "vision/backbone.safetensors" {
		t.Errorf("errors.As gave %+v", ve)
	}

	fi := m.Files[0]
	bad := bytes.Clone(backboneBytes)
	bad[0] ^= 1
	if err := VerifyBytes(fi, bad); err == nil || !strings.Contains(err.Error(), "vision/backbone.safetensors: checksum mismatch") {
		t.Errorf("corrupt file: %v", err)
	}
	if err := VerifyBytes(fi, append(bytes.Clone(backboneBytes), 0)); err == nil || !strings.Contains(err.Error(), "size mismatch: 17 bytes") {
		t.Errorf("long file: %v", err)
	}
	if err := VerifyBytes(fi, backboneBytes); err != nil {
		t.Error(err)
	}
	if got, want := Checksum(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Checksum(nil) = %s", got)
	}
}
