package search

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Mask is a binary pruning mask over search units; true (1) = pruned.
//
// By default a unit is a module, one (layer, task) pair, and unit index
// i = layer*Tasks + task (layer-major), which is exactly the reference's
// flattened index, so Indices can be pasted into its --mask flag.
// With Projs > 0 the mask is finer: one unit per (layer, task, projection)
// and i = (layer*Tasks + task)*Projs + proj, so a module's projections stay
// adjacent and i/Projs is still the module index.
//
// A Mask holds a slice: copies share bits. Use Clone before mutating a
// mask that was handed to someone else.
type Mask struct {
	Layers int
	Tasks  int
	Projs  int // 0: module granularity; >0: projections per module
	bits   []bool
}

// NewMask returns an empty module mask (nothing pruned) of L layers by T
// tasks; invalid dimensions give the zero Mask (MaskFromIndices(L, T, nil)
// reports the error instead).
func NewMask(layers, tasks int) Mask {
	m, _ := newMask(layers, tasks, 0)
	return m
}

// NewProjMask returns an empty mask with one unit per (layer, task,
// projection); invalid dimensions give the zero Mask, as NewMask.
func NewProjMask(layers, tasks, projs int) Mask {
	m, _ := newMask(layers, tasks, projs)
	return m
}

func newMask(layers, tasks, projs int) (Mask, error) {
	if err := checkDims(layers, tasks, projs); err != nil {
		return Mask{}, err
	}
	return Mask{Layers: layers, Tasks: tasks, Projs: projs, bits: make([]bool, units(layers, tasks, projs))}, nil
}

// maxUnits bounds N so that sizes never overflow and a hostile JSON
// checkpoint cannot make us allocate without limit.
const maxUnits = 1 << 20

func checkDims(layers, tasks, projs int) error {
	if layers < 1 || tasks < 1 || projs < 0 {
		return fmt.Errorf("search: bad mask dimensions %dx%d (projections %d)", layers, tasks, projs)
	}
	if layers > maxUnits || tasks > maxUnits || projs > maxUnits || units(layers, tasks, projs) > maxUnits {
		return fmt.Errorf("search: mask %dx%dx%d exceeds %d units", layers, tasks, projs, maxUnits)
	}
	return nil
}

func units(layers, tasks, projs int) int {
	if projs > 0 {
		return layers * tasks * projs
	}
	return layers * tasks
}

// Units returns N, the number of search units.
func (m Mask) Units() int { return len(m.bits) }

// Unit maps a unit index to its (layer, task, proj); proj is -1 at module
// granularity, meaning "every projection of the module".
func (m Mask) Unit(i int) (layer, task, proj int) {
	if m.Projs > 0 {
		proj = i % m.Projs
		i /= m.Projs
	} else {
		proj = -1
	}
	return i / m.Tasks, i % m.Tasks, proj
}

// GetUnit reports whether unit i is pruned.
func (m Mask) GetUnit(i int) bool { return m.bits[i] }

// SetUnit sets unit i's pruned flag.
func (m Mask) SetUnit(i int, pruned bool) { m.bits[i] = pruned }

// Get reports whether module (layer, task) is pruned. At projection
// granularity a module counts as pruned only when all its projections are,
// since only then does it leave the merge list entirely.
func (m Mask) Get(layer, task int) bool {
	m.checkLT(layer, task)
	if m.Projs == 0 {
		return m.bits[layer*m.Tasks+task]
	}
	base := (layer*m.Tasks + task) * m.Projs
	for p := 0; p < m.Projs; p++ {
		if !m.bits[base+p] {
			return false
		}
	}
	return true
}

// Set sets module (layer, task); at projection granularity it sets all of
// the module's projections.
func (m Mask) Set(layer, task int, pruned bool) {
	m.checkLT(layer, task)
	if m.Projs == 0 {
		m.bits[layer*m.Tasks+task] = pruned
		return
	}
	base := (layer*m.Tasks + task) * m.Projs
	for p := 0; p < m.Projs; p++ {
		m.bits[base+p] = pruned
	}
}

// Pruned is the expansion merge code needs: is projection proj of task
// at layer removed? A module-granularity mask answers for every proj.
func (m Mask) Pruned(layer, task, proj int) bool {
	m.checkLT(layer, task)
	if m.Projs == 0 {
		return m.bits[layer*m.Tasks+task]
	}
	if proj < 0 || proj >= m.Projs {
		panic(fmt.Sprintf("search: projection %d out of range [0,%d)", proj, m.Projs))
	}
	return m.bits[(layer*m.Tasks+task)*m.Projs+proj]
}

func (m Mask) checkLT(layer, task int) {
	if layer < 0 || layer >= m.Layers || task < 0 || task >= m.Tasks {
		panic(fmt.Sprintf("search: module (%d,%d) out of range %dx%d", layer, task, m.Layers, m.Tasks))
	}
}

// Expand returns the mask at projection granularity with projs projections
// per module: each module's bit is copied to all its projections.
func (m Mask) Expand(projs int) (Mask, error) {
	if m.Projs != 0 {
		return Mask{}, errors.New("search: mask is already at projection granularity")
	}
	out, err := newMask(m.Layers, m.Tasks, projs)
	if err != nil {
		return Mask{}, err
	}
	if projs == 0 {
		copy(out.bits, m.bits)
		return out, nil
	}
	for i, b := range m.bits {
		for p := 0; p < projs; p++ {
			out.bits[i*projs+p] = b
		}
	}
	return out, nil
}

// Count returns the number of pruned units.
func (m Mask) Count() int {
	c := 0
	for _, b := range m.bits {
		if b {
			c++
		}
	}
	return c
}

