package recipe

import (
	"math/rand/v2"

	"enmplab/core/data"
)

// The backbone is pretrained on the union of the expert tasks' *training*
// splits (never validation or test) with two objectives that name no expert
// task's labels: which source pool a sample comes from, and a
// self-supervised transformation the sample underwent (rotation for images,
// a byte-level rewrite for texts). The backbone thus learns generic features
// of the domain, and the experts have to learn their task in their LoRA.

// Transforms is the number of classes of the self-supervised objective.
const Transforms = 4

// transform applies transformation k in place to n samples of family f.
func transform(f data.Family, x []uint8, k int, r *rand.Rand) {
	switch f {
	case data.Vision:
		rotate(x, k)
	case data.Text:
		rewrite(x, k, r)
	}
}

// rotate turns a CHW image by k quarter turns clockwise.
func rotate(x []uint8, k int) {
	const s = data.ImageSide
	tmp := make([]uint8, s*s)
	for ; k > 0; k-- {
		for c := 0; c < data.ImageChannels; c++ {
			plane := x[c*s*s : (c+1)*s*s]
			for y := 0; y < s; y++ {
				for xx := 0; xx < s; xx++ {
					tmp[xx*s+(s-1-y)] = plane[y*s+xx]
				}
			}
			copy(plane, tmp)
		}
	}
}

// rewrite applies one of: 0 identity, 1 reversal of the text, 2 a shuffle
// of its 4-byte chunks, 3 a shift of every letter by one (a->b, z->a).
func rewrite(x []uint8, k int, r *rand.Rand) {
	n := len(x)
	for n > 0 && x[n-1] == 0 {
		n--
	}
	t := x[:n]
	switch k {
	case 1:
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			t[i], t[j] = t[j], t[i]
		}
	case 2:
		chunks := n / 4
		perm := r.Perm(chunks)
		tmp := append([]uint8(nil), t[:chunks*4]...)
		for i, p := range perm {
			copy(t[i*4:(i+1)*4], tmp[p*4:(p+1)*4])
		}
	case 3:
		for i, b := range t {
			switch {
			case b >= 'a' && b <= 'z':
				t[i] = 'a' + (b-'a'+1)%26
			case b >= 'A' && b <= 'Z':
				t[i] = 'A' + (b-'A'+1)%26
			}
		}
	}
}

// pretrainAugment draws a transformation per sample and records it as the
// label of the second head.
func pretrainAugment(f data.Family) func(r *rand.Rand, x []uint8, labels [][]int32, n int) {
	size := data.SampleSize(f)
	return func(r *rand.Rand, x []uint8, labels [][]int32, n int) {
		for i := 0; i < n; i++ {
			k := r.IntN(Transforms)
			transform(f, x[i*size:(i+1)*size], k, r)
			labels[1][i] = int32(k)
		}
	}
}
