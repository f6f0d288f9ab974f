package app

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/enmp"
	"enmplab/core/search"
	"enmplab/internal/devshards"
)

func testFamily(t *testing.T) *bundle.Family {
	t.Helper()
	f, err := devshards.Build(devshards.Options{Family: data.Vision, Tasks: 3, Val: 12, Test: 12, Classes: 3, Seed: 5, Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestHashRoundTrip(t *testing.T) {
	s := Default()
	s.Method, s.Seed, s.Popsize, s.Autorun, s.Hide, s.DropRate, s.Shards = "ties", 7, 12, true, []string{"seed", "method"}, 0.3, "https://x.example/a b"
	got, err := ParseHash("#" + s.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
	}
	if d, err := ParseHash(""); err != nil || !reflect.DeepEqual(d, Default()) {
		t.Fatalf("empty hash: %+v %v", d, err)
	}
}

func TestHashRefusesBadInput(t *testing.T) {
	for _, h := range []string{"pop=x", "nosuch=1", "family=audio", "pop=1", "method=zzz", "seed=-1", "sigma0=0", "bogus_hide=true", "%zz=1", "iters=1e9"} {
		if _, err := ParseHash(h); err == nil {
			t.Errorf("%q: no error", h)
		}
	}
}

func newPool(t *testing.T, f *bundle.Family, cfg enmp.Config, n int) (*Pool, Info) {
	t.Helper()
	var ws []Worker
	var info Info
	for i := 0; i < n; i++ {
		e, err := NewEngineFamily(f, cfg)
		if err != nil {
			t.Fatal(err)
		}
		info = e.Info()
		ws = append(ws, LocalWorker{e})
	}
	p, err := NewPool(ws, func(int) (Worker, error) {
		e, err := NewEngineFamily(f, cfg)
		return LocalWorker{e}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, info
}

func runSession(t *testing.T, s *Session) {
	t.Helper()
	for !s.Done() {
		if err := s.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// The page's session over 1 or N workers equals the native enmp.Run.
func TestSessionEqualsNative(t *testing.T) {
	f := testFamily(t)
	st := Default()
	st.Iterations = 6
	cfg, err := st.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	native, err := enmp.Run(context.Background(), f, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3} {
		p, info := newPool(t, f, cfg, n)
		s, err := NewSession(st, cfg, info, p)
		if err != nil {
			t.Fatal(err)
		}
		runSession(t, s)
		r, err := s.Report(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Indices, native.Indices) || r.BestFitness != native.BestFitness ||
			!reflect.DeepEqual(r.Rows, native.Rows) || r.ENMP != native.ENMP || r.Unpruned != native.Unpruned {
			t.Fatalf("%d workers: page %+v\nnative %+v", n, r, native)
		}
		if len(s.Gens) != native.Generations || s.Title() != "ENMP - done (6 gens)" {
			t.Fatalf("%d workers: %d gens, title %q", n, len(s.Gens), s.Title())
		}
	}
}

// dying fails its first calls, like a crashed Web Worker.
type dying struct {
	mu   *sync.Mutex
	left *int
	w    Worker
}

func (d dying) Do(ctx context.Context, r Request) (Response, error) {
	d.mu.Lock()
	dead := *d.left > 0
	if dead {
		*d.left--
	}
	d.mu.Unlock()
	if dead {
		return Response{}, errors.New("worker terminated")
	}
	return d.w.Do(ctx, r)
}

func TestPoolRequeuesOnDeath(t *testing.T) {
	f := testFamily(t)
	cfg, _ := Default().Config(nil)
	e, err := NewEngineFamily(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	left := 2
	ws := []Worker{dying{&mu, &left, LocalWorker{e}}, dying{&mu, &left, LocalWorker{e}}}
	p, _ := NewPool(ws, func(int) (Worker, error) { return LocalWorker{e}, nil })
	sp := e.Info().Space
	var cands []search.Candidate
	for i := 0; i < 5; i++ {
		m, _ := search.MaskFromIndices(sp.Layers, sp.Tasks, []int{i})
		cands = append(cands, search.Candidate{Index: i, Mask: m})
	}
	res, err := p.EvalFunc()(context.Background(), cands)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		want, _ := e.ev.Evaluate(cands[i].Mask, 0)
		if r.Index != i || r.Fitness != want.Fitness {
			t.Fatalf("result %d: %+v, want fitness %v", i, r, want.Fitness)
		}
	}
	// Each of the two dying workers dies on its first request, if it gets
	// one: under js/wasm's single thread the first replacement may take every
	// remaining candidate before the second worker is scheduled.
	if p.Restarts < 1 || p.Restarts > 2 {
		t.Fatalf("restarts %d, want 1 or 2", p.Restarts)
	}
	// A worker that always dies ends in an error, not a hang.
	always := 1 << 30
	p2, _ := NewPool([]Worker{dying{&mu, &always, LocalWorker{e}}}, func(int) (Worker, error) { return dying{&mu, &always, LocalWorker{e}}, nil })
	if _, err := p2.EvalFunc()(context.Background(), cands); err == nil || !strings.Contains(err.Error(), "died") {
		t.Fatalf("err %v", err)
	}
	// A refused request is an error.
	if _, err := p.Run(context.Background(), []Request{{Op: "eval", Mask: "garbage"}}); err == nil {
		t.Fatal("bad mask accepted")
	}
}

func TestCheckpointResume(t *testing.T) {
	f := testFamily(t)
	st := Default()
	st.Iterations = 5
	cfg, _ := st.Config(nil)
	p, info := newPool(t, f, cfg, 2)
	full, _ := NewSession(st, cfg, info, p)
	runSession(t, full)
	half, _ := NewSession(st, cfg, info, p)
	for i := 0; i < 2; i++ {
		if err := half.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := half.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	other := st
	other.Seed++
	if _, err := Resume(ck, other, cfg, info, p); err == nil {
		t.Fatal("checkpoint of other settings accepted")
	}
	if _, err := Resume([]byte("{"), st, cfg, info, p); err == nil {
		t.Fatal("garbage checkpoint accepted")
	}
	res, err := Resume(ck, st, cfg, info, p)
	if err != nil {
		t.Fatal(err)
	}
	runSession(t, res)
	a, _ := full.S.Best()
	b, _ := res.S.Best()
	if a.Fitness != b.Fitness || a.Mask.Key() != b.Mask.Key() || len(res.Gens) != len(full.Gens) {
		t.Fatalf("resumed run differs: %v %v", a, b)
	}
	if !reflect.DeepEqual(full.Gens, res.Gens) {
		t.Fatal("history differs after resume")
	}
}

func TestDriver(t *testing.T) {
	f := testFamily(t)
	st := Default()
	st.Iterations = 4
	cfg, _ := st.Config(nil)
	p, info := newPool(t, f, cfg, 2)
	fresh := func() (*Session, error) { return NewSession(st, cfg, info, p) }
	s, _ := fresh()
	snaps := make(chan Snapshot, 100)
	var saved [][]byte
	d := NewDriver(s, fresh, func(sn Snapshot) { snaps <- sn }, func(b []byte) { saved = append(saved, b) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Loop(ctx)
	wait := func(want string, gens int) Snapshot {
		t.Helper()
		for sn := range snaps {
			if sn.Phase == want && len(sn.Gens) == gens {
				return sn
			}
			if sn.Phase == "error" {
				t.Fatal(sn.Err)
			}
		}
		return Snapshot{}
	}
	wait("ready", 0)
	d.Send("step")
	if sn := wait("paused", 1); sn.Title != "ENMP - gen 1/4" {
		t.Fatalf("title %q", sn.Title)
	}
	d.Send("run")
	sn := wait("done", 4)
	if sn.Report == nil || sn.Report.Generations != 4 {
		t.Fatalf("report %+v", sn.Report)
	}
	for sn.Examples == nil {
		sn = wait("done", 4)
		if sn.Err != nil || sn.Report == nil {
			t.Fatalf("after the report: %+v", sn)
		}
	}
	if sn.Side == nil || sn.Side.Pruned != sn.Report.Pruned || len(sn.Examples.Tasks) != len(info.Tasks) {
		t.Fatalf("side by side %+v, examples %+v", sn.Side, sn.Examples)
	}
	d.Send("pause") // the finished run's views stay
	if sn := wait("done", 4); sn.Report == nil || sn.Side == nil || sn.Examples == nil {
		t.Fatalf("pause after the end dropped the views: %+v", sn)
	}
	d.Send("reset")
	wait("ready", 0)
	if len(saved) != 5 || saved[4] != nil {
		t.Fatalf("saved %d checkpoints", len(saved))
	}
}
