package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"reflect"
	"strings"
)

// ManifestFormat is the value of Manifest.Format this package reads and writes.
const ManifestFormat = "enmp-lab-shards/1"

// Model families.
const (
	FamilyVision = "vision"
	FamilyText   = "text"
)

// File kinds listed in a manifest.
const (
	KindBackbone      = "backbone"
	KindExpert        = "expert"
	KindAdapterConfig = "adapter_config"
	KindHead          = "head"
	KindData          = "data"
	KindOther         = "other"
)

// Manifest is the content of manifest.json, which describes one family's
// model and lists every shipped file with its size and SHA-256.
//
// In JSON every field is required except those tagged omitempty.
type Manifest struct {
	Format       string            `json:"format"` // ManifestFormat
	Family       string            `json:"family"` // FamilyVision or FamilyText
	Architecture Architecture      `json:"architecture"`
	Tasks        []Task            `json:"tasks"`
	MergeLambda  float64           `json:"merge_lambda,omitempty"` // task-arithmetic scale of the merged model
	Files        []FileInfo        `json:"files"`
	Provenance   []Provenance      `json:"provenance"`
	Recipe       map[string]string `json:"recipe,omitempty"` // seeds, epochs, ...
}

// Architecture describes the backbone and its LoRA experts.
type Architecture struct {
	Family         string   `json:"family"`
	InputSize      int      `json:"input_size"` // bytes per sample
	PatchSize      int      `json:"patch_size"`
	Tokens         int      `json:"tokens"`
	Width          int      `json:"width"`
	Layers         int      `json:"layers"`
	Heads          int      `json:"heads"`
	MLP            int      `json:"mlp"` // MLP hidden size
	LoRARank       int      `json:"lora_rank"`
	LoRAAlpha      float64  `json:"lora_alpha"`
	TargetModules  []string `json:"target_modules"`
	FLOPsPerSample int64    `json:"flops_per_sample"`
	Params         int64    `json:"params"`
}

// Accuracy is a pair of accuracies in [0, 1].
type Accuracy struct {
	Val  float64 `json:"val"`
	Test float64 `json:"test"`
}

// Task describes one classification task and how well each model does on it.
type Task struct {
	Name        string    `json:"name"`
	Classes     []string  `json:"classes"`
	Source      string    `json:"source"`
	NTrain      int       `json:"n_train"`
	NVal        int       `json:"n_val"`
	NTest       int       `json:"n_test"`
	Expert      Accuracy  `json:"expert"`
	LinearProbe Accuracy  `json:"linear_probe"`
	Merged      *Accuracy `json:"merged,omitempty"` // task-arithmetic merge, if any
}

