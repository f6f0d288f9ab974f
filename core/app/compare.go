package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"

	"enmplab/core/data"
	"enmplab/core/enmp"
	"enmplab/core/eval"
	"enmplab/core/search"
)

// Scores is one merge on validation and test.
type Scores struct {
	Val  eval.Eval `json:"val"`
	Test eval.Eval `json:"test"`
}

// RandomDraw is one random mask of the side-by-side view and its scores.
type RandomDraw struct {
	Mask    search.Mask `json:"mask"`
	Indices []int       `json:"indices"`
	Scores
}

// SideBySide compares, once the search has ended, the unpruned merge, the
// best ENMP mask and random pruning of as many units as the best mask
// prunes (the mean over a few seeded random masks), on validation and test.
type SideBySide struct {
	Pruned   int          `json:"pruned"` // units pruned by the best mask and by every random mask
	Seed     uint64       `json:"seed"`   // seed of the random masks (the run's)
	Unpruned Scores       `json:"unpruned"`
	ENMP     Scores       `json:"enmp"`
	Random   Scores       `json:"random"` // mean over Draws (per task too)
	Draws    []RandomDraw `json:"draws"`
}

// Compare builds the side-by-side view of best through ev (the test split
// must be loaded): the random masks are enmp.RandomMasks(best, count,
// draws, seed), the CLI's random ablation, scored with the default lambda
// as the CLI scores them.
func Compare(ctx context.Context, ev Evaluator, info Info, best search.Result, seed uint64, draws int) (*SideBySide, error) {
	if draws < 1 {
		return nil, fmt.Errorf("side by side: need at least one random mask, got %d", draws)
	}
	sp := info.Space
	if best.Mask.Layers != sp.Layers || best.Mask.Tasks != sp.Tasks || best.Mask.Projs != sp.Projs {
		return nil, fmt.Errorf("side by side: mask is %dx%dx%d, the family needs %dx%dx%d", best.Mask.Layers, best.Mask.Tasks,
			best.Mask.Projs, sp.Layers, sp.Tasks, sp.Projs)
	}
	count := best.Mask.Count()
	masks, err := enmp.RandomMasks(best.Mask, count, draws, seed)
	if err != nil {
		return nil, err
	}
	none := best.Mask.Clone()
	for u := 0; u < none.Units(); u++ {
		none.SetUnit(u, false)
	}
	reqs := []Request{{Op: "test", Mask: none.Key()}, {Op: "eval", Mask: best.Mask.Key(), Lambda: best.Lambda},
		{Op: "test", Mask: best.Mask.Key(), Lambda: best.Lambda}}
	for _, m := range masks {
		reqs = append(reqs, Request{Op: "eval", Mask: m.Key()}, Request{Op: "test", Mask: m.Key()})
	}
	evs, err := ev.Run(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("side by side: %v", err)
	}
	out := &SideBySide{Pruned: count, Seed: seed, Unpruned: Scores{Val: info.Baseline, Test: evs[0]},
		ENMP: Scores{Val: evs[1], Test: evs[2]}}
	var vals, tests []eval.Eval
	for i, m := range masks {
		d := RandomDraw{Mask: m, Indices: m.Indices(), Scores: Scores{Val: evs[3+2*i], Test: evs[4+2*i]}}
		out.Draws = append(out.Draws, d)
		vals, tests = append(vals, d.Val), append(tests, d.Test)
	}
	out.Random = Scores{Val: meanEval(vals), Test: meanEval(tests)}
	return out, nil
}

// meanEval averages evals field by field, summing x/n in order (as the
// results table averages the random masks' test means).
func meanEval(es []eval.Eval) eval.Eval {
	var m eval.Eval
	n := float64(len(es))
	for _, e := range es {
		if m.Acc == nil {
			m.Acc, m.Normalised = make([]float64, len(e.Acc)), make([]float64, len(e.Normalised))
		}
		for i := range e.Acc {
			m.Acc[i] += e.Acc[i] / n
		}
		for i := range e.Normalised {
			m.Normalised[i] += e.Normalised[i] / n
		}
		m.Mean += e.Mean / n
		m.Fitness += e.Fitness / n
	}
	return m
}

