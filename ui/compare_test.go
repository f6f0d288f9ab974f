package ui

import (
	"testing"

	"enmplab/core/app"
	"enmplab/core/eval"
)

func TestSideRowsAndExamples(t *testing.T) {
	m := &Model{Info: &app.Info{Tasks: []string{"a", "b"}}}
	if m.SideRows() != nil || m.SideTasks() != nil || m.ExampleCount() != 0 {
		t.Fatal("views before the side by side is computed")
	}
	ev := func(x float64) eval.Eval { return eval.Eval{Normalised: []float64{x, x + 1}, Mean: x + 0.5} }
	m.Side = &app.SideBySide{Pruned: 3, Seed: 42, Unpruned: app.Scores{Val: ev(90), Test: ev(80)},
		ENMP: app.Scores{Val: ev(95), Test: ev(85)}, Random: app.Scores{Val: ev(70), Test: ev(60)}, Draws: make([]app.RandomDraw, 5)}
	rows := m.SideRows()
	if len(rows) != 3 || rows[1].Val != "95.50" || rows[2].Test != "60.50" || rows[1].Pruned != "3" ||
		rows[2].Name != "random pruning (mean of 5, seed 42)" || rows[0].TestTitle != "a 80.0, b 81.0" {
		t.Fatalf("rows %+v", rows)
	}
	if ts := m.SideTasks(); len(ts) != 2 || ts[1].ENMP != "86.0" || ts[0].Random != "60.0" {
		t.Fatalf("tasks %+v", ts)
	}
	m.Examples = &app.Examples{Tasks: []app.TaskExamples{{Task: "a", Fixed: make([]app.Example, 2)}, {Task: "b", Broken: make([]app.Example, 1)}}}
	if m.ExampleCount() != 3 {
		t.Fatalf("%d examples", m.ExampleCount())
	}
	e := app.Example{SampleRef: app.SampleRef{Index: 4}, True: "cat", Unpruned: "dog", ENMP: "cat"}
	if got := ExampleCaption(e); got != "#4 true cat · unpruned dog · ENMP cat" {
		t.Fatal(got)
	}
}
