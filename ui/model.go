// Package ui holds the vugu components of the browser toy and the view
// model they read. Components are small and dumb: they draw a Model and
// forward user actions to Actions; the geometry lives in plain Go methods
// so it is tested natively (go test ./ui).
package ui

//go:generate go tool vugugen -skip-go-mod -skip-main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"enmplab/core/app"
	"enmplab/core/enmp"
	"enmplab/core/eval"
	"enmplab/core/search"
)

// Actions is what the views can ask for; implementations must not block.
type Actions interface {
	Command(cmd string)                   // "run", "pause", "step", "reset"
	Set(key, value string)                // change one setting (a URL-hash key)
	Toggle(layer, task int)               // flip one module of the hand-edited mask and score it
	Select(layer, task int, measure bool) // show a module's card; measure: score its leave-one-out mask
	Export(kind string)                   // download "mask", "log-csv", "log-json", "adapter", "adapter-config"
}

// Hand is the mask the user edits by clicking modules, and its score.
type Hand struct {
	Mask    search.Mask
	Eval    *eval.Eval // nil while pending
	Pending bool
	Err     string
}

// Card is the module card: one (layer, task) module.
type Card struct {
	Layer, Task int
	LOO         *eval.Eval // fitness of pruning this module alone, when known
	Pending     bool
}

// FileProgress is one shard being loaded.
type FileProgress struct {
	Name        string
	Done, Total int64
	Err         string
}

// Model is everything the views draw.
type Model struct {
	State    app.State
	Phase    string // "loading", "ready", "running", "paused", "done", "error"
	Status   string
	Error    string
	Files    []FileProgress
	Info     *app.Info
	Gens     []app.Gen
	Report   *enmp.Report
	Side     *app.SideBySide // once the search has ended
	Examples *app.Examples   // once the search has ended
	Workers  int
	ViewGen  int // generation shown by the population view; -1: the latest
	Do       Actions
	Hand     *Hand
	Card     *Card
	Tour     int // step of the guided tour shown; -1: closed
}

// CardText describes the selected module: layer, task, the norm of its
// Delta W and its leave-one-out effect when known.
func (m *Model) CardText() []string {
	c := m.Card
	if c == nil || m.Info == nil || c.Task >= len(m.Info.Tasks) {
		return nil
	}
	T := len(m.Info.Tasks)
	out := []string{fmt.Sprintf("layer %d, task %s (index %d)", c.Layer, m.Info.Tasks[c.Task], c.Layer*T+c.Task)}
	if i := c.Layer*T + c.Task; i < len(m.Info.Norms) {
		out = append(out, fmt.Sprintf("||Delta W|| = %.4f (Frobenius, q+k+v+o)", m.Info.Norms[i]))
	}
	switch {
	case c.LOO != nil:
		out = append(out, fmt.Sprintf("pruning it alone: %.2f (%+.3f vs unpruned)", c.LOO.Mean, c.LOO.Mean-m.Base()))
	case c.Pending:
		out = append(out, "pruning it alone: measuring...")
	default:
		out = append(out, "pruning it alone: click the module to measure")
	}
	if g := m.Shown(); g != nil && T > 0 && len(g.Freq) == m.Info.Layers*T {
		out = append(out, fmt.Sprintf("pruned by %.0f%% of the shown generation", 100*g.Freq[c.Layer*T+c.Task]))
	}
	return out
}

// HandFit formats the hand mask's score.
func (m *Model) HandFit() string {
	h := m.Hand
	switch {
	case h == nil:
		return ""
	case h.Err != "":
		return "error: " + h.Err
	case h.Pending || h.Eval == nil:
		return fmt.Sprintf("%d modules pruned: evaluating...", h.Mask.Count())
	}
	return fmt.Sprintf("%d modules pruned: %.2f (%+.2f vs unpruned)", h.Mask.Count(), h.Eval.Mean, h.Eval.Mean-m.Base())
}

// TourStep is one step of the guided tour: a text and the view it points at.
type TourStep struct{ Target, Text string }

// Tour is the guided tour.
var Tour = []TourStep{
	{"population", "Each square grid is one candidate mask: rows are layers, columns are tasks, dark red modules are left out of the merge. The search (CMA-ES) proposes a population of masks every generation; the framed one scores best."},
	{"curve", "Fitness is the mean normalised validation accuracy of the merged model (100 = as good as each expert on its own task). The green line is the best mask so far, grey the unpruned merge."},
	{"heatmap", "The heatmap shows how often each module is pruned in the shown generation: modules the search keeps dropping are the ones that interfere."},
	{"tools", "Click any module to open its card (size of its Delta W, effect of pruning it alone) and to flip it in your own mask, scored at once. Exports give the mask, the run log and the merged adapter."},
	{"bars", "When the search ends, the table shows test accuracy per task: expert, unpruned merge and the best ENMP mask, measured once on held-out data."},
}

