package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"enmplab/core/bundle"
	"enmplab/core/shard"
)

// defaultShards is where the committed shards live, relative to the repository root.
const (
	defaultShards = "public/shards"
	defaultTuned  = "public/tuned.json"
)

type familyInfo struct {
	Family       string             `json:"family"`
	Architecture shard.Architecture `json:"architecture"`
	Layers       int                `json:"layers"`
	Tasks        int                `json:"tasks"`
	Modules      int                `json:"modules"` // L x T
	MergeLambda  float64            `json:"merge_lambda"`
	TaskInfo     []shard.Task       `json:"task_info"`
	Bytes        int64              `json:"bytes"`
}

func runInfo(args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	dir := fs.String("shards", defaultShards, "shard directory holding manifest.json")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cat, err := bundle.ReadCatalog(*dir)
	if err != nil {
		return err
	}
	var out []familyInfo
	for _, m := range cat.Families {
		fi := familyInfo{Family: m.Family, Architecture: m.Architecture, Layers: m.Architecture.Layers,
			Tasks: len(m.Tasks), Modules: m.Architecture.Layers * len(m.Tasks), MergeLambda: m.MergeLambda, TaskInfo: m.Tasks}
		for _, f := range m.Files {
			fi.Bytes += f.Size
		}
		out = append(out, fi)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"families": out})
	}
	for _, f := range out {
		a := f.Architecture
		fmt.Printf("%s: %d layers x %d tasks = %d modules; width %d, %d heads, MLP %d, LoRA r=%d alpha=%g on %s; %d params, %.2f MFLOP/sample; %.1f KiB of shards\n",
			f.Family, f.Layers, f.Tasks, f.Modules, a.Width, a.Heads, a.MLP, a.LoRARank, a.LoRAAlpha,
			strings.Join(a.TargetModules, ","), a.Params, float64(a.FLOPsPerSample)/1e6, float64(f.Bytes)/1024)
		for _, t := range f.TaskInfo {
			fmt.Printf("  %-15s %2d classes  val %3d test %3d  expert val %.3f test %.3f  (%s)\n",
				t.Name, len(t.Classes), t.NVal, t.NTest, t.Expert.Val, t.Expert.Test, t.Source)
		}
	}
	return nil
}

func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	dir := fs.String("shards", defaultShards, "shard directory holding manifest.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cat, err := bundle.ReadCatalog(*dir)
	if err != nil {
		return err
	}
	for _, m := range cat.Families {
		// Load verifies sizes and checksums, then decodes every tensor against the architecture.
		f, err := bundle.Load(m, bundle.DirOpener(*dir))
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d files verified (SHA-256 and sizes match the manifest; %d tasks decode)\n", m.Family, len(m.Files), len(f.Tasks))
	}
	return nil
}
