package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"enmplab/core/data"
)

func rawDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "raw")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("smallmodels/raw not present (run ./build.sh data or smallmodels/fetch.sh to test the data builders): %v", err)
	}
	return dir
}

func TestMissingRawIsClear(t *testing.T) {
	_, err := Build(data.Text, t.TempDir())
	if err == nil {
		t.Fatal("Build on an empty raw dir succeeded")
	}
	if !bytes.Contains([]byte(err.Error()), []byte("build.sh data")) {
		t.Fatalf("error does not tell the user what to run: %v", err)
	}
}

func TestProvenance(t *testing.T) {
	for _, f := range []data.Family{data.Vision, data.Text} {
		ps := Provenance(f)
		if len(ps) == 0 {
			t.Fatalf("%s: no provenance", f)
		}
		for _, s := range ps {
			if s.Name == "" || s.Package == "" || s.Licence == "" || s.URL == "" {
				t.Errorf("%s: incomplete source %+v", f, s)
			}
		}
	}
}

func TestBuild(t *testing.T) {
	raw := rawDir(t)
	for _, f := range []data.Family{data.Vision, data.Text} {
		resetCaches()
		a, err := BuildDetailed(f, raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 8 {
			t.Fatalf("%s: %d tasks, want 8", f, len(a))
		}
		names := TaskNames(f)
		for i, b := range a {
			task := b.Task
			if task.Name != names[i] {
				t.Errorf("%s task %d is %s, want %s", f, i, task.Name, names[i])
			}
			if err := task.Validate(f); err != nil {
				t.Error(err)
			}
			if task.Val.Len() != ValSize || task.Test.Len() != TestSize || task.Train.Len() == 0 || task.Train.Len() > TrainMax {
				t.Errorf("%s: split sizes %d/%d/%d", task.Name, task.Train.Len(), task.Val.Len(), task.Test.Len())
			}
			if len(b.TrainGroups) != task.Train.Len() || len(b.ValGroups) != task.Val.Len() || len(b.TestGroups) != task.Test.Len() {
				t.Errorf("%s: group keys do not match samples", task.Name)
			}
			in := func(keys []string) map[string]bool {
				m := map[string]bool{}
				for _, k := range keys {
					m[k] = true
				}
				return m
			}
			tr, va, te := in(b.TrainGroups), in(b.ValGroups), in(b.TestGroups)
			for k := range va {
				if tr[k] || te[k] {
					t.Errorf("%s: group %q of val also in train or test", task.Name, k)
				}
			}
			for k := range te {
				if tr[k] {
					t.Errorf("%s: group %q of test also in train", task.Name, k)
				}
			}
			// Every class is present in test.
			seen := make([]bool, len(task.Classes))
			for _, y := range task.Test.Y {
				seen[y] = true
			}
			for c, ok := range seen {
				if !ok {
					t.Errorf("%s: class %q missing from test", task.Name, task.Classes[c])
				}
			}
		}
		resetCaches()
		b, err := Build(f, raw)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			if !reflect.DeepEqual(a[i].Task, b[i]) {
				t.Errorf("%s: task %s differs between two builds", f, b[i].Name)
			}
		}
	}
}

func TestCacheRoundTrip(t *testing.T) {
	tasks := []data.Task{{Name: "x", Classes: []string{"a", "b"}, Source: "s",
		Train: data.Split{X: make([]byte, 2*data.TextLen), Y: []int32{0, 1}}}}
	p := filepath.Join(t.TempDir(), "c", "text.gob")
	if err := SaveCache(p, tasks); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCache(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[0].Train, tasks[0].Train) || got[0].Name != "x" {
		t.Fatalf("round trip mismatch: %+v", got)
	}
}
