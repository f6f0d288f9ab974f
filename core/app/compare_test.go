package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"os"
	"reflect"
	"strings"
	"testing"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/enmp"
	"enmplab/core/search"
	"enmplab/internal/devshards"
)

// finished runs the default search (short, wide) over n local workers.
func finished(t *testing.T, f *bundle.Family, n int) (*Session, enmp.Config) {
	t.Helper()
	st := Default()
	st.Iterations, st.Sigma0 = 4, 1.5
	cfg, err := st.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, info := newPool(t, f, cfg, n)
	s, err := NewSession(st, cfg, info, p)
	if err != nil {
		t.Fatal(err)
	}
	runSession(t, s)
	return s, cfg
}

// The side-by-side view equals the CLI's results cell for the same run
// (unpruned and ENMP test means, and the random ablation's mean, bit for
// bit); its random masks are the seeded draws, each pruning as many units
// as the best mask; 1 or 3 workers give the same view.
func TestSideBySideEqualsResultsCell(t *testing.T) {
	f := testFamily(t)
	ctx := context.Background()
	s, cfg := finished(t, f, 3)
	sbs, err := s.SideBySide(ctx)
	if err != nil {
		t.Fatal(err)
	}
	best, _ := s.S.Best()
	if sbs.Pruned != best.Mask.Count() || sbs.Pruned == 0 || len(sbs.Draws) != enmp.RandomDraws || sbs.Seed != cfg.Seed {
		t.Fatalf("pruned %d (best %d), %d draws, seed %d", sbs.Pruned, best.Mask.Count(), len(sbs.Draws), sbs.Seed)
	}
	want, _ := enmp.RandomMasks(best.Mask, best.Mask.Count(), enmp.RandomDraws, cfg.Seed)
	for i, d := range sbs.Draws {
		if d.Mask.Count() != sbs.Pruned || !d.Mask.Equal(want[i]) || !reflect.DeepEqual(d.Indices, want[i].Indices()) {
			t.Fatalf("draw %d: %s, want %s", i, d.Mask.Key(), want[i].Key())
		}
	}
	cells, err := enmp.Results(ctx, []enmp.ResultsJob{{Family: f, Base: cfg}}, []string{cfg.Method}, []uint64{cfg.Seed}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := cells[0]
	if c.RandomTest != sbs.Random.Test.Mean || c.ENMPTest != sbs.ENMP.Test.Mean || c.UnprunedTest != sbs.Unpruned.Test.Mean ||
		c.ENMPVal != sbs.ENMP.Val.Mean || c.UnprunedVal != sbs.Unpruned.Val.Mean || c.Pruned != sbs.Pruned {
		t.Fatalf("results cell %+v\nside by side %+v", c, sbs)
	}
	// The random row's per-task numbers are the draws' averages.
	for k := range f.Tasks {
		sum := 0.0
		for _, d := range sbs.Draws {
			sum += d.Val.Normalised[k] / float64(len(sbs.Draws))
		}
		if sum != sbs.Random.Val.Normalised[k] {
			t.Fatalf("task %d: random val %v, draws average %v", k, sbs.Random.Val.Normalised[k], sum)
		}
	}
	one, _ := finished(t, f, 1)
	sbs1, err := one.SideBySide(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sbs1, sbs) {
		t.Fatal("side by side differs between 1 and 3 workers")
	}
	if _, err := Compare(ctx, one.ev, one.Info, search.Result{Candidate: search.Candidate{Mask: search.NewMask(1, 1)}}, 1, 5); err == nil {
		t.Fatal("mask of the wrong shape accepted")
	}
	if _, err := Compare(ctx, one.ev, one.Info, best, 1, 0); err == nil {
		t.Fatal("zero draws accepted")
	}
}

// The examples view: every fixed sample is wrong unpruned and right with the
// best mask, every broken one the reverse; per task, fixed minus broken is
// the change in test accuracy; images decode to 32x32 PNGs.
func TestExamples(t *testing.T) {
	f, err := devshards.Build(devshards.Options{Family: data.Vision, Tasks: 3, Val: 12, Test: 40, Classes: 3, Seed: 5, Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, _ := finished(t, f, 2)
	if _, err := s.Examples(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Masks pruning more than the short search does, so predictions change.
	shown := 0
	for _, idx := range [][]int{{0, 1, 2}, {0, 4}, {1, 2, 3, 5}} {
		m, _ := search.MaskFromIndices(2, 3, idx)
		best := search.Result{Candidate: search.Candidate{Mask: m}}
		ex, err := FindExamples(ctx, s.ev, s.Info, best, 2)
		if err != nil {
			t.Fatal(err)
		}
		none := search.NewMask(2, 3)
		evs, err := s.ev.Run(ctx, []Request{{Op: "test", Mask: none.Key()}, {Op: "test", Mask: m.Key()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Tasks) != len(f.Tasks) {
			t.Fatalf("%d tasks", len(ex.Tasks))
		}
		for k, te := range ex.Tasks {
			n := f.Tasks[k].Test.Len()
			if te.Task != f.Tasks[k].Name || te.Samples != n {
				t.Fatalf("task %d: %+v", k, te)
			}
			if d := float64(te.NFixed-te.NBroken) / float64(n); abs(d-(evs[1].Acc[k]-evs[0].Acc[k])) > 1e-12 {
				t.Fatalf("task %s: %d fixed, %d broken of %d, accuracy %v -> %v", te.Task, te.NFixed, te.NBroken, n, evs[0].Acc[k], evs[1].Acc[k])
			}
			if len(te.Fixed) != min(2, te.NFixed) || len(te.Broken) != min(2, te.NBroken) {
				t.Fatalf("task %s: %d/%d fixed, %d/%d broken shown", te.Task, len(te.Fixed), te.NFixed, len(te.Broken), te.NBroken)
			}
			for _, e := range te.Fixed {
				if e.Unpruned == e.True || e.ENMP != e.True || e.True != f.Tasks[k].Classes[f.Tasks[k].Test.Y[e.Index]] {
					t.Fatalf("fixed example %+v", e)
				}
			}
			for _, e := range te.Broken {
				if e.Unpruned != e.True || e.ENMP == e.True || e.True != f.Tasks[k].Classes[f.Tasks[k].Test.Y[e.Index]] {
					t.Fatalf("broken example %+v", e)
				}
			}
			for _, e := range append(te.Fixed, te.Broken...) {
				shown++
				b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e.Image, "data:image/png;base64,"))
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 32 {
					t.Fatalf("example image: %v", err)
				}
				want, _ := SampleImage(f.Tasks[k].Test.Sample(e.Index, data.SampleSize(data.Vision)))
				if e.Image != want {
					t.Fatalf("example %+v shows another sample", e.SampleRef)
				}
			}
		}
	}
	if shown == 0 {
		t.Fatal("no mask changed a test prediction: the test exercises nothing")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestPickExamples(t *testing.T) {
	y := [][]int32{{0, 1, 2, 0, 1}, {1, 1}}
	u := [][]int32{{1, 1, 0, 0, 0}, {1, 0}}
	b := [][]int32{{0, 0, 2, 0, 1}, {0, 1}}
	p, err := PickExamples(y, u, b, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Pick{{Fixed: []int{0, 2}, Broken: []int{1}, NFixed: 3, NBroken: 1}, {Fixed: []int{1}, Broken: []int{0}, NFixed: 1, NBroken: 1}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	for _, bad := range [][3][][]int32{{y, u, b[:1]}, {y, u, {{0}, {0, 1}}}} {
		if _, err := PickExamples(bad[0], bad[1], bad[2], 2); err == nil {
			t.Error("mismatched predictions accepted")
		}
	}
	if _, err := PickExamples(y, u, b, -1); err == nil {
		t.Error("negative count accepted")
	}
}

func TestSampleImageAndText(t *testing.T) {
	x := make([]byte, 3*32*32)
	x[5*32+7], x[1024+5*32+7], x[2048+5*32+7] = 200, 100, 50 // pixel (x 7, y 5)
	u, err := SampleImage(x)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(u, "data:image/png;base64,"))
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, bl, _ := img.At(7, 5).RGBA(); r>>8 != 200 || g>>8 != 100 || bl>>8 != 50 {
		t.Fatalf("pixel (7,5) = %d %d %d", r>>8, g>>8, bl>>8)
	}
	if _, err := SampleImage(x[:100]); err == nil {
		t.Fatal("short image accepted")
	}
	if got := SampleText([]byte("Paris\x01\xff\x00tail")); got != `"Paris\x01\xff"` {
		t.Fatalf("text %s", got)
	}
	if got := SampleText([]byte("café")); got != `"café"` {
		t.Fatalf("text %s", got)
	}
}

// predict and samples are refused before the test split is loaded, and
// samples outside the split are refused, not a panic.
func TestPredictAndSamplesRequests(t *testing.T) {
	dir, catalog, f := shardDir(t)
	cfg, _ := Default().Config(nil)
	all := bundle.DirOpener(dir)
	var testName string
	for _, fi := range f.Manifest.Files {
		if bundle.IsTestFile(f.Manifest, fi) {
			testName = fi.Name
		}
	}
	e, err := NewEngine(catalog, "vision", func(name string) ([]byte, error) {
		if name == testName {
			return nil, os.ErrNotExist
		}
		return all(name)
	}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	none := search.NewMask(2, 3).Key()
	for _, r := range []Request{{Op: "predict", Mask: none}, {Op: "samples", Refs: []SampleRef{{0, 0}}}} {
		if resp := e.Handle(r); !strings.Contains(resp.Error, "not loaded") {
			t.Fatalf("%s before loadtest: %+v", r.Op, resp)
		}
	}
	b, _ := all(testName)
	if resp := e.Handle(Request{Op: "loadtest", Files: map[string][]byte{testName: b}}); resp.Error != "" {
		t.Fatal(resp.Error)
	}
	resp := e.Handle(Request{Op: "samples", Refs: []SampleRef{{1, 3}}})
	if resp.Error != "" || len(resp.Samples) != 1 || resp.Samples[0].Label != f.Tasks[1].Test.Y[3] ||
		!bytes.Equal(resp.Samples[0].X, f.Tasks[1].Test.Sample(3, data.SampleSize(data.Vision))) {
		t.Fatalf("samples: %+v", resp.Error)
	}
	for _, ref := range []SampleRef{{3, 0}, {-1, 0}, {0, 12}, {0, -1}} {
		if resp := e.Handle(Request{Op: "samples", Refs: []SampleRef{ref}}); resp.Error == "" {
			t.Errorf("sample %+v accepted", ref)
		}
	}
	resp = e.Handle(Request{Op: "predict", Mask: none})
	if resp.Error != "" || len(resp.Pred) != 3 || len(resp.Labels) != 3 || len(resp.Pred[0]) != 12 {
		t.Fatalf("predict: %+v", resp)
	}
	if resp := e.Handle(Request{Op: "predict", Mask: "garbage"}); resp.Error == "" {
		t.Fatal("bad mask accepted")
	}
}
