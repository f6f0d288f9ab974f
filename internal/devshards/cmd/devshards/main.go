// Command devshards writes a throwaway random family for development:
// go run ./internal/devshards/cmd/devshards -out /tmp/shards
package main

import (
	"flag"
	"fmt"
	"os"

	"enmplab/core/data"
	"enmplab/internal/devshards"
)

func main() {
	out := flag.String("out", "", "output directory (required)")
	fam := flag.String("family", "vision", "vision or text")
	tasks := flag.Int("tasks", 4, "tasks")
	val := flag.Int("val", 64, "validation samples per task")
	test := flag.Int("test", 64, "test samples per task")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "devshards: -out is required")
		os.Exit(2)
	}
	err := devshards.Write(*out, devshards.Options{Family: data.Family(*fam), Tasks: *tasks, Val: *val, Test: *test, Classes: 4, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "devshards:", err)
		os.Exit(1)
	}
}