// SideBySide compares the best mask of a finished search with the unpruned
// merge and enmp.RandomDraws random masks of the same count, seeded with
// the run's seed (fetching the test split first if needed).
func (s *Session) SideBySide(ctx context.Context) (*SideBySide, error) {
	best, ok := s.S.Best()
	if !ok {
		return nil, errors.New("side by side: no generation evaluated yet")
	}
	if err := s.EnsureTest(ctx); err != nil {
		return nil, err
	}
	return Compare(ctx, s.ev, s.Info, best, s.Config.Seed, enmp.RandomDraws)
}

// Example is one test sample whose prediction the best mask changes.
type Example struct {
	SampleRef
	True     string `json:"true"`            // class names
	Unpruned string `json:"unpruned"`        // the unpruned merge's prediction
	ENMP     string `json:"enmp"`            // the best mask's prediction
	Image    string `json:"image,omitempty"` // vision: the sample as a data: URL PNG
	Text     string `json:"text,omitempty"`  // text: the sample, quoted and escaped
}

// TaskExamples are one task's fixed and broken samples.
type TaskExamples struct {
	Task    string    `json:"task"`
	Samples int       `json:"samples"`  // test samples of the task
	NFixed  int       `json:"n_fixed"`  // all samples the best mask fixes
	NBroken int       `json:"n_broken"` // all samples it breaks
	Fixed   []Example `json:"fixed"`    // the first few of them
	Broken  []Example `json:"broken"`
}

// Examples is the examples view: per task, test samples the unpruned merge
// gets wrong and the best mask right ("fixed") and the reverse ("broken").
type Examples struct {
	Tasks []TaskExamples `json:"tasks"`
}

// Pick is one task's choice of examples: sample indices.
type Pick struct {
	Fixed, Broken   []int
	NFixed, NBroken int
}

// PickExamples compares per-sample predictions of the unpruned merge and of
// the best mask with the true labels (per task, per test sample) and keeps,
// per task, the first perTask fixed and broken samples in split order.
func PickExamples(labels, unpruned, best [][]int32, perTask int) ([]Pick, error) {
	if len(unpruned) != len(labels) || len(best) != len(labels) {
		return nil, fmt.Errorf("examples: predictions for %d and %d tasks, labels for %d", len(unpruned), len(best), len(labels))
	}
	if perTask < 0 {
		return nil, fmt.Errorf("examples: negative number per task %d", perTask)
	}
	out := make([]Pick, len(labels))
	for t, y := range labels {
		if len(unpruned[t]) != len(y) || len(best[t]) != len(y) {
			return nil, fmt.Errorf("examples: task %d has %d labels, %d and %d predictions", t, len(y), len(unpruned[t]), len(best[t]))
		}
		p := &out[t]
		for i := range y {
			u, b := unpruned[t][i] == y[i], best[t][i] == y[i]
			switch {
			case !u && b:
				if p.NFixed++; len(p.Fixed) < perTask {
					p.Fixed = append(p.Fixed, i)
				}
			case u && !b:
				if p.NBroken++; len(p.Broken) < perTask {
					p.Broken = append(p.Broken, i)
				}
			}
		}
	}
	return out, nil
}

// ExamplesPerTask is how many fixed and broken samples the view shows per task.
const ExamplesPerTask = 3