// TourShown is the current tour step, or nil when closed or hidden.
func (m *Model) TourShown() *TourStep {
	if m.State.Hidden("tour") || m.Tour < 0 || m.Tour >= len(Tour) {
		return nil
	}
	return &Tour[m.Tour]
}

// TourCls is the class of view name: highlighted when the tour points at it.
func (m *Model) TourCls(name string) string {
	if t := m.TourShown(); t != nil && t.Target == name {
		return "view tour-target"
	}
	return "view"
}

// CellCls is a module square's class in a grid.
func (m *Model) CellCls(cell Cell) string {
	c := "mod"
	if cell.Pruned {
		c += " pruned"
	}
	if m.Card != nil && m.Card.Layer == cell.Layer && m.Card.Task == cell.Task {
		c += " sel"
	}
	return c
}

// Shown is the generation the population view shows, or nil.
func (m *Model) Shown() *app.Gen {
	if len(m.Gens) == 0 {
		return nil
	}
	if m.ViewGen < 0 || m.ViewGen >= len(m.Gens) {
		return &m.Gens[len(m.Gens)-1]
	}
	return &m.Gens[m.ViewGen]
}

// ShownIndex is the index of Shown (or -1).
func (m *Model) ShownIndex() int {
	if g := m.Shown(); g != nil {
		return g.Gen
	}
	return -1
}

// Base is the unpruned merge's mean normalised validation accuracy.
func (m *Model) Base() float64 {
	if m.Info == nil {
		return 0
	}
	return m.Info.Baseline.Mean
}

// Pct formats a file's progress.
func (f FileProgress) Pct() string {
	if f.Total <= 0 {
		return "0"
	}
	return strconv.FormatInt(100*f.Done/f.Total, 10)
}

// Field is one control of the settings panel.
type Field struct {
	Key, Label string
	Kind       string // "select", "number", "checkbox"
	Options    []string
	Value      string
	Step       string
	Help       string
}

// Fields lists the visible controls with their current values.
func (m *Model) Fields() []Field {
	s := m.State
	all := []Field{
		{Key: "family", Label: "family", Kind: "select", Options: []string{"vision", "text"}, Help: "which bundled model family"},
		{Key: "method", Label: "merge method", Kind: "select", Options: enmp.Methods(), Help: "how surviving LoRA experts are merged"},
		{Key: "lambda", Label: "lambda (0: tuned)", Kind: "number", Step: "0.05", Help: "scale of the merged delta"},
		{Key: "topk_merge", Label: "merge top-K (0: tuned)", Kind: "number", Step: "0.05", Help: "TIES trim fraction"},
		{Key: "drop", Label: "drop rate (<0: tuned)", Kind: "number", Step: "0.05", Help: "DARE drop probability"},
		{Key: "searcher", Label: "searcher", Kind: "select", Options: enmp.Searchers, Help: "how masks are proposed"},
		{Key: "pop", Label: "population", Kind: "number", Step: "1"},
		{Key: "iters", Label: "iterations", Kind: "number", Step: "1"},
		{Key: "sigma0", Label: "sigma0", Kind: "number", Step: "0.05"},
		{Key: "topk", Label: "prune ceiling", Kind: "number", Step: "0.05", Help: "at most this fraction of modules is pruned"},
		{Key: "val", Label: "val samples/task (0: all)", Kind: "number", Step: "1"},
		{Key: "proj", Label: "per projection", Kind: "checkbox", Help: "one unit per (layer, task, projection)"},
		{Key: "seed", Label: "seed", Kind: "number", Step: "1"},
		{Key: "workers", Label: "workers (0: one per core)", Kind: "number", Step: "1"},
	}
	var out []Field
	for _, f := range all {
		if s.Hidden(f.Key) {
			continue
		}
		f.Value = s.Value(f.Key)
		out = append(out, f)
	}
	return out
}

// IsSelected says whether option o is the field's value.
func (f Field) IsSelected(o string) bool { return f.Value == o }

// Cell is one module of a candidate's grid.
type Cell struct {
	X, Y, W, H  int
	Layer, Task int
	Pruned      bool
	Title       string
}

// CellSize is the side of one module square in pixels.
const CellSize = 14

// Grid lays out mask m as Layers rows by Tasks columns; a module with any
// pruned unit is marked pruned.
func (m *Model) Grid(mask search.Mask) []Cell {
	var out []Cell
	for l := 0; l < mask.Layers; l++ {
		for t := 0; t < mask.Tasks; t++ {
			p := false
			if mask.Projs == 0 {
				p = mask.Get(l, t)
			} else {
				for q := 0; q < mask.Projs; q++ {
					p = p || mask.Pruned(l, t, q)
				}
			}
			name := fmt.Sprint(t)
			if m.Info != nil && t < len(m.Info.Tasks) {
				name = m.Info.Tasks[t]
			}
			title := fmt.Sprintf("layer %d, task %s", l, name)
			if p {
				title += ": pruned"
			}
			out = append(out, Cell{X: t * CellSize, Y: l * CellSize, W: CellSize - 1, H: CellSize - 1, Layer: l, Task: t, Pruned: p, Title: title})
		}
	}
	return out
}

