// Command enmp is ENMP Lab's native CLI: it trains and inspects the shipped
// model shards and runs the module-pruning search. It only wires flags and
// files to the core packages, where all logic lives.
package main

import (
	"fmt"
	"os"
	"sort"
)

type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{
	"info":    {"list families, tasks, classes, modules and expert accuracies from the manifest", runInfo},
	"verify":  {"check every shard's size and SHA-256 against the manifest and decode it", runVerify},
	"table":   {"expert / linear probe / task-arithmetic merge accuracies per task", runTable},
	"results": {"every method x family x seed: unpruned vs ENMP vs random pruning on test (README table)", runResults},
	"search":  {"run ENMP: search the modules to prune before merging", runSearch},
	"tune":    {"choose each merge method's lambda, top-K and drop rate on validation", runTune},
	"train":   {"train a family from its task pools and write its shards (./build.sh shards)", runTrain},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: enmp <command> [flags]\n\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'enmp <command> -h' for its flags")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		if os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
			usage()
			return
		}
		fmt.Fprintf(os.Stderr, "enmp: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "enmp "+os.Args[1]+": "+err.Error())
		os.Exit(1)
	}
}
