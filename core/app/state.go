// Package app is the browser toy's logic, free of syscall/js so that it is
// tested natively: the UI state table and its URL-hash form, the worker
// protocol and the engine a Web Worker runs, the worker-pool scheduler, the
// run session (ask/tell, history for the views, checkpoints) and exports.
// wasm/ only wires it to the DOM and to postMessage.
package app

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"enmplab/core/enmp"
	"enmplab/core/merge"
)

// State is the whole UI state, as TensorFlow Playground keeps it: one
// declarative table that round-trips through the URL hash, seed included,
// so that a shared link replays the same run.
type State struct {
	Family     string  // "vision" or "text"
	Method     string  // merge method
	Lambda     float64 // 0: tuned or method default
	TopKMerge  float64 // TIES-style trim fraction; 0: tuned or default
	DropRate   float64 // DARE drop rate; <0 unset, since 0 is meaningful
	Searcher   string
	Popsize    int
	Iterations int
	Sigma0     float64
	TopK       float64 // prune ceiling (fraction of modules)
	ValPerTask int     // 0: all shipped; default enmp.DefaultValPerTask, as the CLI
	Proj       bool    // (layer, task, projection) granularity
	Seed       uint64
	Workers    int    // 0: navigator.hardwareConcurrency
	Autorun    bool   // start the run on load
	Shards     string // shard origin ("" = this page's origin)
	Hide       []string
}

// Default is the default run: vision, task arithmetic, CMA-ES, population 8,
// 30 iterations (enmp.Default).
func Default() State {
	d := enmp.Default()
	return State{Family: "vision", Method: d.Method, DropRate: -1, Searcher: d.Searcher, Popsize: d.Popsize,
		Iterations: d.Iterations, Sigma0: d.Sigma0, TopK: d.TopK, Seed: d.Seed, ValPerTask: d.ValPerTask}
}

// Controls are the names a URL can hide with <name>_hide=true.
var Controls = []string{"family", "method", "lambda", "topk_merge", "drop", "searcher", "pop", "iters", "sigma0",
	"topk", "val", "proj", "seed", "workers", "shards", "run", "step", "reset", "export", "tour"}

// Hidden says whether control name is hidden.
func (s State) Hidden(name string) bool { return slices.Contains(s.Hide, name) }

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Hash serialises the state as "key=value&..." in a fixed order; values
// equal to the default are written too, so a link never depends on defaults
// changing later.
func (s State) Hash() string {
	kv := [][2]string{
		{"family", s.Family}, {"method", s.Method}, {"lambda", fmtF(s.Lambda)}, {"topk_merge", fmtF(s.TopKMerge)},
		{"drop", fmtF(s.DropRate)}, {"searcher", s.Searcher}, {"pop", strconv.Itoa(s.Popsize)},
		{"iters", strconv.Itoa(s.Iterations)}, {"sigma0", fmtF(s.Sigma0)}, {"topk", fmtF(s.TopK)},
		{"val", strconv.Itoa(s.ValPerTask)}, {"proj", strconv.FormatBool(s.Proj)},
		{"seed", strconv.FormatUint(s.Seed, 10)}, {"workers", strconv.Itoa(s.Workers)},
	}
	if s.Autorun {
		kv = append(kv, [2]string{"autorun", "1"})
	}
	if s.Shards != "" {
		kv = append(kv, [2]string{"shards", s.Shards})
	}
	for _, h := range s.Hide {
		kv = append(kv, [2]string{h + "_hide", "true"})
	}
	parts := make([]string, len(kv))
	for i, p := range kv {
		parts[i] = p[0] + "=" + url.QueryEscape(p[1])
	}
	return strings.Join(parts, "&")
}

// ParseHash reads a hash written by Hash (a leading '#' is allowed). Keys
// left out keep their default; an unknown key or a bad value is an error
// naming it, so a mistyped link is reported rather than silently ignored.
func ParseHash(h string) (State, error) {
	s := Default()
	h = strings.TrimPrefix(h, "#")
	if h == "" {
		return s, nil
	}
	for _, part := range strings.Split(h, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		v, err := url.QueryUnescape(v)
		if err != nil {
			return s, fmt.Errorf("link: %s: %v", k, err)
		}
		if err := s.set(k, v); err != nil {
			return s, fmt.Errorf("link: %s=%q: %v", k, v, err)
		}
	}
	return s, s.Validate()
}

