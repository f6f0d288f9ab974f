package recipe

import (
	"bytes"
	"testing"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/shard"
)

// shippedTasks returns the committed validation data of a family as small
// training pools (the raw registry data is not in the repository).
func shippedTasks(t *testing.T, f data.Family) []data.Task {
	t.Helper()
	fam, err := bundle.LoadDir("../../public/shards", string(f))
	if err != nil {
		t.Fatalf("committed shards: %v", err)
	}
	var tasks []data.Task
	for _, task := range fam.Tasks {
		task.Train = task.Val
		task.Val = task.Val.Head(16, data.SampleSize(f))
		task.Test = task.Test.Head(16, data.SampleSize(f))
		tasks = append(tasks, task)
	}
	return tasks
}

// TestRecipeIsReproducible runs the whole recipe twice on a small
// configuration and requires byte-identical shards.
func TestRecipeIsReproducible(t *testing.T) {
	for _, f := range []data.Family{data.Vision, data.Text} {
		t.Run(string(f), func(t *testing.T) {
			tasks := shippedTasks(t, f)
			encode := func() map[string][]byte {
				res, err := Run(f, tasks, Small(f), nil)
				if err != nil {
					t.Fatal(err)
				}
				files, err := bundle.Encode(res.Bundle(f, tasks, []shard.Provenance{{Name: "test", Licence: "test"}}))
				if err != nil {
					t.Fatal(err)
				}
				return files
			}
			a, b := encode(), encode()
			if len(a) != len(b) || len(a) < 5 {
				t.Fatalf("%d vs %d files", len(a), len(b))
			}
			for name, x := range a {
				if !bytes.Equal(x, b[name]) {
					t.Fatalf("%s differs between two runs of the same recipe", name)
				}
			}
		})
	}
}

func TestTransformsAreInvertibleShapes(t *testing.T) {
	x := make([]uint8, data.SampleSize(data.Vision))
	for i := range x {
		x[i] = uint8(i * 7)
	}
	y := append([]uint8(nil), x...)
	rotate(y, 4) // four quarter turns is the identity
	if !bytes.Equal(x, y) {
		t.Fatal("four rotations must give the image back")
	}
	rotate(y, 1)
	if bytes.Equal(x, y) {
		t.Fatal("one rotation must change a non-symmetric image")
	}
	txt := []byte("Hello, world\x00\x00")
	rewrite(txt, 1, nil)
	if string(txt[:12]) != "dlrow ,olleH" || txt[12] != 0 {
		t.Fatalf("reversal: %q", txt)
	}
}
