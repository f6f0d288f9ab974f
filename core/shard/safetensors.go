// Package shard reads and writes the files ENMP Lab ships: safetensors
// weight and data shards, the manifest.json that lists and checksums them,
// and PEFT adapter_config.json files. It uses only the standard library and
// builds for every target, js/wasm included.
//
// # Safetensors
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header, then the raw little-endian, row-major tensor data. The header
// maps every tensor name to {"dtype", "shape", "data_offsets": [begin, end]},
// offsets counted from the start of the data section, plus an optional
// "__metadata__" object of string values.
//
// Decode is strict, like the reference implementation: the tensors must
// tile the data section exactly, with no gaps, overlaps or trailing bytes,
// and every tensor's byte length must equal the product of its shape times
// its dtype size. Encode writes exactly such files, deterministically.
package shard

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Supported dtypes.
const (
	F32 = "F32" // float32
	I32 = "I32" // int32
	I64 = "I64" // int64
	U8  = "U8"  // uint8
)

// MaxHeaderSize is the largest header Decode accepts, in bytes, as in the
// reference implementation.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the file metadata.
const metadataKey = "__metadata__"

// DTypeSize returns the size in bytes of one element of dtype, or 0 if the
// dtype is not supported.
func DTypeSize(dtype string) int {
	switch dtype {
	case U8:
		return 1
	case F32, I32:
		return 4
	case I64:
		return 8
	}
	return 0
}

// FormatError reports a malformed or unsupported file. File is the name the
// caller gave the file; Problem says what is wrong with it.
type FormatError struct {
	File    string
	Problem string
}

func (e *FormatError) Error() string {
	return "shard: " + e.File + ": " + e.Problem
}

func formatErr(file, format string, args ...any) error {
	return &FormatError{File: file, Problem: fmt.Sprintf(format, args...)}
}

// Tensor is one named tensor. Data holds its elements in little-endian,
// row-major order; its length must be NumElements()*DTypeSize(DType).
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// NumElements returns the product of the shape, or -1 if a dimension is
// negative or the product overflows an int. A scalar (empty shape) has one
// element.
func (t Tensor) NumElements() int { return numElements(t.Shape) }

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt/d {
			return -1
		}
		n *= d
	}
	return n
}

