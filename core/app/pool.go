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

// Pool schedules requests over workers: a shared queue, one request in
// flight per worker, a dead worker restarted and its request re-queued, and
// answers placed by position, so the outcome never depends on the number of
// workers or on who finished first. It also remembers every answer by mask,
// so a mask is computed once per page whatever worker it lands on.
type Pool struct {
	mu       sync.Mutex
	workers  []Worker
	restart  func(i int) (Worker, error)
	cache    map[string]eval.Eval
	Restarts int // workers replaced so far
	Computed int // requests actually sent to a worker
}

// NewPool runs over ws; restart(i) builds a replacement for worker i.
func NewPool(ws []Worker, restart func(i int) (Worker, error)) (*Pool, error) {
	if len(ws) == 0 {
		return nil, errors.New("pool: no workers")
	}
	return &Pool{workers: ws, restart: restart, cache: map[string]eval.Eval{}}, nil
}

// Size is the number of workers.
func (p *Pool) Size() int { return len(p.workers) }

func cacheKey(r Request) string { return fmt.Sprintf("%s|%s|%v", r.Op, r.Mask, r.Lambda) }

// Run answers every request, in order. The first refused request or an
// unrecoverable worker failure stops it with an error.
func (p *Pool) Run(ctx context.Context, reqs []Request) ([]eval.Eval, error) {
	out := make([]eval.Eval, len(reqs))
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
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range reqs {
		k := cacheKey(r)
		if j := first[k]; j != i {
			if e, ok := p.cache[k]; ok {
				out[i] = e
			} else {
				out[i] = out[j]
			}
		}
	}
	return out, nil
}

func (p *Pool) schedule(ctx context.Context, reqs []Request, todo []int, out []eval.Eval) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int, len(todo))
	for _, i := range todo {
		jobs <- i
	}
	tries := make([]int, len(reqs))
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		left     = len(todo)
		done     = make(chan struct{})
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for w := range p.workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				var i int
				select {
				case i = <-jobs:
				case <-done:
					return
				case <-ctx.Done():
					return
				}
				p.mu.Lock()
				worker := p.workers[w]
				p.mu.Unlock()
				r := reqs[i]
				r.ID = i
				resp, err := worker.Do(ctx, r)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					p.mu.Lock()
					tries[i]++
					n := tries[i]
					p.mu.Unlock()
					if n >= MaxTries {
						fail(fmt.Errorf("pool: workers died %d times on one candidate: %v", n, err))
						return
					}
					nw, rerr := p.restart(w)
					if rerr != nil {
						fail(fmt.Errorf("pool: restarting worker %d: %v", w, rerr))
						return
					}
					p.mu.Lock()
					p.workers[w] = nw
					p.Restarts++
					p.mu.Unlock()
					jobs <- i // re-queue; the channel has room for every job
					continue
				}
				if resp.Error != "" {
					fail(errors.New(resp.Error))
					return
				}
				p.mu.Lock()
				p.Computed++
				out[i] = resp.Eval
				p.cache[cacheKey(reqs[i])] = resp.Eval
				left--
				if left == 0 {
					close(done)
				}
				p.mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil && left > 0 {
		return err
	}
	return nil
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
