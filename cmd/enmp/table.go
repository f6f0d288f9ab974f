package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"enmplab/core/bundle"
	"enmplab/core/train"
	"enmplab/smallmodels/recipe"
)

type tableRow struct {
	Task         string  `json:"task"`
	Classes      int     `json:"classes"`
	Expert       float64 `json:"expert_test"`
	Probe        float64 `json:"linear_probe_test"`
	Merged       float64 `json:"merged_test"`
	MergedNormed float64 `json:"merged_normalised"`
}

type tableOut struct {
	Family       string     `json:"family"`
	MergeLambda  float64    `json:"merge_lambda"`
	Rows         []tableRow `json:"rows"`
	AvgExpert    float64    `json:"avg_expert_test"`
	AvgProbe     float64    `json:"avg_linear_probe_test"`
	AvgMerged    float64    `json:"avg_merged_test"`
	AvgNormed    float64    `json:"avg_merged_normalised"`
	ProbeBeaten  int        `json:"tasks_where_expert_beats_probe"`
	RecomputedOK bool       `json:"recomputed_matches_manifest"`
}

// runTable recomputes each expert's and the task-arithmetic merge's test
// accuracy from the shards (lambda as chosen on validation at training
// time) and takes the linear probe's, whose heads are not shipped, from the manifest.
func runTable(args []string) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	dir := fs.String("shards", defaultShards, "shard directory holding manifest.json")
	family := fs.String("family", "all", "vision, text or all")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cat, err := bundle.ReadCatalog(*dir)
	if err != nil {
		return err
	}
	var outs []tableOut
	for _, m := range cat.Families {
		if *family != "all" && *family != m.Family {
			continue
		}
		fam, err := bundle.Load(m, bundle.DirOpener(*dir))
		if err != nil {
			return err
		}
		var experts []recipe.Expert
		for i := range fam.Tasks {
			experts = append(experts, recipe.Expert{LoRA: fam.Experts[i], Head: fam.Heads[i]})
		}
		merged := recipe.TaskArithmetic(fam.Backbone, experts, m.MergeLambda)
		o := tableOut{Family: m.Family, MergeLambda: m.MergeLambda, RecomputedOK: true}
		for i, t := range fam.Tasks {
			e := train.Accuracy(fam.Experts[i].Apply(fam.Backbone, 1), fam.Heads[i], t.Test)
			mg := train.Accuracy(merged, fam.Heads[i], t.Test)
			mt := m.Tasks[i]
			if e != mt.Expert.Test || (mt.Merged != nil && mg != mt.Merged.Test) {
				o.RecomputedOK = false
			}
			r := tableRow{Task: t.Name, Classes: len(t.Classes), Expert: e, Probe: mt.LinearProbe.Test, Merged: mg,
				MergedNormed: recipe.Normalised(mg, e)}
			if r.Expert > r.Probe {
				o.ProbeBeaten++
			}
			o.Rows = append(o.Rows, r)
			n := float64(len(fam.Tasks))
			o.AvgExpert += e / n
			o.AvgProbe += r.Probe / n
			o.AvgMerged += mg / n
			o.AvgNormed += r.MergedNormed / n
		}
		outs = append(outs, o)
	}
	if len(outs) == 0 {
		return fmt.Errorf("no family %q in %s", *family, *dir)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(outs)
	}
	for _, o := range outs {
		fmt.Printf("\n%s (test accuracy; task-arithmetic lambda %.2f chosen on validation)\n\n", o.Family, o.MergeLambda)
		fmt.Println("| task | classes | expert | linear probe | TA merge | TA merge, normalised |")
		fmt.Println("|---|---:|---:|---:|---:|---:|")
		for _, r := range o.Rows {
			fmt.Printf("| %s | %d | %.3f | %.3f | %.3f | %.1f |\n", r.Task, r.Classes, r.Expert, r.Probe, r.Merged, r.MergedNormed)
		}
		fmt.Printf("| **average** | | %.3f | %.3f | %.3f | **%.1f** |\n", o.AvgExpert, o.AvgProbe, o.AvgMerged, o.AvgNormed)
		fmt.Printf("\nexpert beats linear probe on %d of %d tasks", o.ProbeBeaten, len(o.Rows))
		if !o.RecomputedOK {
			fmt.Print("; WARNING: recomputed accuracies differ from the manifest's")
		}
		fmt.Println()
	}
	return nil
}
