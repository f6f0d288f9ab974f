package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/enmp"
	"enmplab/core/nn"
	"enmplab/core/search"
	"enmplab/core/shard"
	"enmplab/internal/devshards"
)

// shardDir writes the test family to a directory, as the server ships it.
func shardDir(t *testing.T) (dir string, catalog []byte, f *bundle.Family) {
	t.Helper()
	dir = t.TempDir()
	o := devshards.Options{Family: data.Vision, Tasks: 3, Val: 12, Test: 12, Classes: 3, Seed: 5, Layers: 2}
	if err := devshards.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	catalog, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err = bundle.LoadDir(dir, "vision")
	if err != nil {
		t.Fatal(err)
	}
	return dir, catalog, f
}

// Engines started without the test split (the browser's first load), the
// first one measuring the references and the others reusing them, give
// the same report as the native run once the test split is loaded at the end.
func TestDeferredTestSplitEqualsNative(t *testing.T) {
	dir, catalog, f := shardDir(t)
	st := Default()
	st.Iterations = 4
	cfg, err := st.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	native, err := enmp.Run(context.Background(), f, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var testName string
	for _, fi := range f.Manifest.Files {
		if bundle.IsTestFile(f.Manifest, fi) {
			testName = fi.Name
		}
	}
	if testName == "" {
		t.Fatal("no test file in the manifest")
	}
	all := bundle.DirOpener(dir)
	noTest := func(name string) ([]byte, error) {
		if name == testName {
			return nil, os.ErrNotExist // not fetched at start
		}
		return all(name)
	}
	first, err := NewEngine(catalog, "vision", noTest, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := first.Info()
	if info.HasTest {
		t.Fatal("engine claims the test split")
	}
	if r := first.Handle(Request{Op: "test", Mask: search.NewMask(2, 3).Key()}); !strings.Contains(r.Error, "not loaded") {
		t.Fatalf("test before loadtest: %+v", r)
	}
	second, err := NewEngine(catalog, "vision", noTest, cfg, info.Known())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(second.Info(), info) {
		t.Fatalf("engine from known references differs:\n%+v\n%+v", second.Info(), info)
	}
	p, err := NewPool([]Worker{LocalWorker{first}, LocalWorker{second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(st, cfg, info, p)
	if err != nil {
		t.Fatal(err)
	}
	fetched := 0
	s.TestFiles = func(ctx context.Context) (map[string][]byte, error) {
		fetched++
		b, err := all(testName)
		return map[string][]byte{testName: b}, err
	}
	runSession(t, s)
	r, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fetched != 1 || !reflect.DeepEqual(r.Rows, native.Rows) || r.ENMP != native.ENMP || r.Unpruned != native.Unpruned ||
		!reflect.DeepEqual(r.Indices, native.Indices) {
		t.Fatalf("fetched %d; page %+v\nnative %+v", fetched, r, native)
	}
	// A corrupt test file is refused with its name.
	third, _ := NewEngine(catalog, "vision", noTest, cfg, info.Known())
	b, _ := all(testName)
	b = append([]byte(nil), b...)
	b[len(b)-1] ^= 1
	if resp := third.Handle(Request{Op: "loadtest", Files: map[string][]byte{testName: b}}); !strings.Contains(resp.Error, testName) {
		t.Fatalf("corrupt test split: %+v", resp)
	}
}

func TestToggleAndLeaveOneOut(t *testing.T) {
	f := testFamily(t)
	st := Default()
	cfg, _ := st.Config(nil)
	p, info := newPool(t, f, cfg, 2)
	s, _ := NewSession(st, cfg, info, p)
	loo, err := s.LeaveOneOut(1, 2)
	if err != nil || !reflect.DeepEqual(loo.Indices(), []int{1*3 + 2}) {
		t.Fatalf("leave-one-out mask %v %v", loo.Indices(), err)
	}
	back, _ := Toggle(loo, 1, 2)
	if back.Count() != 0 || loo.Count() != 1 {
		t.Fatal("toggle changed its input or did not flip")
	}
	if _, err := Toggle(loo, 2, 0); err == nil {
		t.Fatal("module outside the grid accepted")
	}
	e, err := s.EvalMask(context.Background(), loo)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewEngineFamily(f, cfg)
	w := want.Handle(Request{Op: "eval", Mask: loo.Key()})
	if !reflect.DeepEqual(e, w.Eval) {
		t.Fatalf("hand mask %+v, engine %+v", e, w.Eval)
	}
	if _, err := s.EvalMask(context.Background(), search.NewMask(3, 3)); err == nil {
		t.Fatal("mask of the wrong shape accepted")
	}
	// Hand evaluations while a generation runs: both complete, same numbers.
	done := make(chan error, 1)
	go func() { done <- s.Step(context.Background()) }()
	for l := 0; l < 2; l++ {
		m, _ := s.LeaveOneOut(l, 0)
		if _, err := s.EvalMask(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestExports(t *testing.T) {
	f := testFamily(t)
	st := Default()
	st.Iterations = 3
	st.ValPerTask = 0
	cfg, _ := st.Config(nil)
	p, info := newPool(t, f, cfg, 2)
	s, _ := NewSession(st, cfg, info, p)
	runSession(t, s)
	r, err := s.Report(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Mask JSON: grid and the reference's indices agree.
	b, err := MaskJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var me MaskExport
	if err := json.Unmarshal(b, &me); err != nil {
		t.Fatal(err)
	}
	var fromGrid []int
	for l, row := range me.Grid {
		for tk, v := range row {
			if v == 1 {
				fromGrid = append(fromGrid, l*len(me.Tasks)+tk)
			}
		}
	}
	if me.Layers != 2 || len(me.Tasks) != 3 || !reflect.DeepEqual(fromGrid, me.Indices) && !(len(fromGrid) == 0 && len(me.Indices) == 0) ||
		!reflect.DeepEqual(me.Indices, r.Indices) && len(r.Indices) > 0 {
		t.Fatalf("mask export %s vs report indices %v", b, r.Indices)
	}
	if _, err := MaskJSON(nil); err == nil {
		t.Fatal("export without a report")
	}
	// Run log: every candidate of every generation, in CSV and JSON.
	c, err := RunLogCSV(info, s.Gens)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(c)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3*st.Popsize || len(rows[0]) != 9+3 || rows[0][len(rows[0])-1] != "norm_"+info.Tasks[2] {
		t.Fatalf("csv: %d rows, header %v", len(rows), rows[0])
	}
	j, err := RunLogJSON(st, info, s.Gens)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Candidates []LogRow `json:"candidates"`
	}
	if err := json.Unmarshal(j, &log); err != nil || len(log.Candidates) != 3*st.Popsize {
		t.Fatalf("json log: %d candidates, %v", len(log.Candidates), err)
	}
	// Merged adapter: re-read, W0 + B A gives back the merged model the
	// evaluator scores (same validation accuracies).
	e, err := NewEngineFamily(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mb, cb, err := MergedAdapter(e.Evaluator(), f, r.Mask, r.BestLambda)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := shard.ParseAdapterConfig(cb)
	if err != nil || ac.R != f.Config.Width || ac.Scale() != 1 {
		t.Fatalf("adapter config %s: %v", cb, err)
	}
	sf, err := shard.Decode("adapter_model.safetensors", mb)
	if err != nil {
		t.Fatal(err)
	}
	d := f.Config.Width
	merged := f.Backbone.ShallowCopy()
	for l := 0; l < f.Config.Layers; l++ {
		phis, _ := e.Evaluator().Phi(r.Mask, l)
		for pi := range phis {
			A, err := sf.F32(loraTensor(l, pi, "A"), d, d)
			if err != nil {
				t.Fatal(err)
			}
			B, err := sf.F32(loraTensor(l, pi, "B"), d, d)
			if err != nil {
				t.Fatal(err)
			}
			w := append([]float32(nil), f.Backbone.Blocks[l].Proj(pi)...)
			for i := 0; i < d; i++ {
				for k := 0; k < d; k++ {
					var s float32
					for j := 0; j < d; j++ {
						s += B[i*d+j] * A[j*d+k]
					}
					w[i*d+k] += s
					if want := f.Backbone.Blocks[l].Proj(pi)[i*d+k] + float32(r.BestLambda)*phis[pi][i*d+k]; w[i*d+k] != want {
						t.Fatalf("layer %d proj %d (%d,%d): %v, want W0 + lambda*Phi = %v", l, pi, i, k, w[i*d+k], want)
					}
				}
			}
			merged.Blocks[l].SetProj(pi, w)
		}
	}
	want, _ := e.Evaluator().Evaluate(r.Mask, r.BestLambda)
	for tk, task := range f.Tasks {
		feat, _ := merged.Forward(task.Val.X, task.Val.Len(), false)
		if acc := accuracy(f, tk, feat, task.Val.Y); acc != want.Acc[tk] {
			t.Fatalf("task %s: re-read adapter scores %v, evaluator %v", task.Name, acc, want.Acc[tk])
		}
	}
}

func accuracy(f *bundle.Family, t int, feat []float32, y []int32) float64 {
	h := f.Heads[t]
	n := len(y)
	pred := nn.Predict(h.Logits(feat, n, f.Config.Width), n, h.Classes)
	ok := 0
	for i, p := range pred {
		if p == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(n)
}

// The page's settings and the CLI fill tuned values through one function.
func TestConfigUsesTunedApply(t *testing.T) {
	tu, err := enmp.ParseTuned([]byte(`{"format":"enmp-lab-tuned/1","families":{"vision":{"ties":{"lambda":0.7,"topk":0.3}}}}`))
	if err != nil {
		t.Skipf("tuned format differs: %v", err)
	}
	st := Default()
	st.Method = "ties"
	c, err := st.Config(tu)
	if err != nil {
		t.Fatal(err)
	}
	cli := enmp.Config{Method: "ties"}
	tu.Apply("vision", &cli)
	if c.Lambda != 0.7 || c.Params != cli.Params || cli.Lambda != 0.7 {
		t.Fatalf("page %+v, cli %+v", c, cli)
	}
	st.DropRate, st.TopKMerge = 0.5, 0.9
	c, _ = st.Config(tu)
	if c.Params.TopK != 0.9 || c.Params.DropRate != 0.5 {
		t.Fatalf("overrides lost: %+v", c.Params)
	}
	var none *enmp.Tuned
	none.Apply("vision", &cli) // nil-safe
}