// FileInfo lists one shipped file.
type FileInfo struct {
	Name   string `json:"name"` // slash-separated path relative to the manifest, e.g. "vision/backbone.safetensors"
	Kind   string `json:"kind"` // one of the Kind constants
	Task   string `json:"task,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// Provenance credits a source of data or weights.
type Provenance struct {
	Name        string `json:"name"`
	Package     string `json:"package,omitempty"`
	Licence     string `json:"licence"`
	Attribution string `json:"attribution,omitempty"`
	URL         string `json:"url,omitempty"`
}

// ManifestError reports an invalid manifest.
type ManifestError struct {
	Problem string
}

func (e *ManifestError) Error() string { return "shard: manifest.json: " + e.Problem }

func manifestErr(format string, args ...any) error {
	return &ManifestError{Problem: fmt.Sprintf(format, args...)}
}

// ParseManifest parses and validates manifest.json. It rejects unknown or
// missing fields, a wrong format or unknown family, negative sizes or
// counts, accuracies outside [0, 1], duplicate task or file names, file
// names that are not clean relative paths, unknown file kinds, files
// naming an unknown task, and SHA-256 values that are not 64 lowercase hex
// digits. Errors are *ManifestError.
func ParseManifest(b []byte) (*Manifest, error) {
	if err := checkJSON(b); err != nil {
		return nil, manifestErr("malformed JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, manifestErr("%v", err)
	}
	if err := checkRequired(b); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// checkRequired reports the first required (non-omitempty) field missing
// from the manifest JSON b, which already decoded into a Manifest.
func checkRequired(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return manifestErr("%v", err)
	}
	if err := missing("", top, reflect.TypeFor[Manifest]()); err != nil {
		return err
	}
	obj := func(path string, raw json.RawMessage, t reflect.Type) error {
		var o map[string]json.RawMessage
		if err := json.Unmarshal(raw, &o); err != nil {
			return manifestErr("%s: %v", path, err)
		}
		return missing(path+".", o, t)
	}
	list := func(key string, t reflect.Type, sub func(path string, o map[string]json.RawMessage) error) error {
		var items []json.RawMessage
		if err := json.Unmarshal(top[key], &items); err != nil {
			return manifestErr("%s: %v", key, err)
		}
		for i, raw := range items {
			path := fmt.Sprintf("%s[%d]", key, i)
			if err := obj(path, raw, t); err != nil {
				return err
			}
			if sub != nil {
				var o map[string]json.RawMessage
				json.Unmarshal(raw, &o)
				if err := sub(path, o); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := obj("architecture", top["architecture"], reflect.TypeFor[Architecture]()); err != nil {
		return err
	}
	acc := reflect.TypeFor[Accuracy]()
	err := list("tasks", reflect.TypeFor[Task](), func(path string, o map[string]json.RawMessage) error {
		for _, k := range []string{"expert", "linear_probe", "merged"} {
			if raw, ok := o[k]; ok && string(raw) != "null" {
				if err := obj(path+"."+k, raw, acc); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := list("files", reflect.TypeFor[FileInfo](), nil); err != nil {
		return err
	}
	return list("provenance", reflect.TypeFor[Provenance](), nil)
}

// missing reports the first field of struct type t without omitempty whose
// JSON key is absent from o.
func missing(prefix string, o map[string]json.RawMessage, t reflect.Type) error {
	if o == nil {
		if prefix == "" {
			return manifestErr("not a JSON object")
		}
		return manifestErr("%s is null", strings.TrimSuffix(prefix, "."))
	}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if strings.Contains(opts, "omitempty") {
			continue
		}
		if _, ok := o[name]; !ok {
			return manifestErr("missing field %s%s", prefix, name)
		}
	}
	return nil
}

// Validate checks the values of m as ParseManifest does, except for
// missing fields.
func (m *Manifest) Validate() error {
	if m.Format != ManifestFormat {
		return manifestErr("format %q, want %q", m.Format, ManifestFormat)
	}
	if m.Family != FamilyVision && m.Family != FamilyText {
		return manifestErr("unknown family %q (want %q or %q)", m.Family, FamilyVision, FamilyText)
	}
	a := &m.Architecture
	if a.Family != m.Family {
		return manifestErr("architecture.family %q differs from family %q", a.Family, m.Family)
	}
	for _, c := range []struct {
		name string
		v    int64
		min  int64
	}{
		{"input_size", int64(a.InputSize), 1}, {"patch_size", int64(a.PatchSize), 0},
		{"tokens", int64(a.Tokens), 1}, {"width", int64(a.Width), 1},
		{"layers", int64(a.Layers), 1}, {"heads", int64(a.Heads), 1}, {"mlp", int64(a.MLP), 1},
		{"lora_rank", int64(a.LoRARank), 0}, {"flops_per_sample", a.FLOPsPerSample, 0},
		{"params", a.Params, 0},
	} {
		if c.v < c.min {
			return manifestErr("architecture.%s is %d, must be at least %d", c.name, c.v, c.min)
		}
	}
	if a.LoRAAlpha < 0 || math.IsNaN(a.LoRAAlpha) || math.IsInf(a.LoRAAlpha, 0) {
		return manifestErr("architecture.lora_alpha %v is negative or not finite", a.LoRAAlpha)
	}
	if math.IsNaN(m.MergeLambda) || math.IsInf(m.MergeLambda, 0) {
		return manifestErr("merge_lambda %v is not finite", m.MergeLambda)
	}
	tasks := map[string]bool{}
	for i, t := range m.Tasks {
		p := fmt.Sprintf("tasks[%d]", i)
		if t.Name == "" {
			return manifestErr("%s: empty name", p)
		}
		if tasks[t.Name] {
			return manifestErr("duplicate task %q", t.Name)
		}
		tasks[t.Name] = true
		p = fmt.Sprintf("task %q", t.Name)
		if len(t.Classes) < 2 {
			return manifestErr("%s: %d classes, need at least 2", p, len(t.Classes))
		}
		classes := map[string]bool{}
		for _, c := range t.Classes {
			if classes[c] {
				return manifestErr("%s: duplicate class %q", p, c)
			}
			classes[c] = true
		}
		if t.NTrain < 0 || t.NVal < 0 || t.NTest < 0 {
			return manifestErr("%s: negative sample count (n_train %d, n_val %d, n_test %d)", p, t.NTrain, t.NVal, t.NTest)
		}
		accs := []struct {
			name string
			a    *Accuracy
		}{{"expert", &t.Expert}, {"linear_probe", &t.LinearProbe}, {"merged", t.Merged}}
		for _, x := range accs {
			if x.a == nil {
				continue
			}
			for _, v := range []float64{x.a.Val, x.a.Test} {
				if !(v >= 0 && v <= 1) {
					return manifestErr("%s: %s accuracy %v outside [0, 1]", p, x.name, v)
				}
			}
		}
	}
	files := map[string]bool{}
	for i, fi := range m.Files {
		if fi.Name == "" {
			return manifestErr("files[%d]: empty name", i)
		}
		if files[fi.Name] {
			return manifestErr("duplicate file %q", fi.Name)
		}
		files[fi.Name] = true
		p := fmt.Sprintf("file %q", fi.Name)
		if !fs.ValidPath(fi.Name) || fi.Name == "." || strings.Contains(fi.Name, `\`) {
			return manifestErr("%s: name is not a clean slash-separated relative path", p)
		}
		switch fi.Kind {
		case KindBackbone, KindExpert, KindAdapterConfig, KindHead, KindData, KindOther:
		default:
			return manifestErr("%s: unknown kind %q", p, fi.Kind)
		}
		if fi.Task != "" && !tasks[fi.Task] {
			return manifestErr("%s: unknown task %q", p, fi.Task)
		}
		if fi.Size < 0 {
			return manifestErr("%s: negative size %d", p, fi.Size)
		}
		if !isSHA256(fi.SHA256) {
			return manifestErr("%s: sha256 %q is not 64 lowercase hex digits", p, fi.SHA256)
		}
	}
	for i, pv := range m.Provenance {
		if pv.Name == "" || pv.Licence == "" {
			return manifestErr("provenance[%d]: name and licence are required", i)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Marshal validates m and returns it as indented JSON with a final newline.
// Fields appear in struct order and map keys sorted, so the output depends
// only on m; nil lists are written as [].
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := *m
	c.Architecture.TargetModules = nonNil(c.Architecture.TargetModules)
	c.Tasks = nonNil(c.Tasks)
	for i := range c.Tasks {
		c.Tasks[i].Classes = nonNil(c.Tasks[i].Classes)
	}
	c.Files = nonNil(c.Files)
	c.Provenance = nonNil(c.Provenance)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Checksum returns the lowercase hex SHA-256 of b.
func Checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// VerifyError reports a shipped file that is missing or does not match its
// manifest entry. Err is the underlying error of a missing file.
type VerifyError struct {
	File    string
	Problem string
	Err     error
}

func (e *VerifyError) Error() string {
	s := "shard: " + e.File + ": " + e.Problem
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *VerifyError) Unwrap() error { return e.Err }

// VerifyBytes checks that b, the content of the file fi lists, has the
// listed size and SHA-256.
func VerifyBytes(fi FileInfo, b []byte) error {
	if int64(len(b)) != fi.Size {
		what := "size mismatch"
		if int64(len(b)) < fi.Size {
			what = "truncated"
		}
		return &VerifyError{File: fi.Name, Problem: fmt.Sprintf("%s: %d bytes, manifest says %d", what, len(b), fi.Size)}
	}
	if sum := Checksum(b); sum != fi.SHA256 {
		return &VerifyError{File: fi.Name, Problem: fmt.Sprintf("checksum mismatch: sha256 %s, manifest says %s", sum, fi.SHA256)}
	}
	return nil
}

// Verify reads every file m lists with open and checks its size and
// SHA-256. It returns nil or the errors.Join of one *VerifyError per bad
// file, in manifest order.
func Verify(m *Manifest, open func(name string) ([]byte, error)) error {
	var errs []error
	for _, fi := range m.Files {
		b, err := open(fi.Name)
		if err != nil {
			errs = append(errs, &VerifyError{File: fi.Name, Problem: "missing", Err: err})
			continue
		}
		if err := VerifyBytes(fi, b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// VerifyFS is Verify reading the files from fsys.
func VerifyFS(m *Manifest, fsys fs.FS) error {
	return Verify(m, func(name string) ([]byte, error) { return fs.ReadFile(fsys, name) })
}