func (s *State) set(k, v string) error {
	var err error
	pf := func(dst *float64) { *dst, err = strconv.ParseFloat(v, 64) }
	pi := func(dst *int) { *dst, err = strconv.Atoi(v) }
	switch k {
	case "family":
		s.Family = v
	case "method":
		s.Method = v
	case "lambda":
		pf(&s.Lambda)
	case "topk_merge":
		pf(&s.TopKMerge)
	case "drop":
		pf(&s.DropRate)
	case "searcher":
		s.Searcher = v
	case "pop":
		pi(&s.Popsize)
	case "iters":
		pi(&s.Iterations)
	case "sigma0":
		pf(&s.Sigma0)
	case "topk":
		pf(&s.TopK)
	case "val":
		pi(&s.ValPerTask)
	case "proj":
		s.Proj, err = strconv.ParseBool(v)
	case "seed":
		s.Seed, err = strconv.ParseUint(v, 10, 64)
	case "workers":
		pi(&s.Workers)
	case "autorun":
		s.Autorun = v == "1" || v == "true"
	case "shards":
		s.Shards = v
	default:
		name, ok := strings.CutSuffix(k, "_hide")
		if !ok || !slices.Contains(Controls, name) {
			return fmt.Errorf("unknown setting")
		}
		if v == "true" || v == "1" {
			if !s.Hidden(name) {
				s.Hide = append(s.Hide, name)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("not a valid number")
	}
	return nil
}

// Validate reports the first setting out of range.
func (s State) Validate() error {
	switch {
	case s.Family != "vision" && s.Family != "text":
		return fmt.Errorf("family %q: want vision or text", s.Family)
	case !slices.Contains(merge.Names(), s.Method):
		return fmt.Errorf("merge method %q: want one of %v", s.Method, enmp.Methods())
	case !slices.Contains(enmp.Searchers, s.Searcher):
		return fmt.Errorf("searcher %q: want one of %v", s.Searcher, enmp.Searchers)
	case s.Lambda < 0 || s.Lambda > 10:
		return fmt.Errorf("lambda %v: want 0 (tuned) or in (0, 10]", s.Lambda)
	case s.TopKMerge < 0 || s.TopKMerge > 1:
		return fmt.Errorf("merge top-K %v: want 0 (tuned) or in (0, 1]", s.TopKMerge)
	case s.DropRate >= 1:
		return fmt.Errorf("drop rate %v: want < 1 (negative: tuned)", s.DropRate)
	case s.Popsize < 2 || s.Popsize > 256:
		return fmt.Errorf("population %d: want 2..256", s.Popsize)
	case s.Iterations < 1 || s.Iterations > 1000:
		return fmt.Errorf("iterations %d: want 1..1000", s.Iterations)
	case !(s.Sigma0 > 0 && s.Sigma0 <= 10):
		return fmt.Errorf("sigma0 %v: want in (0, 10]", s.Sigma0)
	case !(s.TopK > 0 && s.TopK <= 1):
		return fmt.Errorf("top-k ceiling %v: want in (0, 1]", s.TopK)
	case s.ValPerTask < 0:
		return fmt.Errorf("validation samples %d: want >= 0", s.ValPerTask)
	case s.Workers < 0 || s.Workers > 64:
		return fmt.Errorf("workers %d: want 0 (one per core) .. 64", s.Workers)
	}
	return nil
}

// Config is the experiment the state describes, with the family's tuned
// hyperparameters (t may be nil) filling what the state leaves unset, as
// the CLI does.
func (s State) Config(t *enmp.Tuned) (enmp.Config, error) {
	if err := s.Validate(); err != nil {
		return enmp.Config{}, err
	}
	c := enmp.Default()
	c.Method, c.Searcher, c.Popsize, c.Iterations, c.Sigma0, c.TopK = s.Method, s.Searcher, s.Popsize, s.Iterations, s.Sigma0, s.TopK
	c.ValPerTask, c.Projections, c.Seed, c.Lambda = s.ValPerTask, s.Proj, s.Seed, s.Lambda
	c.Params = merge.Params{}
	t.Apply(s.Family, &c)
	p := c.Params
	if p == (merge.Params{}) {
		var err error
		if p, err = merge.Defaults(s.Method); err != nil {
			return c, err
		}
	}
	if s.TopKMerge > 0 {
		p.TopK = s.TopKMerge
	}
	if s.DropRate >= 0 {
		p.DropRate = s.DropRate
	}
	c.Params = p
	if _, err := merge.New(s.Method, p); err != nil {
		return c, err
	}
	return c, nil
}

// With returns the state with one setting changed, by its hash key
// ("pop", "method", ...), validated; s is unchanged on error.
func (s State) With(key, value string) (State, error) {
	n := s
	n.Hide = append([]string(nil), s.Hide...)
	if err := n.set(key, value); err != nil {
		return s, fmt.Errorf("%s=%q: %v", key, value, err)
	}
	if err := n.Validate(); err != nil {
		return s, err
	}
	return n, nil
}

// Value returns one setting as the hash writes it.
func (s State) Value(key string) string {
	for _, part := range strings.Split(s.Hash(), "&") {
		k, v, _ := strings.Cut(part, "=")
		if k == key {
			u, _ := url.QueryUnescape(v)
			return u
		}
	}
	return ""
}