// FindExamples builds the examples view of the best mask through ev (the
// test split must be loaded): per-sample test predictions of the unpruned
// merge and of best, the picked samples' bytes, drawn for the family.
func FindExamples(ctx context.Context, ev Evaluator, info Info, best search.Result, perTask int) (*Examples, error) {
	none := best.Mask.Clone()
	for u := 0; u < none.Units(); u++ {
		none.SetUnit(u, false)
	}
	rs, err := ev.Responses(ctx, []Request{{Op: "predict", Mask: none.Key()}, {Op: "predict", Mask: best.Mask.Key(), Lambda: best.Lambda}})
	if err != nil {
		return nil, fmt.Errorf("examples: %v", err)
	}
	picks, err := PickExamples(rs[0].Labels, rs[0].Pred, rs[1].Pred, perTask)
	if err != nil {
		return nil, err
	}
	if len(picks) != len(info.Tasks) || len(info.Classes) != len(info.Tasks) {
		return nil, fmt.Errorf("examples: predictions for %d tasks, the family has %d (%d with class names)", len(picks), len(info.Tasks), len(info.Classes))
	}
	var refs []SampleRef
	for t, p := range picks {
		for _, i := range append(append([]int(nil), p.Fixed...), p.Broken...) {
			refs = append(refs, SampleRef{Task: t, Index: i})
		}
	}
	bytesOf := map[SampleRef][]byte{}
	if len(refs) > 0 {
		ss, err := ev.Responses(ctx, []Request{{Op: "samples", Refs: refs}})
		if err != nil {
			return nil, fmt.Errorf("examples: %v", err)
		}
		if len(ss[0].Samples) != len(refs) {
			return nil, fmt.Errorf("examples: asked for %d samples, got %d", len(refs), len(ss[0].Samples))
		}
		for _, s := range ss[0].Samples {
			bytesOf[s.SampleRef] = s.X
		}
	}
	name := func(t int, c int32) string {
		if c >= 0 && int(c) < len(info.Classes[t]) {
			return info.Classes[t][c]
		}
		return fmt.Sprintf("class %d", c)
	}
	out := &Examples{}
	for t, p := range picks {
		te := TaskExamples{Task: info.Tasks[t], Samples: len(rs[0].Labels[t]), NFixed: p.NFixed, NBroken: p.NBroken}
		mk := func(i int) (Example, error) {
			r := SampleRef{Task: t, Index: i}
			e := Example{SampleRef: r, True: name(t, rs[0].Labels[t][i]), Unpruned: name(t, rs[0].Pred[t][i]), ENMP: name(t, rs[1].Pred[t][i])}
			x := bytesOf[r]
			switch data.Family(info.Family) {
			case data.Vision:
				img, err := SampleImage(x)
				if err != nil {
					return e, err
				}
				e.Image = img
			default:
				e.Text = SampleText(x)
			}
			return e, nil
		}
		for _, i := range p.Fixed {
			e, err := mk(i)
			if err != nil {
				return nil, err
			}
			te.Fixed = append(te.Fixed, e)
		}
		for _, i := range p.Broken {
			e, err := mk(i)
			if err != nil {
				return nil, err
			}
			te.Broken = append(te.Broken, e)
		}
		out.Tasks = append(out.Tasks, te)
	}
	return out, nil
}

// Examples builds the examples view of a finished search's best mask
// (fetching the test split first if needed).
func (s *Session) Examples(ctx context.Context, perTask int) (*Examples, error) {
	best, ok := s.S.Best()
	if !ok {
		return nil, errors.New("examples: no generation evaluated yet")
	}
	if err := s.EnsureTest(ctx); err != nil {
		return nil, err
	}
	return FindExamples(ctx, s.ev, s.Info, best, perTask)
}

// SampleImage draws one vision sample (3x32x32 bytes, channel-planar RGB)
// as a data: URL of a 32x32 PNG.
func SampleImage(x []byte) (string, error) {
	const side, plane = data.ImageSide, data.ImageSide * data.ImageSide
	if len(x) != data.ImageChannels*plane {
		return "", fmt.Errorf("image sample has %d bytes, want %d (3x%dx%d)", len(x), data.ImageChannels*plane, side, side)
	}
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := 0; y < side; y++ {
		for xx := 0; xx < side; xx++ {
			i := y*side + xx
			img.SetNRGBA(xx, y, color.NRGBA{R: x[i], G: x[plane+i], B: x[2*plane+i], A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// SampleText shows one text sample: its bytes up to the first zero, Go-quoted
// (non-printable characters and invalid UTF-8 escaped).
func SampleText(x []byte) string {
	if i := bytes.IndexByte(x, 0); i >= 0 {
		x = x[:i]
	}
	return strconv.Quote(string(x))
}