// check reports whether the tensor's dtype, shape and data length agree.
func (t Tensor) check() string {
	size := DTypeSize(t.DType)
	if size == 0 {
		return fmt.Sprintf("tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n := t.NumElements()
	if n < 0 {
		return fmt.Sprintf("tensor %q: invalid shape %v (negative or overflowing)", t.Name, t.Shape)
	}
	if n > math.MaxInt/size || n*size != len(t.Data) {
		return fmt.Sprintf("tensor %q: %d bytes of data, shape %v of %s needs %d elements of %d bytes",
			t.Name, len(t.Data), t.Shape, t.DType, n, size)
	}
	return ""
}

func (t Tensor) elems(dtype string) ([]byte, error) {
	if t.DType != dtype {
		return nil, fmt.Errorf("shard: tensor %q is %s, not %s", t.Name, t.DType, dtype)
	}
	if msg := t.check(); msg != "" {
		return nil, errors.New("shard: " + msg)
	}
	return t.Data, nil
}

// F32 decodes the data of an F32 tensor. It fails if the tensor has another
// dtype or its data length does not match its shape.
func (t Tensor) F32() ([]float32, error) {
	b, err := t.elems(F32)
	if err != nil {
		return nil, err
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// I32 decodes the data of an I32 tensor.
func (t Tensor) I32() ([]int32, error) {
	b, err := t.elems(I32)
	if err != nil {
		return nil, err
	}
	v := make([]int32, len(b)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// I64 decodes the data of an I64 tensor.
func (t Tensor) I64() ([]int64, error) {
	b, err := t.elems(I64)
	if err != nil {
		return nil, err
	}
	v := make([]int64, len(b)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v, nil
}

// U8 returns a copy of the data of a U8 tensor.
func (t Tensor) U8() ([]uint8, error) {
	b, err := t.elems(U8)
	if err != nil {
		return nil, err
	}
	return slices.Clone(b), nil
}

// FromF32 returns an F32 tensor holding a copy of v. Encode rejects it if
// len(v) is not the product of shape.
func FromF32(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: b}
}

// FromI32 returns an I32 tensor holding a copy of v.
func FromI32(name string, shape []int, v []int32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: I32, Shape: slices.Clone(shape), Data: b}
}

// FromI64 returns an I64 tensor holding a copy of v.
func FromI64(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: slices.Clone(shape), Data: b}
}

// FromU8 returns a U8 tensor holding a copy of v.
func FromU8(name string, shape []int, v []uint8) Tensor {
	return Tensor{Name: name, DType: U8, Shape: slices.Clone(shape), Data: slices.Clone(v)}
}

// File is the content of a safetensors file. Tensors are kept in data
// order: Encode packs them in slice order and Decode returns them sorted by
// data offset (empty tensors first, then by name, where offsets tie).
type File struct {
	Metadata map[string]string
	Tensors  []Tensor
}

// Get returns the tensor with the given name.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// lookup returns the named tensor after checking its dtype and shape. A
// dimension of -1 in shape matches any size; the number of dimensions must
// match, so no shape at all asks for a scalar.
func (f *File) lookup(name, dtype string, shape []int) (Tensor, error) {
	t, ok := f.Get(name)
	if !ok {
		return t, fmt.Errorf("shard: no tensor %q", name)
	}
	if t.DType != dtype {
		return t, fmt.Errorf("shard: tensor %q is %s, want %s", name, t.DType, dtype)
	}
	match := len(t.Shape) == len(shape)
	for i := 0; match && i < len(shape); i++ {
		match = shape[i] == -1 || shape[i] == t.Shape[i]
	}
	if !match {
		return t, fmt.Errorf("shard: tensor %q has shape %v, want %v", name, t.Shape, shape)
	}
	return t, nil
}

// F32 returns the elements of the named F32 tensor, which must have the
// given shape (a -1 dimension matches any size; no shape means a scalar).
// It fails if the tensor is missing or has another dtype or shape.
func (f *File) F32(name string, shape ...int) ([]float32, error) {
	t, err := f.lookup(name, F32, shape)
	if err != nil {
		return nil, err
	}
	return t.F32()
}

// I32 is like F32 for an I32 tensor.
func (f *File) I32(name string, shape ...int) ([]int32, error) {
	t, err := f.lookup(name, I32, shape)
	if err != nil {
		return nil, err
	}
	return t.I32()
}

// I64 is like F32 for an I64 tensor.
func (f *File) I64(name string, shape ...int) ([]int64, error) {
	t, err := f.lookup(name, I64, shape)
	if err != nil {
		return nil, err
	}
	return t.I64()
}

// U8 is like F32 for a U8 tensor.
func (f *File) U8(name string, shape ...int) ([]uint8, error) {
	t, err := f.lookup(name, U8, shape)
	if err != nil {
		return nil, err
	}
	return t.U8()
}

// headerEntry is one tensor's header entry; its fields are in sorted key
// order so the header JSON has sorted keys throughout.
type headerEntry struct {
	DataOffsets [2]int `json:"data_offsets"`
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
}

// Encode returns the safetensors encoding of f. The output depends only on
// f: tensors are packed in slice order with no gaps, the header is compact
// JSON with sorted keys ("__metadata__" omitted when Metadata is empty),
// padded with spaces to a multiple of 8 bytes. Encode fails on an empty,
// duplicate, reserved or non-UTF-8 name, an unknown dtype, a negative shape,
// or data whose length does not match the shape.
func Encode(f *File) ([]byte, error) {
	header := make(map[string]any, len(f.Tensors)+1)
	if len(f.Metadata) > 0 {
		for k, v := range f.Metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("shard: metadata %q: not valid UTF-8", k)
			}
		}
		header[metadataKey] = f.Metadata
	}
	off := 0
	for _, t := range f.Tensors {
		switch {
		case t.Name == "":
			return nil, errors.New("shard: tensor with empty name")
		case t.Name == metadataKey:
			return nil, fmt.Errorf("shard: tensor name %q is reserved", t.Name)
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("shard: tensor name %q is not valid UTF-8", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return nil, fmt.Errorf("shard: duplicate tensor %q", t.Name)
		}
		if msg := t.check(); msg != "" {
			return nil, errors.New("shard: " + msg)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = headerEntry{DataOffsets: [2]int{off, off + len(t.Data)}, DType: t.DType, Shape: shape}
		off += len(t.Data)
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return nil, fmt.Errorf("shard: encoding header: %v", err)
	}
	h := bytes.TrimSuffix(hb.Bytes(), []byte("\n"))
	pad := (8 - len(h)%8) % 8
	out := make([]byte, 8, 8+len(h)+pad+off)
	binary.LittleEndian.PutUint64(out, uint64(len(h)+pad))
	out = append(out, h...)
	out = append(out, bytes.Repeat([]byte(" "), pad)...)
	for _, t := range f.Tensors {
		out = append(out, t.Data...)
	}
	return out, nil
}

// Decode parses the safetensors file b; name identifies the file in errors,
// which are *FormatError. The tensors' Data slices alias b. Decode refuses a
// file shorter than 8 bytes, a header longer than the file or than
// MaxHeaderSize, a header that is not a JSON object, has duplicate keys or
// malformed entries, an unknown dtype, a negative or overflowing shape,
// offsets that are reversed or outside the data section, tensors that
// overlap or leave gaps or trailing bytes, and a byte length that does not
// match the shape. It never panics.
func Decode(name string, b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, formatErr(name, "file is %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, formatErr(name, "header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, formatErr(name, "header length %d runs past the end of the %d-byte file", n, len(b))
	}
	hdr, data := b[8:8+n], b[8+n:]
	if len(bytes.TrimLeft(hdr, " \t\r\n")) == 0 || bytes.TrimLeft(hdr, " \t\r\n")[0] != '{' {
		return nil, formatErr(name, "header is not a JSON object")
	}
	if err := checkJSON(hdr); err != nil {
		return nil, formatErr(name, "malformed header JSON: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, formatErr(name, "malformed header JSON: %v", err)
	}
	f := &File{}
	if m, ok := raw[metadataKey]; ok {
		if err := json.Unmarshal(m, &f.Metadata); err != nil {
			return nil, formatErr(name, "__metadata__ is not an object of strings: %v", err)
		}
		delete(raw, metadataKey)
	}
	begins := make(map[string]int, len(raw))
	for tname, msg := range raw {
		if tname == "" {
			return nil, formatErr(name, "tensor with empty name")
		}
		t, off, problem := decodeEntry(tname, msg, len(data))
		if problem != "" {
			return nil, formatErr(name, "%s", problem)
		}
		t.Data = data[off[0]:off[1]:off[1]]
		f.Tensors = append(f.Tensors, t)
		begins[tname] = off[0]
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int {
		if c := begins[a.Name] - begins[b.Name]; c != 0 {
			return c
		}
		if c := len(a.Data) - len(b.Data); c != 0 {
			return c
		}
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	end := 0
	for i, t := range f.Tensors {
		if begin := begins[t.Name]; begin != end {
			if begin < end {
				return nil, formatErr(name, "tensor %q (bytes %d-%d) overlaps tensor %q, which ends at %d",
					t.Name, begin, begin+len(t.Data), f.Tensors[i-1].Name, end)
			}
			return nil, formatErr(name, "gap of %d bytes before tensor %q at offset %d", begin-end, t.Name, begin)
		}
		end += len(t.Data)
	}
	if end != len(data) {
		return nil, formatErr(name, "%d trailing bytes after the last tensor (data section is %d bytes, tensors cover %d)",
			len(data)-end, len(data), end)
	}
	return f, nil
}

// decodeEntry parses one tensor header entry, checking it against a data
// section of dataLen bytes. It returns the tensor without its data and its
// data offsets, or a problem.
func decodeEntry(name string, msg json.RawMessage, dataLen int) (Tensor, [2]int, string) {
	var off [2]int
	t := Tensor{Name: name}
	var e struct {
		DType       *string       `json:"dtype"`
		Shape       []json.Number `json:"shape"`
		DataOffsets []json.Number `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return t, off, fmt.Sprintf("tensor %q: malformed entry: %v", name, err)
	}
	switch {
	case e.DType == nil:
		return t, off, fmt.Sprintf("tensor %q: missing dtype", name)
	case e.Shape == nil:
		return t, off, fmt.Sprintf("tensor %q: missing shape", name)
	case e.DataOffsets == nil:
		return t, off, fmt.Sprintf("tensor %q: missing data_offsets", name)
	}
	t.DType = *e.DType
	size := DTypeSize(t.DType)
	if size == 0 {
		return t, off, fmt.Sprintf("tensor %q: unknown dtype %q", name, t.DType)
	}
	t.Shape = make([]int, len(e.Shape))
	for i, s := range e.Shape {
		d, err := strconv.ParseInt(s.String(), 10, 0)
		if err != nil || d < 0 {
			return t, off, fmt.Sprintf("tensor %q: shape dimension %s is not a non-negative integer", name, s)
		}
		t.Shape[i] = int(d)
	}
	elems := t.NumElements()
	if elems < 0 || elems > math.MaxInt/size {
		return t, off, fmt.Sprintf("tensor %q: shape %v overflows", name, t.Shape)
	}
	if len(e.DataOffsets) != 2 {
		return t, off, fmt.Sprintf("tensor %q: data_offsets has %d values, want [begin, end]", name, len(e.DataOffsets))
	}
	for i, s := range e.DataOffsets {
		v, err := strconv.ParseInt(s.String(), 10, 0)
		if err != nil || v < 0 {
			return t, off, fmt.Sprintf("tensor %q: data offset %s is not a non-negative integer", name, s)
		}
		off[i] = int(v)
	}
	begin, end := off[0], off[1]
	switch {
	case end < begin:
		return t, off, fmt.Sprintf("tensor %q: data_offsets end %d is before begin %d", name, end, begin)
	case end > dataLen:
		return t, off, fmt.Sprintf("tensor %q: data_offsets [%d, %d] run outside the %d-byte data section", name, begin, end, dataLen)
	case end-begin != elems*size:
		return t, off, fmt.Sprintf("tensor %q: %d bytes of data, shape %v of %s needs %d",
			name, end-begin, t.Shape, t.DType, elems*size)
	}
	return t, [2]int{begin, end}, ""
}

// checkJSON reports a syntax error or a duplicate object key anywhere in the
// JSON value b; encoding/json alone would silently keep the last duplicate.
func checkJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := checkValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the top-level value")
	}
	return nil
}

func checkValue(dec *json.Decoder, depth int) error {
	if depth > 64 {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			if seen[key] {
				return fmt.Errorf("duplicate key %q", key)
			}
			seen[key] = true
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}
