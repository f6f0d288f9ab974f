package app

import (
	"context"

	"enmplab/core/enmp"
)

// Snapshot is what the views get after every change: the session's
// history so far (append-only, safe to keep), the phase and the outcome.
type Snapshot struct {
	Phase  string // "ready", "running", "paused", "done", "error"
	Gens   []Gen
	Title  string
	Report *enmp.Report // set once the search has ended
	// Side and Examples follow the report (nil until computed).
	Side     *SideBySide
	Examples *Examples
	Err      error
}

// Driver runs a session on commands: "run", "pause", "step", "reset".
// Its Loop is the only goroutine touching the session; Send never blocks,
// so a UI event handler can call it.
type Driver struct {
	cmds       chan string
	sess       *Session
	newSession func() (*Session, error)
	update     func(Snapshot)
	save       func(checkpoint []byte) // nil data: forget the checkpoint
	final      Snapshot                // report, side by side, examples of the finished session
}

// NewDriver drives s; fresh builds a new session on reset; update is told
// of every change; save (may be nil) receives a checkpoint after each generation.
func NewDriver(s *Session, fresh func() (*Session, error), update func(Snapshot), save func([]byte)) *Driver {
	if save == nil {
		save = func([]byte) {}
	}
	return &Driver{cmds: make(chan string, 64), sess: s, newSession: fresh, update: update, save: save}
}

// Send queues a command; when the queue is full the command is dropped.
func (d *Driver) Send(cmd string) {
	select {
	case d.cmds <- cmd:
	default:
	}
}

func (d *Driver) snap(phase string, err error) Snapshot {
	s := d.sess
	return Snapshot{Phase: phase, Gens: s.Gens[:len(s.Gens):len(s.Gens)], Title: s.Title(), Err: err,
		Report: d.final.Report, Side: d.final.Side, Examples: d.final.Examples}
}

// Loop runs until ctx ends.
func (d *Driver) Loop(ctx context.Context) {
	running := false
	phase := func() string {
		switch {
		case d.sess.Done():
			return "done"
		case running:
			return "running"
		case len(d.sess.Gens) > 0:
			return "paused"
		}
		return "ready"
	}
	step := func() bool {
		if err := d.sess.Step(ctx); err != nil {
			running = false
			d.update(d.snap("error", err))
			return false
		}
		if ck, err := d.sess.Checkpoint(); err == nil {
			d.save(ck)
		}
		if d.sess.Done() {
			running = false
			d.finish(ctx)
			return true
		}
		d.update(d.snap(phase(), nil))
		return true
	}
	if d.sess.Done() && len(d.sess.Gens) > 0 {
		d.finish(ctx)
	} else {
		d.update(d.snap(phase(), nil))
	}
	for {
		var cmd string
		if running {
			select {
			case cmd = <-d.cmds:
			case <-ctx.Done():
				return
			default:
				step()
				continue
			}
		} else {
			select {
			case cmd = <-d.cmds:
			case <-ctx.Done():
				return
			}
		}
		switch cmd {
		case "run":
			if !d.sess.Done() {
				running = true
				d.update(d.snap(phase(), nil))
			}
		case "pause":
			running = false
			d.update(d.snap(phase(), nil))
		case "step":
			running = false
			if !d.sess.Done() {
				step()
			}
		case "reset":
			running = false
			s, err := d.newSession()
			if err != nil {
				d.update(d.snap("error", err))
				continue
			}
			d.sess, d.final = s, Snapshot{}
			d.save(nil)
			d.update(d.snap(phase(), nil))
		}
	}
}

// finish reports a finished session: the report first, then the
// side-by-side view, then the examples, each as soon as it is computed.
func (d *Driver) finish(ctx context.Context) {
	r, err := d.sess.Report(ctx)
	d.final.Report = r
	sn := d.snap("done", err)
	if err != nil {
		sn.Phase = "error"
		d.update(sn)
		return
	}
	d.update(sn)
	side, err := d.sess.SideBySide(ctx)
	d.final.Side = side
	if ctx.Err() != nil {
		return
	}
	d.update(d.snap("done", err))
	ex, err := d.sess.Examples(ctx, ExamplesPerTask)
	d.final.Examples = ex
	if ctx.Err() != nil {
		return
	}
	d.update(d.snap("done", err))
}
