package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"enmplab/core/eval"
	"enmplab/core/search"
)

// Worker answers requests one at a time. An error means the worker died or
// stopped answering: the request was not served and the worker must be
// replaced. (A request the engine refuses comes back as Response.Error.)
type Worker interface {
	Do(ctx context.Context, r Request) (Response, error)
}

// MaxTries bounds how often one request is re-queued after worker deaths.
const MaxTries = 3

// Pool schedules requests over workers: a shared queue of idle workers, one
// request in flight per worker, a dead worker restarted and its request
// re-queued, and answers placed by position, so the outcome never depends
// on the number of workers or on who finished first. Several Runs may be
// in flight at once (a generation and a hand-toggled mask): they share the
// idle workers. It also remembers every answer by mask, so a mask is
// computed once per page whatever worker it lands on.
type Pool struct {
	mu       sync.Mutex
	workers  []Worker
	free     chan int // idle workers
	restart  func(i int) (Worker, error)
	cache    map[string]Response
	nextID   int
	loadMu   sync.Mutex
	Restarts int // workers replaced so far
	Computed int // requests actually sent to a worker
}

// NewPool runs over ws; restart(i) builds a replacement for worker i.
func NewPool(ws []Worker, restart func(i int) (Worker, error)) (*Pool, error) {
	if len(ws) == 0 {
		return nil, errors.New("pool: no workers")
	}
	p := &Pool{workers: ws, restart: restart, cache: map[string]Response{}, free: make(chan int, len(ws))}
	for i := range ws {
		p.free <- i
	}
	return p, nil
}

// Size is the number of workers.
func (p *Pool) Size() int { return len(p.workers) }

func cacheKey(r Request) string { return fmt.Sprintf("%s|%s|%v|%v", r.Op, r.Mask, r.Lambda, r.Refs) }

// Cached returns the answer to r if some Run already computed it.
func (p *Pool) Cached(r Request) (eval.Eval, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.cache[cacheKey(r)]
	return e.Eval, ok
}

// Run answers every request, in order. The first refused request or an
// unrecoverable worker failure stops it with an error.
func (p *Pool) Run(ctx context.Context, reqs []Request) ([]eval.Eval, error) {
	rs, err := p.Responses(ctx, reqs)
	if err != nil {
		return nil, err
	}
	out := make([]eval.Eval, len(rs))
	for i, r := range rs {
		out[i] = r.Eval
	}
	return out, nil
}

// Responses is Run with the whole answers (predictions, samples).
func (p *Pool) Responses(ctx context.Context, reqs []Request) ([]Response, error) {
	out := make([]Response, len(reqs))
	first := map[string]int{} // unique key -> index of the request computing it
	var todo []int
	p.mu.Lock()
	for i, r := range reqs {
		k := cacheKey(r)
		if e, ok := p.cache[k]; ok {
			out[i] = e
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = i
			todo = append(todo, i)
		}
	}
	p.mu.Unlock()
	if len(todo) > 0 {
		if err := p.schedule(ctx, reqs, todo, out); err != nil {
			return nil, err
		}
	}
	for i, r := range reqs {
		if j, ok := first[cacheKey(r)]; ok && j != i {
			out[i] = out[j]
		}
	}
	return out, nil
}

func (p *Pool) schedule(ctx context.Context, reqs []Request, todo []int, out []Response) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, i := range todo {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := p.do(ctx, -1, reqs[i])
			if err == nil && resp.Error != "" {
				err = errors.New(resp.Error)
			}
			if err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
				return
			}
			p.mu.Lock()
			out[i] = resp
			p.cache[cacheKey(reqs[i])] = resp
			p.mu.Unlock()
		}(i)
	}
	wg.Wait()
	return firstErr
}

// do sends r to an idle worker (or to worker w when w >= 0, which the
// caller already holds), restarting dead workers up to MaxTries times.
func (p *Pool) do(ctx context.Context, w int, r Request) (Response, error) {
	held := w >= 0
	for tries := 0; ; {
		if !held {
			select {
			case w = <-p.free:
			case <-ctx.Done():
				return Response{}, ctx.Err()
			}
		}
		p.mu.Lock()
		worker := p.workers[w]
		p.nextID++
		r.ID = p.nextID
		p.mu.Unlock()
		resp, err := worker.Do(ctx, r)
		if err == nil || ctx.Err() != nil {
			if !held {
				p.free <- w
			}
			if err == nil {
				p.mu.Lock()
				p.Computed++
				p.mu.Unlock()
			}
			return resp, err
		}
		tries++
		if tries >= MaxTries {
			if !held {
				p.free <- w
			}
			return Response{}, fmt.Errorf("pool: workers died %d times on one request: %v", tries, err)
		}
		nw, rerr := p.restart(w)
		if rerr != nil {
			if !held {
				p.free <- w
			}
			return Response{}, fmt.Errorf("pool: restarting worker %d: %v", w, rerr)
		}
		p.mu.Lock()
		p.workers[w] = nw
		p.Restarts++
		p.mu.Unlock()
		if !held {
			p.free <- w
		}
	}
}

// LoadTest gives every worker the test split (files: name -> bytes): the
// first worker measures the experts' test accuracies, the others reuse
// them. It holds all workers while it runs, and returns the accuracies.
func (p *Pool) LoadTest(ctx context.Context, files map[string][]byte) ([]float64, error) {
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	n := len(p.workers)
	held := make([]int, 0, n)
	defer func() {
		for _, w := range held {
			p.free <- w
		}
	}()
	for len(held) < n {
		select {
		case w := <-p.free:
			held = append(held, w)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	load := func(w int, et []float64) ([]float64, error) {
		resp, err := p.do(ctx, w, Request{Op: "loadtest", Files: files, ExpertTest: et})
		if err == nil && resp.Error != "" {
			err = errors.New(resp.Error)
		}
		return resp.Eval.Acc, err
	}
	et, err := load(held[0], nil)
	if err != nil {
		return nil, err
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, w := range held[1:] {
		wg.Add(1)
		go func(i, w int) {
			defer wg.Done()
			_, errs[i] = load(w, et)
		}(i, w)
	}
	wg.Wait()
	return et, errors.Join(errs...)
}

// EvalFunc evaluates search candidates on validation through the pool:
// the same Results the native evaluator's EvalFunc gives.
func (p *Pool) EvalFunc() search.EvalFunc {
	return func(ctx context.Context, cands []search.Candidate) ([]search.Result, error) {
		reqs := make([]Request, len(cands))
		for i, c := range cands {
			reqs[i] = Request{Op: "eval", Mask: c.Mask.Key(), Lambda: c.Lambda}
		}
		evs, err := p.Run(ctx, reqs)
		if err != nil {
			return nil, err
		}
		out := make([]search.Result, len(cands))
		for i, c := range cands {
			out[i] = search.Result{Candidate: c, Fitness: evs[i].Fitness, PerTask: evs[i].Normalised}
		}
		return out, nil
	}
}

// Eval evaluates one mask on validation ("eval") or test ("test").
func (p *Pool) Eval(ctx context.Context, op string, m search.Mask, lambda float64) (eval.Eval, error) {
	evs, err := p.Run(ctx, []Request{{Op: op, Mask: m.Key(), Lambda: lambda}})
	if err != nil {
		return eval.Eval{}, err
	}
	return evs[0], nil
}

// LocalWorker runs an Engine in-process (natively: tests and the CLI's
// reference; in the browser the engine lives in a Web Worker instead).
type LocalWorker struct{ E *Engine }

// Do answers r.
func (w LocalWorker) Do(ctx context.Context, r Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	return w.E.Handle(r), nil
}