// Indices returns the sorted flattened indices of pruned units (the
// reference's mask list at module granularity).
func (m Mask) Indices() []int {
	idx := []int{}
	for i, b := range m.bits {
		if b {
			idx = append(idx, i)
		}
	}
	return idx
}

// MaskFromIndices builds a module mask from flattened indices; it rejects
// out-of-range and duplicate indices rather than guessing.
func MaskFromIndices(layers, tasks int, idx []int) (Mask, error) {
	return maskFromIndices(layers, tasks, 0, idx)
}

// ProjMaskFromIndices is MaskFromIndices at projection granularity.
func ProjMaskFromIndices(layers, tasks, projs int, idx []int) (Mask, error) {
	return maskFromIndices(layers, tasks, projs, idx)
}

func maskFromIndices(layers, tasks, projs int, idx []int) (Mask, error) {
	m, err := newMask(layers, tasks, projs)
	if err != nil {
		return Mask{}, err
	}
	for _, i := range idx {
		if i < 0 || i >= len(m.bits) {
			return Mask{}, fmt.Errorf("search: mask index %d out of range [0,%d)", i, len(m.bits))
		}
		if m.bits[i] {
			return Mask{}, fmt.Errorf("search: duplicate mask index %d", i)
		}
		m.bits[i] = true
	}
	return m, nil
}

// Clone returns an independent copy.
func (m Mask) Clone() Mask {
	m.bits = append([]bool(nil), m.bits...)
	return m
}

// Equal reports whether two masks have the same shape and bits.
func (m Mask) Equal(o Mask) bool {
	if m.Layers != o.Layers || m.Tasks != o.Tasks || m.Projs != o.Projs || len(m.bits) != len(o.bits) {
		return false
	}
	for i := range m.bits {
		if m.bits[i] != o.bits[i] {
			return false
		}
	}
	return true
}

// Grid returns the module grid [layer][task] (true = pruned), the shape a
// heatmap draws; at projection granularity a cell is true when the whole
// module is pruned (see Get).
func (m Mask) Grid() [][]bool {
	g := make([][]bool, m.Layers)
	for l := range g {
		g[l] = make([]bool, m.Tasks)
		for t := range g[l] {
			g[l][t] = m.Get(l, t)
		}
	}
	return g
}

// Key returns a compact, canonical string for deduplication and URLs:
// "LxT:" (or "LxTxP:") followed by the bits packed little-endian into bytes,
// in hex. Equal masks have equal keys and vice versa.
func (m Mask) Key() string {
	packed := make([]byte, (len(m.bits)+7)/8)
	for i, b := range m.bits {
		if b {
			packed[i/8] |= 1 << (i % 8)
		}
	}
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(m.Layers))
	sb.WriteByte('x')
	sb.WriteString(strconv.Itoa(m.Tasks))
	if m.Projs > 0 {
		sb.WriteByte('x')
		sb.WriteString(strconv.Itoa(m.Projs))
	}
	sb.WriteByte(':')
	sb.WriteString(hex.EncodeToString(packed))
	return sb.String()
}

// String returns Key.
func (m Mask) String() string { return m.Key() }

// ParseMaskKey inverts Key, so a mask can travel in a URL.
func ParseMaskKey(key string) (Mask, error) {
	dims, hx, ok := strings.Cut(key, ":")
	if !ok {
		return Mask{}, fmt.Errorf("search: mask key %q has no ':'", key)
	}
	parts := strings.Split(dims, "x")
	if len(parts) != 2 && len(parts) != 3 {
		return Mask{}, fmt.Errorf("search: mask key %q: bad dimensions", key)
	}
	d := make([]int, 3)
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return Mask{}, fmt.Errorf("search: mask key %q: %v", key, err)
		}
		d[i] = v
	}
	if len(parts) == 3 && d[2] < 1 {
		return Mask{}, fmt.Errorf("search: mask key %q: bad projection count", key)
	}
	m, err := newMask(d[0], d[1], d[2])
	if err != nil {
		return Mask{}, err
	}
	packed, err := hex.DecodeString(hx)
	if err != nil || len(packed) != (len(m.bits)+7)/8 {
		return Mask{}, fmt.Errorf("search: mask key %q: bad bit string", key)
	}
	for i := range m.bits {
		m.bits[i] = packed[i/8]&(1<<(i%8)) != 0
	}
	// Reject stray padding bits so that the key stays canonical.
	for i := len(m.bits); i < len(packed)*8; i++ {
		if packed[i/8]&(1<<(i%8)) != 0 {
			return Mask{}, fmt.Errorf("search: mask key %q: padding bits set", key)
		}
	}
	return m, nil
}

type maskJSON struct {
	Layers int   `json:"layers"`
	Tasks  int   `json:"tasks"`
	Projs  int   `json:"projections,omitempty"`
	Pruned []int `json:"pruned"`
}

// MarshalJSON writes {"layers":L,"tasks":T,"pruned":[indices]}, plus
// "projections":P at projection granularity.
func (m Mask) MarshalJSON() ([]byte, error) {
	return json.Marshal(maskJSON{m.Layers, m.Tasks, m.Projs, m.Indices()})
}

// UnmarshalJSON reads the MarshalJSON form (indices in any order, no
// duplicates).
func (m *Mask) UnmarshalJSON(b []byte) error {
	var j maskJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Layers == 0 && j.Tasks == 0 && j.Projs == 0 && len(j.Pruned) == 0 {
		*m = Mask{} // the zero Mask round-trips
		return nil
	}
	idx := append([]int(nil), j.Pruned...)
	sort.Ints(idx)
	nm, err := maskFromIndices(j.Layers, j.Tasks, j.Projs, idx)
	if err != nil {
		return err
	}
	*m = nm
	return nil
}
