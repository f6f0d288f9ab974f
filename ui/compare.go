package ui

import (
	"fmt"
	"strings"

	"enmplab/core/app"
	"enmplab/core/eval"
)

// SideRow is one merge of the side-by-side view: mean normalised accuracy
// on validation and test, with the per-task numbers as hover titles.
type SideRow struct {
	ID, Name, Pruned    string
	Val, Test           string
	ValTitle, TestTitle string
}

// SideRows lays out the side-by-side view (nil until it is computed).
func (m *Model) SideRows() []SideRow {
	s := m.Side
	if s == nil || m.Info == nil {
		return nil
	}
	mk := func(id, name, pruned string, sc app.Scores) SideRow {
		return SideRow{ID: id, Name: name, Pruned: pruned, Val: fmt.Sprintf("%.2f", sc.Val.Mean), Test: fmt.Sprintf("%.2f", sc.Test.Mean),
			ValTitle: m.perTask(sc.Val), TestTitle: m.perTask(sc.Test)}
	}
	n := fmt.Sprint(s.Pruned)
	return []SideRow{
		mk("side-unpruned", "unpruned merge", "0", s.Unpruned),
		mk("side-enmp", "ENMP best mask", n, s.ENMP),
		mk("side-random", fmt.Sprintf("random pruning (mean of %d, seed %d)", len(s.Draws), s.Seed), n, s.Random),
	}
}

// perTask is a hover title: each task's normalised accuracy.
func (m *Model) perTask(e eval.Eval) string {
	var parts []string
	for i, v := range e.Normalised {
		if i < len(m.Info.Tasks) {
			parts = append(parts, fmt.Sprintf("%s %.1f", m.Info.Tasks[i], v))
		}
	}
	return strings.Join(parts, ", ")
}

// SideTask is one task's row of the side-by-side view's per-task table
// (normalised test accuracy).
type SideTask struct {
	Task                   string
	Unpruned, ENMP, Random string
}

// SideTasks lists per-task normalised test accuracy of the three merges.
func (m *Model) SideTasks() []SideTask {
	s := m.Side
	if s == nil || m.Info == nil {
		return nil
	}
	var out []SideTask
	for i, t := range m.Info.Tasks {
		if i >= len(s.Unpruned.Test.Normalised) || i >= len(s.ENMP.Test.Normalised) || i >= len(s.Random.Test.Normalised) {
			break
		}
		out = append(out, SideTask{Task: t, Unpruned: fmt.Sprintf("%.1f", s.Unpruned.Test.Normalised[i]),
			ENMP: fmt.Sprintf("%.1f", s.ENMP.Test.Normalised[i]), Random: fmt.Sprintf("%.1f", s.Random.Test.Normalised[i])})
	}
	return out
}

// ExampleCount says how many examples the examples view shows in all.
func (m *Model) ExampleCount() int {
	if m.Examples == nil {
		return 0
	}
	n := 0
	for _, t := range m.Examples.Tasks {
		n += len(t.Fixed) + len(t.Broken)
	}
	return n
}

// ExampleHead is one task's heading in the examples view.
func ExampleHead(t app.TaskExamples) string {
	return fmt.Sprintf("%s: %d fixed, %d broken of %d test samples", t.Task, t.NFixed, t.NBroken, t.Samples)
}

// ExampleCaption is one example's caption.
func ExampleCaption(e app.Example) string {
	return fmt.Sprintf("#%d true %s · unpruned %s · ENMP %s", e.Index, e.True, e.Unpruned, e.ENMP)
}