// GridW and GridH are a mask grid's size in pixels.
func (m *Model) GridW() int {
	if m.Info == nil {
		return 0
	}
	return len(m.Info.Tasks) * CellSize
}

// GridH is the grid height in pixels.
func (m *Model) GridH() int {
	if m.Info == nil {
		return 0
	}
	return m.Info.Layers * CellSize
}

// Fit formats a result's fitness as mean normalised accuracy and gain.
func (m *Model) Fit(r search.Result) string {
	return fmt.Sprintf("%.2f (%+.2f)", m.Base()+r.Fitness, r.Fitness)
}

// IsBest says whether r is the best of its generation.
func IsBest(g *app.Gen, r search.Result) bool {
	for _, o := range g.Results {
		if o.Fitness > r.Fitness {
			return false
		}
	}
	return true
}

// Curve geometry.
const (
	CurveW, CurveH = 520, 220
	padL, padR     = 48, 12
	padT, padB     = 10, 30
)

// Tick is an axis label.
type Tick struct {
	X, Y  int
	Label string
}

// CurveData holds the polylines of the convergence curve.
type CurveData struct {
	Best, Mean, Base string // SVG points
	XTicks, YTicks   []Tick
	X0, X1, Y0, Y1   int // plot area
}

// Curve plots best-so-far, population mean and the unpruned baseline (mean
// normalised validation accuracy) against evaluations.
func (m *Model) Curve() CurveData {
	d := CurveData{X0: padL, X1: CurveW - padR, Y0: padT, Y1: CurveH - padB}
	if len(m.Gens) == 0 || m.Info == nil {
		return d
	}
	base := m.Base()
	lo, hi := base, base
	for _, g := range m.Gens {
		lo = math.Min(lo, base+g.Mean)
		hi = math.Max(hi, base+g.Best.Fitness)
	}
	if hi-lo < 1 {
		hi, lo = hi+0.5, lo-0.5
	}
	maxE := float64(m.Gens[len(m.Gens)-1].Evals)
	if n := len(m.Gens); n > 0 {
		if t := m.total(); t > n {
			maxE = maxE / float64(n) * float64(t)
		}
	}
	x := func(e float64) int { return d.X0 + int(math.Round(e/maxE*float64(d.X1-d.X0))) }
	y := func(v float64) int { return d.Y1 - int(math.Round((v-lo)/(hi-lo)*float64(d.Y1-d.Y0))) }
	var b, mn strings.Builder
	for _, g := range m.Gens {
		fmt.Fprintf(&b, "%d,%d ", x(float64(g.Evals)), y(base+g.Best.Fitness))
		fmt.Fprintf(&mn, "%d,%d ", x(float64(g.Evals)), y(base+g.Mean))
	}
	d.Best, d.Mean = strings.TrimSpace(b.String()), strings.TrimSpace(mn.String())
	d.Base = fmt.Sprintf("%d,%d %d,%d", d.X0, y(base), d.X1, y(base))
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		d.YTicks = append(d.YTicks, Tick{X: d.X0 - 4, Y: y(v) + 4, Label: fmt.Sprintf("%.1f", v)})
		e := maxE * float64(i) / 4
		d.XTicks = append(d.XTicks, Tick{X: x(e), Y: d.Y1 + 16, Label: fmt.Sprintf("%.0f", e)})
	}
	return d
}

func (m *Model) total() int {
	switch m.State.Searcher {
	case "cmaes", "random", "ga":
		return m.State.Iterations
	}
	return 0
}

// Freq returns the pruning frequency of every module in the shown
// generation, as cells whose opacity is the frequency.
func (m *Model) Heat() []HeatCell {
	g := m.Shown()
	if g == nil || m.Info == nil {
		return nil
	}
	T := len(m.Info.Tasks)
	var out []HeatCell
	for i, f := range g.Freq {
		l, t := i/T, i%T
		out = append(out, HeatCell{X: t * CellSize, Y: l * CellSize, Opacity: fmt.Sprintf("%.2f", f),
			Title: fmt.Sprintf("layer %d, task %s: pruned in %.0f%% of the population", l, m.Info.Tasks[t], 100*f)})
	}
	return out
}

// HeatCell is one module of the heatmap.
type HeatCell struct {
	X, Y    int
	Opacity string
	Title   string
}

// HandMask is the hand-edited mask, or the best so far before any edit.
func (m *Model) HandMask() search.Mask {
	if m.Hand != nil {
		return m.Hand.Mask
	}
	if n := len(m.Gens); n > 0 {
		return m.Gens[n-1].Best.Mask
	}
	if m.Info != nil {
		sp := m.Info.Space
		if sp.Projs > 0 {
			return search.NewProjMask(sp.Layers, sp.Tasks, sp.Projs)
		}
		return search.NewMask(sp.Layers, sp.Tasks)
	}
	return search.Mask{}
}
