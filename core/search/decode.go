package search

import (
	"fmt"
	"math"
	"sort"

	"enmplab/core/num"
)

// LambdaMax is the upper end of the optional global scale:
// lambda = LambdaMax * sigmoid(z_last), as in the reference.
const LambdaMax = 3.0

// DecodeUnits is the reference's decoding of a negativity-score vector z:
// k = floor(topk*len(z)); among the k largest entries (ties to the lower
// index, so the result is deterministic) it returns, sorted, the indices of
// those strictly above threshold. k is thus a ceiling, not a target.
func DecodeUnits(z []float64, topk, threshold float64) ([]int, error) {
	if !(topk >= 0 && topk <= 1) {
		return nil, fmt.Errorf("search: topk %v outside [0,1]", topk)
	}
	if math.IsNaN(threshold) {
		return nil, fmt.Errorf("search: threshold is NaN")
	}
	for i, v := range z {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("search: genome entry %d is NaN", i)
		}
	}
	k := int(math.Floor(topk * float64(len(z))))
	order := make([]int, len(z))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return z[order[a]] > z[order[b]] })
	idx := []int{}
	for _, i := range order[:k] {
		if z[i] > threshold {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	return idx, nil
}

// Decoder turns a CMA-ES genome into a mask (and optional global lambda).
type Decoder struct {
	Layers, Tasks int
	Projs         int     // 0: module granularity
	TopK          float64 // fraction of units that may be pruned, in [0,1]
	Threshold     float64 // an entry must exceed this to be pruned
	LambdaGene    bool    // genome carries one extra entry for the global scale
}

// Units returns N, the number of mask units.
func (d Decoder) Units() int { return units(d.Layers, d.Tasks, d.Projs) }

// GenomeLen returns N, or N+1 with the lambda gene.
func (d Decoder) GenomeLen() int {
	if d.LambdaGene {
		return d.Units() + 1
	}
	return d.Units()
}

func (d Decoder) validate() error {
	if err := checkDims(d.Layers, d.Tasks, d.Projs); err != nil {
		return err
	}
	if !(d.TopK >= 0 && d.TopK <= 1) {
		return fmt.Errorf("search: topk %v outside [0,1]", d.TopK)
	}
	if math.IsNaN(d.Threshold) {
		return fmt.Errorf("search: threshold is NaN")
	}
	return nil
}

// Decode returns the mask of genome z and the lambda it encodes; lambda is
// 0 (meaning "the merge method's default") without the lambda gene. The
// sigmoid is num.Sigmoid so that native and wasm runs agree to the bit.
func (d Decoder) Decode(z []float64) (Mask, float64, error) {
	if err := d.validate(); err != nil {
		return Mask{}, 0, err
	}
	if len(z) != d.GenomeLen() {
		return Mask{}, 0, fmt.Errorf("search: genome has %d entries, want %d", len(z), d.GenomeLen())
	}
	n := d.Units()
	idx, err := DecodeUnits(z[:n], d.TopK, d.Threshold)
	if err != nil {
		return Mask{}, 0, err
	}
	m, err := maskFromIndices(d.Layers, d.Tasks, d.Projs, idx)
	if err != nil {
		return Mask{}, 0, err
	}
	lambda := 0.0
	if d.LambdaGene {
		if math.IsNaN(z[n]) {
			return Mask{}, 0, fmt.Errorf("search: lambda gene is NaN")
		}
		lambda = LambdaMax * num.Sigmoid(z[n])
	}
	return m, lambda, nil
}
