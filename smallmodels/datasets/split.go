package datasets

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"

	"enmplab/core/data"
)

// Split sizes.
const (
	ValSize   = 128
	TestSize  = 256
	TrainMax  = 4000
	poolTrain = 1 // item may only go to train
	poolEval  = 2 // item may only go to val/test
	poolAny   = poolTrain | poolEval
)

// item is one labelled sample before splitting. group is the identity key:
// all items of one group end up in the same split (or are dropped).
type item struct {
	group string
	label int
	x     []byte
	pool  int // poolAny when zero
}

// Built is a task together with the group key of every sample, per split,
// so callers (tests) can check that no identity leaks across splits.
type Built struct {
	Task                               data.Task
	TrainGroups, ValGroups, TestGroups []string
}

func newRNG(name string, salt uint64) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15^salt))
}

type group struct {
	key   string
	items []int // indexes into items
}

// quotas spreads n over k classes as evenly as possible.
func quotas(n, k int) []int {
	q := make([]int, k)
	for c := range q {
		q[c] = n / k
		if c < n%k {
			q[c]++
		}
	}
	return q
}

// makeTask splits items by group into train/val/test: val and test are
// filled first with class quotas (balanced as far as the pool allows), any
// group that contributes to them is consumed entirely (its remaining items
// are dropped), and the rest feeds train, capped at TrainMax.
func makeTask(name, source string, classes []string, items []item) Built {
	k := len(classes)
	rng := newRNG(name, 1)
	// Groups in sorted key order, then shuffled deterministically.
	byKey := map[string]int{}
	var groups []group
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return items[order[a]].group < items[order[b]].group })
	for _, i := range order {
		if items[i].pool == 0 {
			items[i].pool = poolAny
		}
		g, ok := byKey[items[i].group]
		if !ok {
			g = len(groups)
			byKey[items[i].group] = g
			groups = append(groups, group{key: items[i].group})
		}
		groups[g].items = append(groups[g].items, i)
	}
	rng.Shuffle(len(groups), func(a, b int) { groups[a], groups[b] = groups[b], groups[a] })
	for g := range groups {
		its := groups[g].items
		rng.Shuffle(len(its), func(a, b int) { its[a], its[b] = its[b], its[a] })
	}
	// Per-class pool of eval-eligible items, to keep some of every class
	// for training when a class is rare.
	evalPool := make([]int, k)
	trainable := false
	for _, it := range items {
		if it.pool&poolEval != 0 {
			evalPool[it.label]++
		}
		if it.pool == poolTrain {
			trainable = true
		}
	}
	used := make([]bool, len(groups))
	// fill adds items of unused groups to cur until it holds size items.
	// In the strict pass every class is held to its quota and one group may
	// give at most an eighth of a class's quota, so val/test mix several
	// groups (fonts, documents, speeches); the relaxed pass tops up.
	fill := func(size int, strict bool, cur []int, counts []int) []int {
		q := quotas(size, k)
		for c := range q {
			if !trainable && q[c] > evalPool[c]/4 {
				q[c] = evalPool[c] / 4 // leave most of a rare class for train
			}
		}
		per := make([]int, k)
		for g := range groups {
			if len(cur) >= size {
				break
			}
			if used[g] {
				continue
			}
			took := false
			clear(per)
			for _, i := range groups[g].items {
				it := items[i]
				if it.pool&poolEval == 0 || len(cur) >= size {
					continue
				}
				if strict && (counts[it.label] >= q[it.label] || per[it.label] >= max(1, (q[it.label]+7)/8)) {
					continue
				}
				cur = append(cur, i)
				counts[it.label]++
				per[it.label]++
				took = true
			}
			if took {
				used[g] = true
			}
		}
		return cur
	}
	pick := func(size int) []int {
		counts := make([]int, k)
		cur := fill(size, true, nil, counts)
		if len(cur) < size {
			cur = fill(size, false, cur, counts)
		}
		return cur
	}
	test := pick(TestSize)
	val := pick(ValSize)
	var train []int
	for g := range groups {
		if used[g] {
			continue
		}
		for _, i := range groups[g].items {
			if items[i].pool&poolTrain != 0 {
				train = append(train, i)
			}
		}
	}
	rng.Shuffle(len(train), func(a, b int) { train[a], train[b] = train[b], train[a] })
	if len(train) > TrainMax {
		train = train[:TrainMax]
	}
	rng.Shuffle(len(val), func(a, b int) { val[a], val[b] = val[b], val[a] })
	rng.Shuffle(len(test), func(a, b int) { test[a], test[b] = test[b], test[a] })
	mk := func(idx []int) (data.Split, []string) {
		var s data.Split
		keys := make([]string, len(idx))
		for n, i := range idx {
			s.X = append(s.X, items[i].x...)
			s.Y = append(s.Y, int32(items[i].label))
			keys[n] = items[i].group
		}
		return s, keys
	}
	b := Built{Task: data.Task{Name: name, Classes: classes, Source: source}}
	b.Task.Train, b.TrainGroups = mk(train)
	b.Task.Val, b.ValGroups = mk(val)
	b.Task.Test, b.TestGroups = mk(test)
	return b
}

// textSample truncates or zero-pads s to data.TextLen bytes.
func textSample(s string) []byte {
	b := make([]byte, data.TextLen)
	copy(b, s)
	return b
}
